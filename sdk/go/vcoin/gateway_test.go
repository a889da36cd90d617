package vcoin

// The gateway client and eth_secp256k1 signing against a real node, worker and
// gateway, when the environment names them (otherwise skipped;
// tests/sdk/test_go_gateway.py starts them):
//
//	VCOIN_SDK_RPC, VCOIN_SDK_REST                the node
//	VCOIN_SDK_GATEWAY, VCOIN_SDK_GATEWAY_ACCOUNT the gateway and its chain account
//	VCOIN_SDK_MNEMONIC_GO                        a funded account's mnemonic
//
// The mnemonic's EthSecp256k1 key (m/44'/60') is funded by its Cosmos key and
// signs its own Cosmos txs (a grant to the gateway, a send back); both keys
// sign in (EIP-4361 and ADR-036); completions, a streamed chat and embeddings
// answer what the chain settled; each refusal is a *GatewayError with the
// HTTP status and OpenAI's code.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/anypb"
)

type gwEnv struct {
	c       *Client
	cosmos  *Key
	eth     *Key
	url     string
	account string
}

func gatewayEnv(t *testing.T) *gwEnv {
	t.Helper()
	url, account, words := os.Getenv("VCOIN_SDK_GATEWAY"), os.Getenv("VCOIN_SDK_GATEWAY_ACCOUNT"), os.Getenv("VCOIN_SDK_MNEMONIC_GO")
	if url == "" || account == "" || words == "" || os.Getenv("VCOIN_SDK_RPC") == "" {
		t.Skip("set VCOIN_SDK_GATEWAY, VCOIN_SDK_GATEWAY_ACCOUNT, VCOIN_SDK_RPC, … (tests/sdk/test_go_gateway.py)")
	}
	c, err := NewClient(ClientOptions{RPC: os.Getenv("VCOIN_SDK_RPC"), REST: os.Getenv("VCOIN_SDK_REST")})
	if err != nil {
		t.Fatal(err)
	}
	cosmos, err := KeyFromMnemonic(words)
	if err != nil {
		t.Fatal(err)
	}
	eth, err := EthKeyFromMnemonic(words)
	if err != nil {
		t.Fatal(err)
	}
	return &gwEnv{c, cosmos, eth, url, account}
}

func gwErr(t *testing.T, err error, status int) *GatewayError {
	t.Helper()
	var ge *GatewayError
	if !errors.As(err, &ge) {
		t.Fatalf("want a GatewayError %d, got %v", status, err)
	}
	if ge.Status != status {
		t.Fatalf("want status %d, got %v", status, ge)
	}
	return ge
}

func TestGatewayAgainstANode(t *testing.T) {
	e := gatewayEnv(t)
	ctx := context.Background()
	// the eth_secp256k1 key, funded by the Cosmos key, signs its own Cosmos txs
	if r, err := e.c.Send(ctx, e.cosmos, e.eth.EIP55(), "100VCN", TxOptions{}); err != nil || !r.OK() {
		t.Fatalf("fund the eth key: %v %+v", err, r)
	}
	for _, g := range []struct {
		k     *Key
		limit string
	}{{e.eth, "50VCN"}, {e.cosmos, "20VCN"}} {
		m, err := GrantPostJob(g.k.Bech32(), e.account, g.limit)
		if err != nil {
			t.Fatal(err)
		}
		if r, err := e.c.SignAndBroadcast(ctx, g.k, []*anypb.Any{m}, TxOptions{}); err != nil || !r.OK() {
			t.Fatalf("%s grant: %v %+v", g.k.Algo(), err, r)
		}
	}
	back, err := e.c.Send(ctx, e.eth, e.cosmos.Bech32(), "1VCN", TxOptions{})
	if err != nil || !back.OK() {
		t.Fatalf("eth key send: %v", err)
	}
	acc, err := e.c.Account(ctx, e.eth.Bech32())
	if err != nil || acc == nil || acc.Sequence < 2 {
		t.Fatalf("eth account %+v %v", acc, err)
	}

	g := NewGatewayClient(e.url, GatewayOptions{})
	s, err := g.Login(ctx, e.eth) // EIP-4361, personal_sign
	if err != nil || s.Address != e.eth.Bech32() || s.EthAddress != e.eth.EIP55() {
		t.Fatalf("eth login: %+v %v", s, err)
	}
	k, err := g.CreateKey(ctx, KeyRequest{Name: "go", SpendCap: "10VCN"})
	if err != nil || !strings.HasPrefix(k.Key, "vk_") || k.Owner != e.eth.Bech32() {
		t.Fatalf("CreateKey: %+v %v", k, err)
	}
	api := NewGatewayClient(e.url, GatewayOptions{APIKey: k.Key})

	t.Run("keys", func(t *testing.T) {
		tmp, err := g.CreateKey(ctx, KeyRequest{Scopes: []string{"models"}, RateLimit: 1})
		if err != nil {
			t.Fatal(err)
		}
		keys, err := g.Keys(ctx)
		if err != nil || len(keys) < 2 {
			t.Fatalf("Keys: %v %v", keys, err)
		}
		small := NewGatewayClient(e.url, GatewayOptions{APIKey: tmp.Key})
		if ms, err := small.Models(ctx); err != nil || len(ms) < 2 {
			t.Fatalf("Models: %v %v", ms, err)
		}
		_, err = small.Models(ctx)
		if ge := gwErr(t, err, 429); ge.Type != "rate_limit_error" {
			t.Fatal(ge)
		}
		_, err = small.Completions(ctx, map[string]any{"model": "tiny-lm", "prompt": "x", "max_tokens": 2})
		if err == nil {
			t.Fatal("a models-only key posted a completion")
		}
		if err := g.RevokeKey(ctx, tmp.ID); err != nil {
			t.Fatal(err)
		}
		_, err = small.Models(ctx)
		gwErr(t, err, 401)
		if ge := gwErr(t, g.RevokeKey(ctx, tmp.ID), 404); ge.Code != "key_not_found" {
			t.Fatal(ge)
		}
		cg := NewGatewayClient(e.url, GatewayOptions{})
		if s, err := cg.Login(ctx, e.cosmos); err != nil || s.Address != e.cosmos.Bech32() { // ADR-036
			t.Fatalf("cosmos login: %+v %v", s, err)
		}
		_, err = cg.CreateKey(ctx, KeyRequest{SpendCap: "21VCN"})
		if ge := gwErr(t, err, 400); ge.Code != "spend_cap_above_grant" {
			t.Fatal(ge)
		}
		_, err = NewGatewayClient(e.url, GatewayOptions{Token: "not-a-jwt"}).Keys(ctx)
		gwErr(t, err, 401)
	})

	settled := func(t *testing.T, vcoin any) map[string]any {
		t.Helper()
		v := vcoin.(map[string]any)
		job, err := e.c.Job(ctx, uint64(v["job_id"].(float64)))
		if err != nil || job.State != "settled" || job.Poster != e.eth.Bech32() {
			t.Fatalf("job %+v %v", job, err)
		}
		out, err := e.c.JobOutput(ctx, job, e.eth)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatal(err)
		}
		return doc["completions"].([]any)[0].(map[string]any)
	}

	t.Run("completion and streamed chat", func(t *testing.T) {
		r, err := api.Completions(ctx, map[string]any{"model": "tiny-lm", "prompt": "The GPU marketplace", "max_tokens": 6})
		if err != nil {
			t.Fatal(err)
		}
		done := settled(t, r["vcoin"])
		if got := r["choices"].([]any)[0].(map[string]any)["text"]; got != done["completion"] {
			t.Fatalf("text %q, settled %q", got, done["completion"])
		}
		var text strings.Builder
		var last map[string]any
		body := map[string]any{"model": "tiny-lm", "messages": []map[string]string{{"role": "user", "content": "Hi"}}, "max_tokens": 4}
		for chunk, err := range api.ChatStream(ctx, body) {
			if err != nil {
				t.Fatal(err)
			}
			if chunk["object"] != "chat.completion.chunk" {
				t.Fatalf("chunk %v", chunk)
			}
			delta := chunk["choices"].([]any)[0].(map[string]any)["delta"].(map[string]any)
			if c, ok := delta["content"].(string); ok {
				text.WriteString(c)
			}
			last = chunk
		}
		done = settled(t, last["vcoin"])
		if text.String() != done["completion"] || done["prompt"] != "user: Hi\nassistant:" {
			t.Fatalf("streamed %q, settled %v", text.String(), done)
		}
	})

	t.Run("streamed completion", func(t *testing.T) {
		texts := []string{"", ""}
		var last map[string]any
		for chunk, err := range api.CompletionsStream(ctx, map[string]any{"model": "tiny-lm", "prompt": []string{"Hello", "A GPU"}, "max_tokens": 4}) {
			if err != nil {
				t.Fatal(err)
			}
			if chunk["object"] != "text_completion" {
				t.Fatalf("chunk %v", chunk)
			}
			ch := chunk["choices"].([]any)[0].(map[string]any)
			texts[int(ch["index"].(float64))] += ch["text"].(string)
			last = chunk
		}
		v := last["vcoin"].(map[string]any)
		job, err := e.c.Job(ctx, uint64(v["job_id"].(float64)))
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.c.JobOutput(ctx, job, e.eth)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Completions []struct {
				Completion string `json:"completion"`
			} `json:"completions"`
		}
		if err := json.Unmarshal(out, &doc); err != nil || len(doc.Completions) != 2 {
			t.Fatalf("output %s %v", out, err)
		}
		for i, c := range doc.Completions {
			if texts[i] != c.Completion {
				t.Fatalf("prompt %d: streamed %q, settled %q", i, texts[i], c.Completion)
			}
		}
	})

	t.Run("embeddings", func(t *testing.T) {
		r, err := api.Embeddings(ctx, map[string]any{"model": "all-minilm-l6-v2", "input": []string{"hello", "a GPU market"}})
		if err != nil {
			t.Fatal(err)
		}
		data := r["data"].([]any)
		if len(data) != 2 || len(data[0].(map[string]any)["embedding"].([]any)) == 0 {
			t.Fatalf("embeddings %v", fmt.Sprint(r)[:200])
		}
	})

	t.Run("refusals", func(t *testing.T) {
		body := map[string]any{"model": "tiny-lm", "prompt": "x", "max_tokens": 2}
		_, err := NewGatewayClient(e.url, GatewayOptions{APIKey: "vk_nope_nope"}).Completions(ctx, body)
		gwErr(t, err, 401)
		_, err = api.Completions(ctx, with(body, "model", "no-such-model"))
		gwErr(t, err, 404)
		_, err = api.Completions(ctx, with(body, "max_tokens", 0))
		if ge := gwErr(t, err, 400); ge.Param != "max_tokens" {
			t.Fatal(ge)
		}
		low, err := g.CreateKey(ctx, KeyRequest{SpendCap: "500000000000000000"}) // under one job's escrow
		if err != nil {
			t.Fatal(err)
		}
		_, err = NewGatewayClient(e.url, GatewayOptions{APIKey: low.Key}).Completions(ctx, body)
		if ge := gwErr(t, err, 402); ge.Type != "insufficient_quota" {
			t.Fatal(ge)
		}
		_, err = NewGatewayClient("http://127.0.0.1:9", GatewayOptions{APIKey: "vk_x"}).Models(ctx)
		var down *NodeUnreachableError
		if !errors.As(err, &down) {
			t.Fatalf("a gateway that is down: %v", err)
		}
	})
}
