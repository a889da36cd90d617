// Command bench-sends measures signed bank sends per second from one process
// with the Go SDK: gas is simulated once, then -count sends of 1 avcn are
// signed and broadcast back to back (broadcast_tx_sync; the client counts the
// sender's sequence itself), and every hash is waited for at the end.
//
// The figure is sends that were in a block, divided by the seconds from the
// first broadcast until the last one was in a block (one sender's txs enter
// blocks in sequence order); every result is then read and checked, untimed. The last line of output
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
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
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
	// One sender's txs enter blocks in sequence order: once the last is in a
	// block, so are the others. The clock stops there; then every result is
	// read, untimed, block by block (block and block_results from the first
	// tx's height to the last's: two calls a block rather than one a tx).
	last, err := c.WaitForTx(ctx, hashes[len(hashes)-1], timeout)
	if err != nil {
		return err
	}
	seconds := time.Since(t0).Seconds()
	first, err := c.WaitForTx(ctx, hashes[0], timeout)
	if err != nil {
		return err
	}
	codes, err := blockCodes(ctx, c, first.Height, last.Height)
	if err != nil {
		return err
	}
	var n int64
	for _, h := range hashes {
		if code, in := codes[h]; in && code == 0 {
			n++
		}
	}
	if int(n) != count {
		fmt.Fprintf(os.Stderr, "bench-sends: %d of %d sends not ok in blocks %d..%d\n", count-int(n), count, first.Height, last.Height)
	}
	checked := time.Since(t0).Seconds()
	fmt.Printf("go: gas %d; broadcast %d in %.2f s (%.0f/s, signing and CheckTx); in blocks %d..%d, the last after %.2f s; %d ok: %.1f sends/s (results read by %.2f s)\n",
		gas, count, sent.Seconds(), float64(count)/sent.Seconds(), first.Height, last.Height, seconds, n, float64(n)/seconds, checked)
	out, _ := json.Marshal(map[string]any{
		"sent": n, "seconds": seconds, "broadcast_seconds": sent.Seconds(), "checked_seconds": checked, "gas": gas,
	})
	fmt.Println(string(out))
	return nil
}

// blockCodes maps the hash of every tx in blocks from..to to its result code.
func blockCodes(ctx context.Context, c *vcoin.Client, from, to int64) (map[string]uint32, error) {
	out := map[string]uint32{}
	for h := from; h <= to; h++ {
		hs := strconv.FormatInt(h, 10)
		var blk struct {
			Block struct {
				Data struct {
					Txs []string `json:"txs"`
				} `json:"data"`
			} `json:"block"`
		}
		if err := c.Call(ctx, "block", map[string]any{"height": hs}, &blk); err != nil {
			return nil, err
		}
		var res struct {
			TxsResults []struct {
				Code uint32 `json:"code"`
			} `json:"txs_results"`
		}
		if err := c.Call(ctx, "block_results", map[string]any{"height": hs}, &res); err != nil {
			return nil, err
		}
		txs := blk.Block.Data.Txs
		if len(res.TxsResults) != len(txs) {
			return nil, fmt.Errorf("block %d: %d txs, %d results", h, len(txs), len(res.TxsResults))
		}
		for i, t := range txs {
			raw, err := base64.StdEncoding.DecodeString(t)
			if err != nil {
				return nil, fmt.Errorf("block %d: tx %d is not base64", h, i)
			}
			sum := sha256.Sum256(raw)
			out[strings.ToUpper(hex.EncodeToString(sum[:]))] = res.TxsResults[i].Code
		}
	}
	return out, nil
}
