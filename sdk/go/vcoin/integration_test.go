package vcoin

// Against a real node, when the environment names one (otherwise skipped):
//
//	VCOIN_RPC, VCOIN_REST     the node's RPC and REST URLs (or VCOIN_SDK_RPC, VCOIN_SDK_REST)
//	VCOIN_CHAIN_ID            optional: checked against the node's (or VCOIN_SDK_CHAIN_ID)
//	VCOIN_MNEMONIC            a funded account's mnemonic (or VCOIN_SDK_MNEMONIC_GO), or
//	VCOIN_PRIVATE_KEY         its 32-byte secret in hex
//	VCOIN_JOB_MODEL           default tiny-lm (text-generation); a worker must serve it
//	VCOIN_JOB_TIMEOUT         how long the job may take to settle (Go duration, default 5m)
//
// Sends VCN to a fresh key (by its 0x form) and back, posts a job that a real
// worker runs (and an oracle may sample), waits for settlement over the
// websocket, fetches and hash-checks the output, reads the worker's
// reputation and bonds; bonds, unbonds and registers a worker with a fresh
// key, and cancels a job no worker can take.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"testing"
	"time"
)

func envOr(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

func nodeClient(t *testing.T) (*Client, *Key) {
	t.Helper()
	rpc, rest := envOr("VCOIN_RPC", "VCOIN_SDK_RPC"), envOr("VCOIN_REST", "VCOIN_SDK_REST")
	mnemonic, hexKey := envOr("VCOIN_MNEMONIC", "VCOIN_SDK_MNEMONIC_GO"), os.Getenv("VCOIN_PRIVATE_KEY")
	if rpc == "" || rest == "" || (mnemonic == "" && hexKey == "") {
		t.Skip("set VCOIN_RPC, VCOIN_REST and VCOIN_MNEMONIC (or VCOIN_PRIVATE_KEY) to run against a node")
	}
	c, err := NewClient(ClientOptions{RPC: rpc, REST: rest, ChainID: envOr("VCOIN_CHAIN_ID", "VCOIN_SDK_CHAIN_ID")})
	if err != nil {
		t.Fatal(err)
	}
	var key *Key
	if mnemonic != "" {
		key, err = KeyFromMnemonic(mnemonic)
	} else {
		key, err = KeyFromHex(hexKey)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func vcn(t *testing.T, s string) *big.Int {
	t.Helper()
	n, err := ParseAmount(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestIntegrationSend(t *testing.T) {
	c, me := nodeClient(t)
	ctx := context.Background()
	before, err := c.Balance(ctx, me.Bech32(), "")
	if err != nil {
		t.Fatal(err)
	}
	if before.Cmp(vcn(t, "1000VCN")) < 0 {
		t.Fatalf("%s holds %s; fund it", me.Bech32(), FormatVCN(before))
	}
	_, fresh, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	sent, err := c.Send(ctx, me, fresh.EIP55(), "5VCN", TxOptions{}) // either address form
	if err != nil {
		t.Fatal(err)
	}
	if sent.Height <= 0 || sent.GasUsed <= 0 || sent.GasUsed > sent.GasWanted {
		t.Fatalf("send result %+v: simulated gas should cover what was used", sent)
	}
	if b, _ := c.Balance(ctx, fresh.Bech32(), ""); b.Cmp(vcn(t, "5VCN")) != 0 {
		t.Fatalf("fresh key holds %v", b)
	}
	if bs, err := c.Balances(ctx, fresh.Bech32()); err != nil || len(bs) != 1 || bs[0] != (Coin{Denom: "avcn", Amount: "5000000000000000000"}) {
		t.Fatalf("Balances = %v, %v", bs, err)
	}
	back, err := c.Send(ctx, fresh, me.Bech32(), "1.5VCN", TxOptions{})
	if err != nil || back.Code != 0 {
		t.Fatalf("send back: %v", err)
	}
	left, _ := c.Balance(ctx, fresh.Bech32(), "")
	if left.Cmp(vcn(t, "3.5VCN")) >= 0 || left.Cmp(vcn(t, "3VCN")) <= 0 {
		t.Fatalf("left %s (3.5VCN less the fee)", FormatVCN(left))
	}
	acc, err := c.Account(ctx, fresh.EIP55())
	if err != nil || acc == nil || acc.Sequence != 1 || acc.PubKey != hex.EncodeToString(fresh.PublicKey()) {
		t.Fatalf("Account = %+v, %v", acc, err)
	}
	t.Logf("sent 5VCN to %s (%s) and 1.5VCN back; fee %s", fresh.Bech32(), fresh.EIP55(),
		FormatVCN(new(big.Int).Sub(vcn(t, "3.5VCN"), left)))
}

func TestIntegrationJob(t *testing.T) {
	c, me := nodeClient(t)
	ctx := context.Background()
	model := envOr("VCOIN_JOB_MODEL")
	if model == "" {
		model = "tiny-lm"
	}
	timeout := 5 * time.Minute
	if s := os.Getenv("VCOIN_JOB_TIMEOUT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		timeout = d
	}
	tx, id, err := c.PostJob(ctx, me, PostJob{
		TaskType: "text-generation",
		Model:    model,
		Input:    []byte(`{"prompts": ["The GPU marketplace"]}`),
		SpecJSON: map[string]any{"params": map[string]any{"max_new_tokens": 8}},
		MaxPrice: "2VCN",
	}, TxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tx.Code != 0 || id == 0 {
		t.Fatalf("post: %+v id %d", tx, id)
	}
	start := time.Now()
	var seen []string
	job, err := c.WaitForJob(ctx, id, WaitJobOptions{Timeout: timeout, OnJob: func(j *Job) {
		if len(seen) == 0 || seen[len(seen)-1] != j.State {
			seen = append(seen, j.State)
		}
	}})
	if err != nil {
		t.Fatalf("job %d: %v (states %v)", id, err, seen)
	}
	if job.State != "settled" {
		t.Fatalf("job %d: %s %s", id, job.State, job.LastError)
	}
	t.Logf("job %d settled in %s (%v), paid %s avcn", id, time.Since(start).Round(time.Millisecond), seen, job.Paid)
	out, err := c.JobOutput(ctx, job, me) // the poster's token: a job's output is not public
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(out)
	if hex.EncodeToString(sum[:]) != job.OutputHash {
		t.Fatal("output hash mismatch") // FetchArtifact checks it too
	}
	var result struct {
		Completions []any `json:"completions"`
	}
	if err := json.Unmarshal(out, &result); err != nil || len(result.Completions) == 0 {
		t.Fatalf("a text-generation output has completions: %s (%v)", truncate(string(out), 300), err)
	}
	rep, err := c.Reputation(ctx, job.Worker)
	if err != nil || rep.Address != job.Worker || rep.ScoreBps < 0 || rep.ScoreBps > 10000 {
		t.Fatalf("Reputation = %+v, %v", rep, err)
	}
	bonds, err := c.Bonds(ctx, job.Worker)
	if err != nil {
		t.Fatal(err)
	}
	bonded := false
	for _, b := range bonds {
		if b.Role == RoleWorker && b.Bonded != "0" {
			bonded = true
		}
	}
	if !bonded {
		t.Fatalf("the worker that ran it is not bonded: %+v", bonds)
	}
	mine, err := c.Jobs(ctx, JobFilter{Poster: me.EIP55(), Limit: 100})
	if err != nil || len(mine.Jobs) == 0 {
		t.Fatalf("Jobs = %+v, %v", mine, err)
	}
	// a signed upload comes back to its uploader, hash-checked
	blob := []byte("sdk go artifact " + time.Now().Format(time.RFC3339Nano))
	sha, err := c.PutArtifact(ctx, me, blob)
	if err != nil {
		t.Fatalf("PutArtifact: %v", err)
	}
	if got, err := c.FetchArtifact(ctx, sha, me); err != nil || string(got) != string(blob) {
		t.Fatalf("FetchArtifact of the upload = %q, %v", got, err)
	}
	t.Logf("worker %s: reputation %s (%s/%s successes); output %d bytes, %d completion(s)", job.Worker, rep.Score, rep.Successes, rep.Total, len(out), len(result.Completions))
}

func TestIntegrationOperator(t *testing.T) {
	c, me := nodeClient(t)
	ctx := context.Background()
	_, fresh, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Params(ctx, "staking")
	if err != nil {
		t.Fatal(err)
	}
	minBond, ok := new(big.Int).SetString(jsonText(p["min_bond_worker"]), 10)
	if !ok {
		t.Fatalf("staking params: min_bond_worker %v", p["min_bond_worker"])
	}
	fund := new(big.Int).Add(minBond, vcn(t, "10VCN"))
	if _, err := c.Send(ctx, me, fresh.Bech32(), AVCN(fund), TxOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.BondStake(ctx, fresh, RoleWorker, AVCN(minBond), BondKeys{}, TxOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, err := c.Bond(ctx, fresh.Bech32(), RoleWorker); err != nil || b.Bonded != minBond.String() {
		t.Fatalf("Bond = %+v, %v", b, err)
	}
	if _, err := c.UnbondStake(ctx, fresh, RoleWorker, "1VCN", TxOptions{}); err != nil {
		t.Fatal(err)
	}
	b, err := c.Bond(ctx, fresh.Bech32(), RoleWorker)
	if err != nil || b.Bonded != new(big.Int).Sub(minBond, vcn(t, "1VCN")).String() || len(b.Unbonding) != 1 {
		t.Fatalf("after unbonding: %+v, %v", b, err)
	}
	// an ask nobody will pay, so this worker is never the one that runs a job
	if _, err := c.RegisterWorker(ctx, fresh, Worker{
		GPUModel: "sdk-go-test-gpu", MemoryMiB: 1024, GPUCount: 1, TaskTypes: []string{"embedding"},
		Models: []string{"all-minilm-l6-v2"}, PriceFloor: "1000000VCN",
	}, TxOptions{}); err != nil {
		t.Fatal(err)
	}
	_, id, err := c.PostJob(ctx, me, PostJob{
		TaskType: "text-generation", Model: "tiny-lm", Input: []byte("never runs"), MaxPrice: "1VCN", GPUModel: "no-such-gpu",
	}, TxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CancelJob(ctx, me, id, TxOptions{}); err != nil {
		t.Fatal(err)
	}
	if j, err := c.Job(ctx, id); err != nil || j.State != "cancelled" {
		t.Fatalf("job %d after cancel: %+v, %v", id, j, err)
	}
	// a tx the chain refuses in its block comes back as TxFailed (stage deliver)
	// or is refused by simulation: cancelling it twice
	if _, err := c.CancelJob(ctx, me, id, TxOptions{}); err == nil {
		t.Fatal("a second cancel passed")
	} else {
		t.Logf("second cancel refused: %v", err)
	}
}

func jsonText(v any) string {
	switch x := v.(type) {
	case json.Number:
		return x.String()
	case string:
		return x
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestIntegrationWebsocket(t *testing.T) {
	c, _ := nodeClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	b := c.newBlocks(ctx)
	defer b.close()
	for i := 0; i < 2; i++ {
		select {
		case <-b.events:
		case <-b.dead:
			t.Fatalf("the /websocket subscription at %s ended", c.WebsocketURL())
		case <-ctx.Done():
			t.Fatal("no new block pushed within 15 s")
		}
	}
}
