// Command quickstart is the README's quick start: against scripts/devnet it
// makes a fresh key, prints both forms of its address, sends it 1.5VCN from
// the devnet's alice, posts a text-generation job, waits for it to settle,
// prints the hash-checked output and the worker's reputation.
//
//	go run ./examples/quickstart                       # the devnet's default ports
//	go run ./examples/quickstart -rpc http://127.0.0.1:26657 -rest http://127.0.0.1:1317
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/vcoin/vcoin/sdk/go/vcoin"
)

func main() {
	rpc := flag.String("rpc", "http://127.0.0.1:26657", "node RPC")
	rest := flag.String("rest", "http://127.0.0.1:1317", "node REST and artifacts")
	flag.Parse()
	ctx := context.Background()

	client, err := vcoin.NewClient(vcoin.ClientOptions{RPC: *rpc, REST: *rest})
	if err != nil {
		log.Fatal(err)
	}
	alice := vcoin.DevKey("alice") // a devnet key: its seed is public

	mnemonic, me, err := vcoin.NewKey() // 24 words, m/44'/118'/0'/0/0
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("mnemonic:", mnemonic)
	fmt.Println("address: ", me.Bech32(), me.EIP55()) // both forms of one account

	res, err := client.Send(ctx, alice, me.EIP55(), "1.5VCN", vcoin.TxOptions{}) // either form; fee by simulation
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("sent 1.5VCN in block %d (tx %s, gas %d of %d)\n", res.Height, res.Hash, res.GasUsed, res.GasWanted)
	balances, err := client.Balances(ctx, me.Bech32())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("balances:", balances)

	_, jobID, err := client.PostJob(ctx, alice, vcoin.PostJob{
		TaskType: "text-generation", Model: "tiny-lm", MaxPrice: "2VCN",
		Input:    []byte(`{"prompts": ["The GPU marketplace"]}`),
		SpecJSON: map[string]any{"params": map[string]any{"max_new_tokens": 16}},
	}, vcoin.TxOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("job", jobID, "posted; waiting for a worker")
	job, err := client.WaitForJob(ctx, jobID, vcoin.WaitJobOptions{Timeout: 5 * time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("job", jobID, job.State, "paid", job.Paid, "avcn")
	out, err := client.JobOutput(ctx, job, alice) // GET /artifacts/{sha256} signed by the poster, hash-checked
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("output:", string(out))
	rep, err := client.Reputation(ctx, job.Worker)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("worker %s: reputation %s (%s of %s jobs)\n", job.Worker, rep.Score, rep.Successes, rep.Total)
}
