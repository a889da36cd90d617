package vcoin

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Client tests against a fake node (httptest): the wire shapes of
// chain/client.py, refusals, a node that is down or silent, artifacts.

const abandon = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"

// fakeNode answers JSON-RPC on /, REST on /cosmos/..., artifacts on /artifacts/.
type fakeNode struct {
	t         *testing.T
	mu        sync.Mutex
	seq       uint64
	txs       map[string]int64 // hash -> height
	jobState  string
	reads     int
	artifacts map[string][]byte
	simulate  func(body map[string]string) (int, string)
	broadcast func(tx []byte) map[string]any
}

func newFakeNode(t *testing.T) (*fakeNode, *httptest.Server) {
	f := &fakeNode{t: t, txs: map[string]int64{}, jobState: "queued", artifacts: map[string][]byte{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.URL.Path == "/" && r.Method == http.MethodPost:
		f.rpc(w, r)
	case r.URL.Path == "/cosmos/tx/v1beta1/simulate":
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		status, answer := 200, `{"gas_info":{"gas_wanted":"0","gas_used":"100000"},"result":{}}`
		if f.simulate != nil {
			status, answer = f.simulate(body)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	case strings.HasPrefix(r.URL.Path, "/cosmos/bank/v1beta1/balances/"):
		_, _ = io.WriteString(w, `{"balances":[{"denom":"avcn","amount":"1500000000000000000"}],"pagination":{"total":"1"}}`)
	case strings.HasPrefix(r.URL.Path, "/artifacts/"):
		b, ok := f.artifacts[strings.TrimPrefix(r.URL.Path, "/artifacts/")]
		if !ok {
			http.Error(w, `{"code":5,"message":"not found"}`, 404)
			return
		}
		_, _ = w.Write(b)
	default:
		http.Error(w, "no route", 404)
	}
}

func (f *fakeNode) rpc(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID     any            `json:"id"`
		Method string         `json:"method"`
		Params map[string]any `json:"params"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		f.t.Errorf("bad JSON-RPC request: %v", err)
		return
	}
	reply := func(result any) {
		_ = json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": result})
	}
	fail := func(code int, msg, data string) {
		_ = json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": req.ID, "error": map[string]any{"code": code, "message": msg, "data": data}})
	}
	switch req.Method {
	case "status":
		reply(map[string]any{"node_info": map[string]any{"network": "vcoin-test-1"}, "sync_info": map[string]any{"latest_block_height": "42"}})
	case "abci_query":
		path, _ := req.Params["path"].(string)
		data, _ := hex.DecodeString(req.Params["data"].(string))
		var q map[string]any
		_ = json.Unmarshal(data, &q)
		val, code, log := f.query(path, q)
		reply(map[string]any{"response": map[string]any{
			"code": code, "codespace": map[bool]string{true: "sdk", false: ""}[code != 0], "log": log,
			"value": base64.StdEncoding.EncodeToString([]byte(val)), "height": "42",
		}})
	case "broadcast_tx_sync":
		raw, _ := base64.StdEncoding.DecodeString(req.Params["tx"].(string))
		if f.broadcast != nil {
			reply(f.broadcast(raw))
			return
		}
		d, err := DecodeTx(raw)
		if err != nil {
			f.t.Errorf("broadcast of a bad tx: %v", err)
		}
		if got := d.AuthInfo.SignerInfos[0].Sequence; got != f.seq {
			reply(map[string]any{"code": 32, "codespace": "sdk", "log": fmt.Sprintf("account sequence mismatch, expected %d, got %d", f.seq, got), "hash": TxHash(raw)})
			return
		}
		f.seq++
		f.txs[TxHash(raw)] = 43
		reply(map[string]any{"code": 0, "log": "", "hash": TxHash(raw)})
	case "tx":
		h, _ := base64.StdEncoding.DecodeString(req.Params["hash"].(string))
		hash := strings.ToUpper(hex.EncodeToString(h))
		height, ok := f.txs[hash]
		if !ok {
			fail(-32603, "Internal error", "tx ("+hash+") not found")
			return
		}
		reply(map[string]any{"hash": hash, "height": fmt.Sprint(height), "tx_result": map[string]any{
			"code": 0, "gas_wanted": "130000", "gas_used": "90000",
			"events": []any{map[string]any{"type": "JobPosted", "attributes": []any{map[string]any{"key": "job_id", "value": "7", "index": true}}}},
		}})
	default:
		fail(-32601, "Method not found", req.Method)
	}
}

func (f *fakeNode) query(path string, q map[string]any) (string, int, string) {
	switch path {
	case "/custom/auth/account":
		if q["address"] != "vcoin19rl4cm2hmr8afy4kldpxz3fka4jguq0as7xdlf" {
			return "", 38, fmt.Sprintf("account %s not found: it has never received funds", q["address"])
		}
		return fmt.Sprintf(`{"address":"%s","account_number":"12","sequence":"%d","pub_key":null}`, q["address"], f.seq), 0, ""
	case "/custom/auth/params":
		return `{"min_gas_price":"1000000000","max_memo_characters":256}`, 0, ""
	case "/custom/bank/balance":
		return `{"balance":{"denom":"avcn","amount":"1500000000000000000"}}`, 0, ""
	case "/custom/jobs/job":
		f.reads++
		if f.reads >= 3 {
			f.jobState = "settled"
		}
		out := "6c6d32eae133302ec16aa1b0671e45136b59fd10cdb0fa717dcb106cbd2409be"
		return fmt.Sprintf(`{"id":"%v","state":"%s","poster":"vcoin1x","output_hash":"%s","priority":0,"posted_height":3,"max_price":"2000000000000000000"}`, q["id"], f.jobState, out), 0, ""
	case "/custom/staking/bonds":
		return `{"bonds":[{"address":"vcoin1x","role":"worker","bonded":"1000","min_bond":"10","jailed_until":"0","tombstoned":false,"active":true,"unbonding":[],"ed25519_pubkey":null}]}`, 0, ""
	case "/custom/reputation/score":
		return `{"address":"vcoin1x","score_bps":10000,"score":"100.00","successes":"3","total":"3","penalties_bps":0,"uptime_bps":10000,"stake_weight_bps":10000,"has_history":true}`, 0, ""
	}
	return "", 6, "unknown query " + path
}

func testClient(t *testing.T, srv *httptest.Server, o ClientOptions) *Client {
	t.Helper()
	o.RPC, o.REST = srv.URL, srv.URL
	c, err := NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientQueries(t *testing.T) {
	_, srv := newFakeNode(t)
	c := testClient(t, srv, ClientOptions{NoWebsocket: true})
	ctx := context.Background()
	if id, err := c.ChainID(ctx); err != nil || id != "vcoin-test-1" {
		t.Fatalf("ChainID = %q, %v", id, err)
	}
	if h, err := c.LatestHeight(ctx); err != nil || h != 42 {
		t.Fatalf("LatestHeight = %d, %v", h, err)
	}
	acc, err := c.Account(ctx, "0x28Ff5c6d57D8cFD492B6FB42614536eD648E01Fd") // either form
	if err != nil || acc == nil || acc.AccountNumber != 12 {
		t.Fatalf("Account = %+v, %v", acc, err)
	}
	if acc, err := c.Account(ctx, "vcoin1avgyh77ycn997ja45q5q8ss8y9mr424jvyfr4a"); err != nil || acc != nil {
		t.Fatalf("unknown account = %+v, %v", acc, err)
	}
	if b, err := c.Balance(ctx, "vcoin19rl4cm2hmr8afy4kldpxz3fka4jguq0as7xdlf", ""); err != nil || FormatVCN(b) != "1.5VCN" {
		t.Fatalf("Balance = %v, %v", b, err)
	}
	if bs, err := c.Balances(ctx, "vcoin19rl4cm2hmr8afy4kldpxz3fka4jguq0as7xdlf"); err != nil || len(bs) != 1 || bs[0].Amount != "1500000000000000000" {
		t.Fatalf("Balances = %v, %v", bs, err)
	}
	if j, err := c.Job(ctx, 7); err != nil || j.ID != "7" || j.MaxPrice != "2000000000000000000" || j.Raw["posted_height"] == nil {
		t.Fatalf("Job = %+v, %v", j, err)
	}
	if bonds, err := c.Bonds(ctx, "vcoin19rl4cm2hmr8afy4kldpxz3fka4jguq0as7xdlf"); err != nil || len(bonds) != 1 || !bonds[0].Active {
		t.Fatalf("Bonds = %+v, %v", bonds, err)
	}
	if r, err := c.Reputation(ctx, "vcoin19rl4cm2hmr8afy4kldpxz3fka4jguq0as7xdlf"); err != nil || r.ScoreBps != 10000 {
		t.Fatalf("Reputation = %+v, %v", r, err)
	}
	if p, err := c.Params(ctx, "auth"); err != nil || fmt.Sprint(p["min_gas_price"]) != "1000000000" {
		t.Fatalf("Params = %v, %v", p, err)
	}
	var qe *QueryError
	if err := c.Query(ctx, "nope", "nothing", nil, nil); !errors.As(err, &qe) || qe.Code != 6 || qe.Codespace != "sdk" {
		t.Fatalf("unknown query: %v", err)
	}
	// a bad address never reaches the node
	if _, err := c.Balance(ctx, "vcoin19rl4cm2hmr8afy4kldpxz3fka4jguq0as7xdlq", ""); !errors.Is(err, ErrBadBech32Checksum) {
		t.Fatalf("bad address: %v", err)
	}
}

func TestClientSendAndWait(t *testing.T) {
	f, srv := newFakeNode(t)
	c := testClient(t, srv, ClientOptions{NoWebsocket: true})
	ctx := context.Background()
	key, _ := KeyFromMnemonic(abandon)
	res, err := c.Send(ctx, key, "0xeB104BfbC4c4cA5f4bb5A02803C20721763aAAB2", "1.5VCN", TxOptions{})
	if err != nil || res.Height != 43 || res.GasUsed != 90000 {
		t.Fatalf("Send = %+v, %v", res, err)
	}
	// back-to-back sync broadcasts take consecutive sequences without a query in between
	for i := 0; i < 3; i++ {
		if _, err := c.Send(ctx, key, "vcoin1avgyh77ycn997ja45q5q8ss8y9mr424jvyfr4a", "1avcn", TxOptions{Gas: 100000, NoWait: true}); err != nil {
			t.Fatal(err)
		}
	}
	if f.seq != 4 {
		t.Fatalf("sequence %d after 4 sends", f.seq)
	}
	// someone else used the key: the stale cached sequence is refreshed once
	f.mu.Lock()
	f.seq = 9
	f.mu.Unlock()
	if _, err := c.Send(ctx, key, "vcoin1avgyh77ycn997ja45q5q8ss8y9mr424jvyfr4a", "1avcn", TxOptions{Gas: 100000, NoWait: true}); err != nil {
		t.Fatalf("after a stale sequence: %v", err)
	}
	_, id, err := c.PostJob(ctx, key, PostJob{TaskType: "text-generation", Model: "tiny-lm", Input: []byte(`{"prompts":["x"]}`), MaxPrice: "2VCN"}, TxOptions{})
	if err != nil || id != 7 {
		t.Fatalf("PostJob = %d, %v", id, err)
	}
	j, err := c.WaitForJob(ctx, 7, WaitJobOptions{Poll: 10 * time.Millisecond, Timeout: 5 * time.Second})
	if err != nil || j.State != "settled" {
		t.Fatalf("WaitForJob = %+v, %v", j, err)
	}
}

func TestClientRefusals(t *testing.T) {
	f, srv := newFakeNode(t)
	c := testClient(t, srv, ClientOptions{NoWebsocket: true})
	ctx := context.Background()
	key, _ := KeyFromMnemonic(abandon)
	// a refused simulation carries the chain's codespace and code
	f.simulate = func(map[string]string) (int, string) {
		return 400, `{"code":3,"message":"insufficient funds: 1 < 2: with gas wanted: '200000' and gas used: '5000' (codespace sdk, code 5)","details":[]}`
	}
	var qe *QueryError
	if _, err := c.Send(ctx, key, "vcoin1avgyh77ycn997ja45q5q8ss8y9mr424jvyfr4a", "1VCN", TxOptions{}); !errors.As(err, &qe) || qe.Code != 5 || qe.Codespace != "sdk" {
		t.Fatalf("refused simulation: %v", err)
	}
	// CheckTx refusal
	f.broadcast = func(tx []byte) map[string]any {
		return map[string]any{"code": 13, "codespace": "sdk", "log": "insufficient fee", "hash": TxHash(tx)}
	}
	var tf *TxFailed
	_, err := c.Send(ctx, key, "vcoin1avgyh77ycn997ja45q5q8ss8y9mr424jvyfr4a", "1VCN", TxOptions{Gas: 100000})
	if !errors.As(err, &tf) || tf.Code != 13 || tf.Stage != "check" || !strings.Contains(err.Error(), "insufficient fee") {
		t.Fatalf("CheckTx refusal: %v", err)
	}
	// NoCheck hands the result back
	res, err := c.Send(ctx, key, "vcoin1avgyh77ycn997ja45q5q8ss8y9mr424jvyfr4a", "1VCN", TxOptions{Gas: 100000, NoCheck: true})
	if err != nil || res.Code != 13 {
		t.Fatalf("NoCheck: %+v %v", res, err)
	}
	// bad input is refused before anything is sent
	for _, amount := range []string{"1.0000000000000000001VCN", "-1VCN", "1.5avcn", "0VCN", "1BTC"} {
		if _, err := c.Send(ctx, key, "vcoin1avgyh77ycn997ja45q5q8ss8y9mr424jvyfr4a", amount, TxOptions{}); !errors.Is(err, ErrInput) {
			t.Errorf("amount %q: %v", amount, err)
		}
	}
	// the chain id, when given, must match
	c2 := testClient(t, srv, ClientOptions{ChainID: "other-chain"})
	if _, err := c2.ChainID(ctx); err == nil || !strings.Contains(err.Error(), "vcoin-test-1") {
		t.Fatalf("wrong chain id: %v", err)
	}
}

func TestNodeDown(t *testing.T) {
	// a port nobody listens on: refused at once; bounded retries, then a clear error
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, _ := NewClient(ClientOptions{RPC: "http://" + addr, REST: "http://" + addr, Timeout: 300 * time.Millisecond, RetryDelay: 20 * time.Millisecond})
	start := time.Now()
	_, err = c.Status(context.Background())
	var nu *NodeUnreachableError
	if !errors.As(err, &nu) || !errors.Is(err, ErrNodeUnreachable) || nu.Attempts != 3 {
		t.Fatalf("node down: %v", err)
	}
	if !strings.Contains(err.Error(), "is it running?") || !strings.Contains(err.Error(), addr) {
		t.Errorf("unclear error: %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %s", el)
	}
	key, _ := KeyFromMnemonic(abandon)
	if _, err := c.Send(context.Background(), key, "vcoin1avgyh77ycn997ja45q5q8ss8y9mr424jvyfr4a", "1VCN", TxOptions{}); !errors.Is(err, ErrNodeUnreachable) {
		t.Errorf("send to a node that is down: %v", err)
	}
	if _, err := c.FetchArtifact(context.Background(), strings.Repeat("ab", 32), nil); !errors.Is(err, ErrNodeUnreachable) {
		t.Errorf("artifact from a node that is down: %v", err)
	}
}

func TestNodeSilent(t *testing.T) {
	// a node that accepts connections and never answers: each attempt times out
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	c, _ := NewClient(ClientOptions{RPC: "http://" + l.Addr().String(), Timeout: 200 * time.Millisecond, Retries: 1, RetryDelay: 10 * time.Millisecond})
	start := time.Now()
	_, err = c.Status(context.Background())
	if !errors.Is(err, ErrNodeUnreachable) || !strings.Contains(err.Error(), "no answer within 200ms") {
		t.Fatalf("silent node: %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %s", el)
	}
	// the caller's context bounds it too
	c2, _ := NewClient(ClientOptions{RPC: "http://" + l.Addr().String(), Timeout: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	if _, err := c2.Status(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("context deadline: %v", err)
	}
}

func TestArtifacts(t *testing.T) {
	f, srv := newFakeNode(t)
	c := testClient(t, srv, ClientOptions{})
	ctx := context.Background()
	data := []byte(`{"outputs": ["hello"]}`)
	sum := sha256.Sum256(data)
	good := hex.EncodeToString(sum[:])
	f.artifacts[good] = data
	if b, err := c.FetchArtifact(ctx, good, nil); err != nil || string(b) != string(data) {
		t.Fatalf("FetchArtifact = %q, %v", b, err)
	}
	bad := strings.Repeat("0", 64)
	f.artifacts[bad] = data // served under the wrong name
	var ae *ArtifactError
	if _, err := c.FetchArtifact(ctx, bad, nil); !errors.As(err, &ae) || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("tampered artifact: %v", err)
	}
	if _, err := c.FetchArtifact(ctx, strings.Repeat("1", 64), nil); !errors.As(err, &ae) || !strings.Contains(err.Error(), "not in the node's store") {
		t.Fatalf("missing artifact: %v", err)
	}
	if _, err := c.FetchArtifact(ctx, "ABC", nil); !errors.Is(err, ErrInput) {
		t.Fatalf("bad name: %v", err)
	}
}

func TestWaitForJobTimeout(t *testing.T) {
	_, srv := newFakeNode(t)
	c := testClient(t, srv, ClientOptions{}) // the fake has no websocket: falls back to polling
	_, err := c.WaitForJob(context.Background(), 7, WaitJobOptions{States: []string{"expired"}, Poll: 20 * time.Millisecond, Timeout: 300 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "job 7 is settled") {
		t.Fatalf("timeout: %v", err)
	}
}
