// Command bench-sends measures signed bank sends per second from one process
// with the Go SDK: gas is simulated once, then -count sends of 1 avcn are
// signed and broadcast back to back (broadcast_tx_sync; the client counts the
// sender's sequence itself), and every hash is waited for at the end.
//
// The figure is sends that were in a block, divided by the seconds from the
// first broadcast until the last one was in a block. The last line of output
// is {"sent": N, "seconds": S, ...}, what scripts/bench/sdk_sends.py --sdk go reads.
//
//	go run ./cmd/bench-sends -rpc http://127.0.0.1:26657 -rest http://127.0.0.1:1317 \
//	    -mnemonic "…" -count 1000
//
// Flags default to the environment: VCOIN_SDK_RPC, VCOIN_SDK_REST,
// VCOIN_SDK_CHAIN_ID, VCOIN_SDK_MNEMONIC (or VCOIN_SDK_PRIVATE_KEY, hex),
// VCOIN_SDK_TO, VCOIN_SDK_COUNT.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/vcoin/vcoin/sdk/go/vcoin"
	"google.golang.org/protobuf/types/known/anypb"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func main() {
	count, _ := strconv.Atoi(env("VCOIN_SDK_COUNT", "1000"))
	rpc := flag.String("rpc", env("VCOIN_SDK_RPC", "http://127.0.0.1:26657"), "node RPC URL")
	rest := flag.String("rest", env("VCOIN_SDK_REST", "http://127.0.0.1:1317"), "node REST URL")
	chainID := flag.String("chain-id", env("VCOIN_SDK_CHAIN_ID", ""), "expected chain id (optional)")
	mnemonic := flag.String("mnemonic", env("VCOIN_SDK_MNEMONIC", ""), "the funded sender's mnemonic")
	privHex := flag.String("private-key", env("VCOIN_SDK_PRIVATE_KEY", ""), "or its private key in hex")
	to := flag.String("to", env("VCOIN_SDK_TO", "vcoin1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqlat08p"), "recipient (either address form)")
	flag.IntVar(&count, "count", count, "sends")
	timeout := flag.Duration("timeout", 2*time.Minute, "how long to wait for the last send's block")
	flag.Parse()
	if err := run(*rpc, *rest, *chainID, *mnemonic, *privHex, *to, count, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "bench-sends:", err)
		os.Exit(1)
	}
}

func run(rpc, rest, chainID, mnemonic, privHex, to string, count int, timeout time.Duration) error {
	if count < 1 {
		return fmt.Errorf("-count must be at least 1")
	}
	var key *vcoin.Key
	var err error
	switch {
	case mnemonic != "":
		key, err = vcoin.KeyFromMnemonic(mnemonic)
	case privHex != "":
		key, err = vcoin.KeyFromHex(privHex)
	default:
		err = fmt.Errorf("give the sender: -mnemonic or -private-key (or VCOIN_SDK_MNEMONIC)")
	}
	if err != nil {
		return err
	}
	c, err := vcoin.NewClient(vcoin.ClientOptions{RPC: rpc, REST: rest, ChainID: chainID})
	if err != nil {
		return err
	}
	ctx := context.Background()
	msg, err := vcoin.MsgSend(key.Bech32(), to, "1avcn")
	if err != nil {
		return err
	}
	gas, err := c.EstimateGas(ctx, key, []*anypb.Any{msg}, "")
	if err != nil {
		return err
	}
	t0 := time.Now()
	hashes := make([]string, 0, count)
	for i := 0; i < count; i++ {
		r, err := c.Send(ctx, key, to, "1avcn", vcoin.TxOptions{Gas: gas, NoWait: true})
		if err != nil {
			return fmt.Errorf("send %d of %d: %w", i+1, count, err)
		}
		hashes = append(hashes, r.Hash)
	}
	sent := time.Since(t0)
	ok := 0
	deadline := time.Now().Add(timeout)
	for _, h := range hashes {
		r, err := c.WaitForTx(ctx, h, time.Until(deadline))
		if err != nil {
			return err
		}
		if r.OK() {
			ok++
		}
	}
	seconds := time.Since(t0).Seconds()
	fmt.Printf("go: gas %d; broadcast %d in %.2f s (%.0f/s, signing and CheckTx); %d in a block after %.2f s: %.1f sends/s\n",
		gas, count, sent.Seconds(), float64(count)/sent.Seconds(), ok, seconds, float64(ok)/seconds)
	out, _ := json.Marshal(map[string]any{
		"sent": ok, "seconds": seconds, "broadcast_seconds": sent.Seconds(), "gas": gas,
	})
	fmt.Println(string(out))
	return nil
}
