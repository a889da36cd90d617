package vcoin

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/anypb"
)

// A client of one VCoin node: its CometBFT-style RPC (:26657: JSON-RPC,
// abci_query of the app's /custom/<module>/<query> JSON queries, tx lookups,
// the /websocket event stream) and its Cosmos REST API (:1317: balances,
// simulate, the artifact store). Wire shapes follow chain/client.py: tx bytes
// travel base64, abci_query data hex, int64 fields as decimal strings. A
// chain refusal is a *QueryError or *TxFailed with its codespace and code; a
// node that does not answer, a *NodeUnreachableError after a bounded retry.

// Codes of the sdk codespace the client acts on.
const (
	SDKCodespace      = "sdk"
	CodeWrongSequence = 32
	CodeNotFound      = 38
	CodeTxInCache     = 19
	DefaultGasAdjust  = 1.3
	DefaultSimGas     = 200_000
)

// FinalJobStates are the states after which nothing more happens to a job.
var FinalJobStates = []string{"settled", "rejected", "cancelled", "expired", "failed"}

// ClientOptions configure a Client. RPC is required; REST is needed for
// balances, simulation and artifacts.
type ClientOptions struct {
	RPC  string // e.g. http://127.0.0.1:26657
	REST string // e.g. http://127.0.0.1:1317
	// ChainID, when given, is checked against the node's; otherwise read from it.
	ChainID string
	// GasAdjustment multiplies simulated gas (default 1.3).
	GasAdjustment float64
	// GasPrice in avcn per gas; the chain's auth min_gas_price by default.
	GasPrice *big.Int
	// Timeout of one HTTP attempt (default 10 s).
	Timeout time.Duration
	// Retries after the first attempt on a transport failure (default 2;
	// negative for none).
	Retries int
	// RetryDelay before the first retry, doubled each time (default 200 ms).
	RetryDelay time.Duration
	// HTTPClient to use (its Timeout is left alone; Timeout above applies per attempt).
	HTTPClient *http.Client
	// NoWebsocket makes job waits poll instead of following new blocks.
	NoWebsocket bool
	// MaxArtifactBytes caps FetchArtifact (default 1 GiB).
	MaxArtifactBytes int64
}

// Client talks to one node. It is safe for concurrent use; txs from one key
// are signed and broadcast one at a time, so their sequences follow each other.
type Client struct {
	rpcURL, restURL string
	t               *transport
	gasAdjust       float64
	wantChainID     string
	noWS            bool
	maxArtifact     int64
	ids             atomic.Int64

	mu       sync.Mutex
	chainID  string
	gasPrice *big.Int
	accNum   map[string]uint64
	nextSeq  map[string]uint64
	keyLocks map[string]*sync.Mutex
}

// NewClient checks the options; it does not contact the node.
func NewClient(o ClientOptions) (*Client, error) {
	if o.RPC == "" {
		return nil, inputErr(KindBadInput, "ClientOptions.RPC is empty: give the node's RPC URL, e.g. http://127.0.0.1:26657")
	}
	for _, u := range []string{o.RPC, o.REST} {
		if u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return nil, inputErr(KindBadInput, "node URL %q must start with http:// or https://", u)
		}
	}
	c := &Client{
		rpcURL:      strings.TrimRight(o.RPC, "/"),
		restURL:     strings.TrimRight(o.REST, "/"),
		gasAdjust:   o.GasAdjustment,
		wantChainID: o.ChainID,
		noWS:        o.NoWebsocket,
		maxArtifact: o.MaxArtifactBytes,
		accNum:      map[string]uint64{},
		nextSeq:     map[string]uint64{},
		keyLocks:    map[string]*sync.Mutex{},
		t: &transport{
			http: o.HTTPClient, timeout: o.Timeout, retries: o.Retries, retryDelay: o.RetryDelay,
		},
	}
	if o.GasPrice != nil {
		c.gasPrice = new(big.Int).Set(o.GasPrice)
	}
	if c.gasAdjust == 0 {
		c.gasAdjust = DefaultGasAdjust
	}
	if c.maxArtifact == 0 {
		c.maxArtifact = 1 << 30
	}
	if c.t.http == nil {
		c.t.http = &http.Client{Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second,
		}}
	}
	if c.t.timeout == 0 {
		c.t.timeout = defaultTimeout
	}
	switch {
	case c.t.retries == 0:
		c.t.retries = defaultRetries
	case c.t.retries < 0:
		c.t.retries = 0
	}
	if c.t.retryDelay == 0 {
		c.t.retryDelay = defaultRetryDelay
	}
	return c, nil
}

// RPCURL and RESTURL are the endpoints the client uses.
func (c *Client) RPCURL() string  { return c.rpcURL }
func (c *Client) RESTURL() string { return c.restURL }

// -- JSON-RPC ------------------------------------------------------------------

// Call makes one JSON-RPC 2.0 call and decodes its result into out (if not nil).
func (c *Client) Call(ctx context.Context, method string, params map[string]any, out any) error {
	if params == nil {
		params = map[string]any{}
	}
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": c.ids.Add(1), "method": method, "params": params})
	if err != nil {
		return fmt.Errorf("%s: encoding the params: %w", method, err)
	}
	a, err := c.t.do(ctx, http.MethodPost, c.rpcURL, body, "application/json", maxAnswerBytes)
	if err != nil {
		return err
	}
	var reply struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int             `json:"code"`
			Message string          `json:"message"`
			Data    json.RawMessage `json:"data"`
		} `json:"error"`
	}
	if err := json.Unmarshal(a.body, &reply); err != nil {
		return &RPCError{Method: method, Message: fmt.Sprintf("the node answered HTTP %d without JSON-RPC: %s", a.status, truncate(string(a.body), 200))}
	}
	if reply.Error != nil {
		data := string(reply.Error.Data)
		var s string
		if json.Unmarshal(reply.Error.Data, &s) == nil {
			data = s
		}
		return &RPCError{Method: method, Code: reply.Error.Code, Message: reply.Error.Message, Data: data}
	}
	if len(reply.Result) == 0 || reply.Result[0] != '{' {
		return &RPCError{Method: method, Message: fmt.Sprintf("the node's answer has no result (HTTP %d)", a.status)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(reply.Result, out); err != nil {
		return &RPCError{Method: method, Message: "unexpected result: " + err.Error()}
	}
	return nil
}

// Status is the node's status (node_info, sync_info, validator_info).
type Status struct {
	NodeInfo struct {
		Network string `json:"network"`
		Version string `json:"version"`
		Moniker string `json:"moniker"`
	} `json:"node_info"`
	SyncInfo struct {
		LatestBlockHeight string `json:"latest_block_height"`
		LatestBlockTime   string `json:"latest_block_time"`
		CatchingUp        bool   `json:"catching_up"`
	} `json:"sync_info"`
}

func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s Status
	if err := c.Call(ctx, "status", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// ChainID is the node's chain id (read once; checked against ClientOptions.ChainID).
func (c *Client) ChainID(ctx context.Context) (string, error) {
	c.mu.Lock()
	id := c.chainID
	c.mu.Unlock()
	if id != "" {
		return id, nil
	}
	s, err := c.Status(ctx)
	if err != nil {
		return "", err
	}
	id = s.NodeInfo.Network
	if c.wantChainID != "" && id != c.wantChainID {
		return "", inputErr(KindBadInput, "the node at %s runs chain %q, not %q", c.rpcURL, id, c.wantChainID)
	}
	c.mu.Lock()
	c.chainID = id
	c.mu.Unlock()
	return id, nil
}

// LatestHeight is the height of the node's last block.
func (c *Client) LatestHeight(ctx context.Context) (int64, error) {
	s, err := c.Status(ctx)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(s.SyncInfo.LatestBlockHeight, 10, 64)
}

// ABCIResponse is abci_query's response, value decoded from base64.
type ABCIResponse struct {
	Code      uint32
	Codespace string
	Log       string
	Value     []byte
	Height    int64
}

// ABCIQuery runs abci_query (data travels hex).
func (c *Client) ABCIQuery(ctx context.Context, path string, data []byte) (*ABCIResponse, error) {
	var res struct {
		Response struct {
			Code      jsonInt `json:"code"`
			Codespace string  `json:"codespace"`
			Log       string  `json:"log"`
			Value     string  `json:"value"`
			Height    jsonInt `json:"height"`
		} `json:"response"`
	}
	err := c.Call(ctx, "abci_query", map[string]any{"path": path, "data": hex.EncodeToString(data), "height": "0", "prove": false}, &res)
	if err != nil {
		return nil, err
	}
	r := res.Response
	v, err := base64.StdEncoding.DecodeString(r.Value)
	if err != nil {
		return nil, &RPCError{Method: "abci_query", Message: "the value is not base64"}
	}
	return &ABCIResponse{Code: uint32(r.Code), Codespace: r.Codespace, Log: r.Log, Value: v, Height: int64(r.Height)}, nil
}

// Query runs an app query /custom/<module>/<name> (JSON in, JSON out) and
// decodes the answer into out. A refusal is a *QueryError.
func (c *Client) Query(ctx context.Context, module, name string, req any, out any) error {
	if req == nil {
		req = map[string]any{}
	}
	data, err := json.Marshal(req)
	if err != nil {
		return inputErr(KindBadInput, "query %s/%s: %v", module, name, err)
	}
	r, err := c.ABCIQuery(ctx, "/custom/"+module+"/"+name, data)
	if err != nil {
		return err
	}
	if r.Code != 0 {
		return &QueryError{Codespace: r.Codespace, Code: r.Code, Log: r.Log}
	}
	if out == nil || len(r.Value) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(r.Value))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("query %s/%s: unexpected answer: %w", module, name, err)
	}
	return nil
}

// -- REST -----------------------------------------------------------------------

func (c *Client) rest(ctx context.Context, method, path string, body any, out any) error {
	if c.restURL == "" {
		return inputErr(KindBadInput, "this call needs the node's REST URL (ClientOptions.REST, e.g. http://127.0.0.1:1317)")
	}
	var raw []byte
	ct := ""
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return err
		}
		ct = "application/json"
	}
	url := c.restURL + path
	a, err := c.t.do(ctx, method, url, raw, ct, maxAnswerBytes)
	if err != nil {
		return err
	}
	if a.status >= 300 {
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(a.body, &e)
		return &HTTPError{URL: url, Status: a.status, Body: string(a.body), Message: e.Message}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(a.body, out); err != nil {
		return &HTTPError{URL: url, Status: a.status, Body: string(a.body), Message: "the answer is not the expected JSON: " + err.Error()}
	}
	return nil
}

// -- queries --------------------------------------------------------------------

// Coin is an amount of one denom, as the chain writes it.
type Coin struct {
	Denom  string `json:"denom"`
	Amount string `json:"amount"`
}

// Balances lists every balance of an address (REST /cosmos/bank/v1beta1/balances).
func (c *Client) Balances(ctx context.Context, address string) ([]Coin, error) {
	a, err := ParseAddress(address)
	if err != nil {
		return nil, err
	}
	var d struct {
		Balances []Coin `json:"balances"`
	}
	if err := c.rest(ctx, http.MethodGet, "/cosmos/bank/v1beta1/balances/"+a.Bech32(), nil, &d); err != nil {
		return nil, err
	}
	return d.Balances, nil
}

// Balance is an address's balance of one denom ("" for avcn), over RPC.
func (c *Client) Balance(ctx context.Context, address, denom string) (*big.Int, error) {
	a, err := ParseAddress(address)
	if err != nil {
		return nil, err
	}
	if denom == "" {
		denom = Denom
	}
	var d struct {
		Balance Coin `json:"balance"`
	}
	if err := c.Query(ctx, "bank", "balance", map[string]string{"address": a.Bech32(), "denom": denom}, &d); err != nil {
		return nil, err
	}
	n, ok := new(big.Int).SetString(d.Balance.Amount, 10)
	if !ok {
		return nil, fmt.Errorf("balance: unexpected amount %q", d.Balance.Amount)
	}
	return n, nil
}

// Account is an account's number, sequence and public key (hex, once it signed).
type Account struct {
	Address       string
	AccountNumber uint64
	Sequence      uint64
	PubKey        string
}

// Account returns nil (and no error) when the chain has never seen the address.
func (c *Client) Account(ctx context.Context, address string) (*Account, error) {
	a, err := ParseAddress(address)
	if err != nil {
		return nil, err
	}
	var d struct {
		Address       string  `json:"address"`
		AccountNumber jsonInt `json:"account_number"`
		Sequence      jsonInt `json:"sequence"`
		PubKey        *string `json:"pub_key"`
	}
	err = c.Query(ctx, "auth", "account", map[string]string{"address": a.Bech32()}, &d)
	if qe, ok := err.(*QueryError); ok && qe.Codespace == SDKCodespace && qe.Code == CodeNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	acc := &Account{Address: d.Address, AccountNumber: uint64(d.AccountNumber), Sequence: uint64(d.Sequence)}
	if d.PubKey != nil {
		acc.PubKey = *d.PubKey
	}
	return acc, nil
}

// Job is a job as /custom/jobs/job answers (modules/jobs/queries.py).
// Amounts are avcn decimal strings; Raw holds every field.
type Job struct {
	ID              string  `json:"id"`
	Poster          string  `json:"poster"`
	Worker          string  `json:"worker"`
	State           string  `json:"state"`
	TaskType        string  `json:"task_type"`
	Model           string  `json:"model"`
	InputHash       string  `json:"input_hash"`
	InlineText      *string `json:"inline_text"`
	Spec            string  `json:"spec"`
	MaxPrice        string  `json:"max_price"`
	Price           string  `json:"price"`
	Escrow          string  `json:"escrow"`
	Priority        int64   `json:"priority"`
	PostedHeight    int64   `json:"posted_height"`
	ClaimDeadline   int64   `json:"claim_deadline"`
	ClaimedHeight   int64   `json:"claimed_height"`
	ResultDeadline  int64   `json:"result_deadline"`
	SubmittedHeight int64   `json:"submitted_height"`
	FinishedHeight  int64   `json:"finished_height"`
	Attempts        int64   `json:"attempts"`
	OutputHash      string  `json:"output_hash"`
	ArtifactRef     string  `json:"artifact_ref"`
	ComputeUnits    string  `json:"compute_units"`
	Paid            string  `json:"paid"`
	Burned          string  `json:"burned"`
	Refunded        string  `json:"refunded"`
	LastError       string  `json:"last_error"`

	Raw map[string]any `json:"-"`
}

// Final tells whether nothing more will happen to the job.
func (j *Job) Final() bool { return contains(FinalJobStates, j.State) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func decodeJob(raw map[string]any) (*Job, error) {
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var j Job
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("unexpected job: %w", err)
	}
	j.Raw = raw
	return &j, nil
}

// Job reads one job.
func (c *Client) Job(ctx context.Context, id uint64) (*Job, error) {
	var raw map[string]any
	if err := c.Query(ctx, "jobs", "job", map[string]string{"id": strconv.FormatUint(id, 10)}, &raw); err != nil {
		return nil, err
	}
	return decodeJob(raw)
}

// JobFilter selects jobs by one of State, Poster or Worker; After is the
// previous page's NextAfter.
type JobFilter struct {
	State, Poster, Worker string
	Limit                 int
	After                 string
}

// JobPage is a page of jobs; NextAfter is "" on the last page.
type JobPage struct {
	Jobs      []*Job
	NextAfter string
}

// Jobs lists jobs of one state, poster or worker.
func (c *Client) Jobs(ctx context.Context, f JobFilter) (*JobPage, error) {
	req := map[string]any{}
	if f.State != "" {
		req["state"] = f.State
	}
	for k, v := range map[string]string{"poster": f.Poster, "worker": f.Worker} {
		if v != "" {
			a, err := ParseAddress(v)
			if err != nil {
				return nil, err
			}
			req[k] = a.Bech32()
		}
	}
	if f.Limit > 0 {
		req["limit"] = f.Limit
	}
	if f.After != "" {
		req["after"] = f.After
	}
	var d struct {
		Jobs      []map[string]any `json:"jobs"`
		NextAfter *string          `json:"next_after"`
	}
	if err := c.Query(ctx, "jobs", "jobs", req, &d); err != nil {
		return nil, err
	}
	page := &JobPage{}
	if d.NextAfter != nil {
		page.NextAfter = *d.NextAfter
	}
	for _, raw := range d.Jobs {
		j, err := decodeJob(raw)
		if err != nil {
			return nil, err
		}
		page.Jobs = append(page.Jobs, j)
	}
	return page, nil
}

// Bond is an address's bond in one role.
type Bond struct {
	Address     string `json:"address"`
	Role        string `json:"role"`
	Bonded      string `json:"bonded"`
	MinBond     string `json:"min_bond"`
	JailedUntil string `json:"jailed_until"`
	Tombstoned  bool   `json:"tombstoned"`
	Active      bool   `json:"active"`
	Unbonding   []struct {
		ID               string `json:"id"`
		Amount           string `json:"amount"`
		CompletionHeight string `json:"completion_height"`
	} `json:"unbonding"`
	Ed25519PubKey *string `json:"ed25519_pubkey"`
}

// Bonds lists an address's bonds in every role (worker, oracle, validator).
func (c *Client) Bonds(ctx context.Context, address string) ([]Bond, error) {
	a, err := ParseAddress(address)
	if err != nil {
		return nil, err
	}
	var d struct {
		Bonds []Bond `json:"bonds"`
	}
	if err := c.Query(ctx, "staking", "bonds", map[string]string{"address": a.Bech32()}, &d); err != nil {
		return nil, err
	}
	return d.Bonds, nil
}

// Bond is an address's bond in one role.
func (c *Client) Bond(ctx context.Context, address, role string) (*Bond, error) {
	a, err := ParseAddress(address)
	if err != nil {
		return nil, err
	}
	if err := checkRole(role); err != nil {
		return nil, err
	}
	var b Bond
	if err := c.Query(ctx, "staking", "bond", map[string]string{"address": a.Bech32(), "role": role}, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// Reputation is a worker's or oracle's score and every input of its formula.
type Reputation struct {
	Address        string `json:"address"`
	ScoreBps       int64  `json:"score_bps"`
	Score          string `json:"score"`
	Successes      string `json:"successes"`
	Total          string `json:"total"`
	PenaltiesBps   int64  `json:"penalties_bps"`
	UptimeBps      int64  `json:"uptime_bps"`
	StakeWeightBps int64  `json:"stake_weight_bps"`
	HasHistory     bool   `json:"has_history"`
}

func (c *Client) Reputation(ctx context.Context, address string) (*Reputation, error) {
	a, err := ParseAddress(address)
	if err != nil {
		return nil, err
	}
	var r Reputation
	if err := c.Query(ctx, "reputation", "score", map[string]string{"address": a.Bech32()}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Params are a module's params (auth, bank, jobs, staking, reputation,
// verification, …); numbers come as json.Number.
func (c *Client) Params(ctx context.Context, module string) (map[string]any, error) {
	var p map[string]any
	if err := c.Query(ctx, module, "params", nil, &p); err != nil {
		return nil, err
	}
	return p, nil
}

// GasPrice is avcn per gas: ClientOptions.GasPrice or the chain's auth min_gas_price.
func (c *Client) GasPrice(ctx context.Context) (*big.Int, error) {
	c.mu.Lock()
	gp := c.gasPrice
	c.mu.Unlock()
	if gp != nil {
		return gp, nil
	}
	p, err := c.Params(ctx, "auth")
	if err != nil {
		return nil, err
	}
	n, ok := new(big.Int).SetString(fmt.Sprint(p["min_gas_price"]), 10)
	if !ok {
		return nil, fmt.Errorf("auth params: unexpected min_gas_price %v", p["min_gas_price"])
	}
	c.mu.Lock()
	c.gasPrice = n
	c.mu.Unlock()
	return n, nil
}

// -- transactions -----------------------------------------------------------------

// TxEvent is an event of a tx result.
type TxEvent struct {
	Type       string `json:"type"`
	Attributes []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
		Index bool   `json:"index"`
	} `json:"attributes"`
}

// TxResult is a tx's CheckTx result (Height 0) or its result in a block.
type TxResult struct {
	Hash      string
	Height    int64
	Code      uint32
	Codespace string
	Log       string
	GasWanted int64
	GasUsed   int64
	Events    []TxEvent
}

// OK tells whether the tx passed.
func (r *TxResult) OK() bool { return r.Code == 0 }

// Attributes are the values of attribute key in events of type typ, in order.
func (r *TxResult) Attributes(typ, key string) []string {
	var out []string
	for _, e := range r.Events {
		if e.Type != typ {
			continue
		}
		for _, a := range e.Attributes {
			if a.Key == key {
				out = append(out, a.Value)
			}
		}
	}
	return out
}

type rawResult struct {
	Code      jsonInt   `json:"code"`
	Codespace string    `json:"codespace"`
	Log       string    `json:"log"`
	GasWanted jsonInt   `json:"gas_wanted"`
	GasUsed   jsonInt   `json:"gas_used"`
	Events    []TxEvent `json:"events"`
}

func (r rawResult) result(hash string, height int64) *TxResult {
	return &TxResult{
		Hash: strings.ToUpper(hash), Height: height, Code: uint32(r.Code), Codespace: r.Codespace, Log: r.Log,
		GasWanted: int64(r.GasWanted), GasUsed: int64(r.GasUsed), Events: r.Events,
	}
}

var simRefusal = regexp.MustCompile(`\(codespace (\S+), code (\d+)\)`)

// Simulate returns the gas the tx would use now (REST
// /cosmos/tx/v1beta1/simulate; the signature is not checked). A refusal is a
// *QueryError with the chain's codespace and code.
func (c *Client) Simulate(ctx context.Context, txBytes []byte) (uint64, error) {
	var d struct {
		GasInfo struct {
			GasUsed jsonInt `json:"gas_used"`
		} `json:"gas_info"`
	}
	err := c.rest(ctx, http.MethodPost, "/cosmos/tx/v1beta1/simulate", map[string]string{"tx_bytes": base64.StdEncoding.EncodeToString(txBytes)}, &d)
	if he, ok := err.(*HTTPError); ok && he.Status < 500 {
		qe := &QueryError{Log: "simulation failed: " + he.Message}
		if m := simRefusal.FindStringSubmatch(he.Message); m != nil {
			code, _ := strconv.ParseUint(m[2], 10, 32)
			qe.Codespace, qe.Code = m[1], uint32(code)
		}
		return 0, qe
	}
	if err != nil {
		return 0, err
	}
	return uint64(d.GasInfo.GasUsed), nil
}

func (c *Client) keyLock(addr string) *sync.Mutex {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.keyLocks[addr]
	if l == nil {
		l = &sync.Mutex{}
		c.keyLocks[addr] = l
	}
	return l
}

// signerState is the account number and the next sequence: the cached one
// when this client has sent from the key, the chain's otherwise (fresh).
func (c *Client) signerState(ctx context.Context, addr string) (num, seq uint64, fresh bool, err error) {
	c.mu.Lock()
	n, okN := c.accNum[addr]
	s, okS := c.nextSeq[addr]
	c.mu.Unlock()
	if okN && okS {
		return n, s, false, nil
	}
	acc, err := c.Account(ctx, addr)
	if err != nil {
		return 0, 0, false, err
	}
	if acc == nil {
		return 0, 0, false, &QueryError{Codespace: SDKCodespace, Code: 9, Log: fmt.Sprintf("account %s does not exist on chain; send it some VCN first", addr)}
	}
	c.mu.Lock()
	c.accNum[addr] = acc.AccountNumber
	c.mu.Unlock()
	return acc.AccountNumber, acc.Sequence, true, nil
}

// TxOptions tune SignAndBroadcast.
type TxOptions struct {
	// Gas is the gas limit; 0 simulates and multiplies by the gas adjustment.
	Gas uint64
	// Fee in avcn text ("0.001VCN"); gas × gas price by default.
	Fee  string
	Memo string
	// NoWait returns after CheckTx (Height 0) instead of waiting for the block.
	NoWait bool
	// Timeout of the wait for the block (default 30 s).
	Timeout time.Duration
	// NoCheck returns a refused or failed tx's result instead of a *TxFailed.
	NoCheck bool
}

// Sign signs msgs for the key's account number and sequence (from the chain,
// or this client's count of what it sent) without broadcasting.
func (c *Client) Sign(ctx context.Context, key *Key, msgs []*anypb.Any, gas uint64, fee, memo string) (*SignedTx, error) {
	if err := checkSigner(key); err != nil {
		return nil, err
	}
	num, seq, _, err := c.signerState(ctx, key.Bech32())
	if err != nil {
		return nil, err
	}
	return c.signAt(ctx, key, msgs, gas, fee, memo, num, seq)
}

func (c *Client) signAt(ctx context.Context, key *Key, msgs []*anypb.Any, gas uint64, fee, memo string, num, seq uint64) (*SignedTx, error) {
	chainID, err := c.ChainID(ctx)
	if err != nil {
		return nil, err
	}
	var feeAmount *big.Int
	if fee != "" {
		if feeAmount, err = ParseAmount(fee); err != nil {
			return nil, err
		}
	} else {
		gp, err := c.GasPrice(ctx)
		if err != nil {
			return nil, err
		}
		feeAmount = new(big.Int).Mul(gp, new(big.Int).SetUint64(gas))
	}
	return SignTx(key, msgs, SignOptions{
		ChainID: chainID, AccountNumber: num, Sequence: seq, GasLimit: gas, FeeAmount: feeAmount, Memo: memo,
	})
}

// EstimateGas is the simulated gas × the gas adjustment, rounded up.
func (c *Client) EstimateGas(ctx context.Context, key *Key, msgs []*anypb.Any, memo string) (uint64, error) {
	if err := checkSigner(key); err != nil {
		return 0, err
	}
	num, seq, _, err := c.signerState(ctx, key.Bech32())
	if err != nil {
		return 0, err
	}
	return c.estimateAt(ctx, key, msgs, memo, num, seq)
}

func (c *Client) estimateAt(ctx context.Context, key *Key, msgs []*anypb.Any, memo string, num, seq uint64) (uint64, error) {
	tx, err := c.signAt(ctx, key, msgs, DefaultSimGas, "", memo, num, seq)
	if err != nil {
		return 0, err
	}
	used, err := c.Simulate(ctx, tx.TxBytes)
	if err != nil {
		return 0, err
	}
	return uint64(math.Ceil(float64(used) * c.gasAdjust)), nil
}

// BroadcastSync is broadcast_tx_sync: the CheckTx result (Height 0).
func (c *Client) BroadcastSync(ctx context.Context, txBytes []byte) (*TxResult, error) {
	hash := TxHash(txBytes)
	var r struct {
		rawResult
		Hash string `json:"hash"`
	}
	err := c.Call(ctx, "broadcast_tx_sync", map[string]any{"tx": base64.StdEncoding.EncodeToString(txBytes)}, &r)
	if re, ok := err.(*RPCError); ok && strings.Contains(re.Error(), "tx already exists in cache") {
		// CometBFT answers a tx its cache holds with an RPC error; the solo node with sdk/19
		return &TxResult{Hash: hash, Code: CodeTxInCache, Codespace: SDKCodespace,
			Log: "tx " + hash + " is already in the mempool or was just committed"}, nil
	}
	if err != nil {
		return nil, err
	}
	if r.Hash == "" {
		r.Hash = hash
	}
	return r.rawResult.result(r.Hash, 0), nil
}

// GetTx is the tx's result once it is in a block; nil (no error) until the
// node has indexed it.
func (c *Client) GetTx(ctx context.Context, hash string) (*TxResult, error) {
	h := strings.TrimPrefix(strings.TrimPrefix(hash, "0x"), "0X")
	raw, err := hex.DecodeString(h)
	if err != nil || len(raw) != 32 {
		return nil, inputErr(KindBadInput, "a tx hash is 64 hex digits, got %q", short(hash))
	}
	var r struct {
		Hash     string    `json:"hash"`
		Height   jsonInt   `json:"height"`
		TxResult rawResult `json:"tx_result"`
	}
	err = c.Call(ctx, "tx", map[string]any{"hash": base64.StdEncoding.EncodeToString(raw), "prove": false}, &r)
	if re, ok := err.(*RPCError); ok && strings.Contains(strings.ToLower(re.Error()), "not found") {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if r.Hash == "" {
		r.Hash = h
	}
	return r.TxResult.result(r.Hash, int64(r.Height)), nil
}

// WaitForTx waits until the tx is in a block and returns its result (which
// may be a failure); past timeout (default 30 s) an error matching ErrTimeout.
func (c *Client) WaitForTx(ctx context.Context, hash string, timeout time.Duration) (*TxResult, error) {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	deadline := time.Now().Add(timeout)
	poll := 100 * time.Millisecond
	for {
		r, err := c.GetTx(ctx, hash)
		if err != nil || r != nil {
			return r, err
		}
		if time.Now().After(deadline) {
			return nil, &timeoutError{fmt.Sprintf("tx %s was not in a block after %s", hash, timeout)}
		}
		if err := sleep(ctx, poll); err != nil {
			return nil, err
		}
		if poll < 500*time.Millisecond {
			poll += 100 * time.Millisecond
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// SignAndBroadcast signs msgs (gas by simulation unless o.Gas is set),
// broadcasts sync and, unless o.NoWait, waits for the block. A refusal is a
// *TxFailed unless o.NoCheck. Txs from one key go one at a time, each with
// the next sequence; a stale cached sequence is refreshed once.
func (c *Client) SignAndBroadcast(ctx context.Context, key *Key, msgs []*anypb.Any, o TxOptions) (*TxResult, error) {
	if err := checkSigner(key); err != nil {
		return nil, err
	}
	addr := key.Bech32()
	l := c.keyLock(addr)
	l.Lock()
	var res *TxResult
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var num, seq uint64
		var fresh bool
		num, seq, fresh, err = c.signerState(ctx, addr)
		if err != nil {
			break
		}
		gas := o.Gas
		if gas == 0 {
			if gas, err = c.estimateAt(ctx, key, msgs, o.Memo, num, seq); err != nil {
				break
			}
		}
		var tx *SignedTx
		if tx, err = c.signAt(ctx, key, msgs, gas, o.Fee, o.Memo, num, seq); err != nil {
			break
		}
		if res, err = c.BroadcastSync(ctx, tx.TxBytes); err != nil {
			break
		}
		c.mu.Lock()
		if res.Code == 0 {
			c.nextSeq[addr] = seq + 1
		} else {
			delete(c.nextSeq, addr)
		}
		c.mu.Unlock()
		stale := res.Codespace == SDKCodespace && res.Code == CodeWrongSequence
		if !(stale && !fresh) {
			break
		}
	}
	l.Unlock()
	if err != nil {
		// a tx whose simulation was refused, or a node that went away: the
		// sequence may be unknown; read it again next time
		c.ResetSequence(key)
		return nil, err
	}
	if res.Code != 0 {
		if o.NoCheck {
			return res, nil
		}
		return nil, &TxFailed{Hash: res.Hash, Stage: "check", Codespace: res.Codespace, Code: res.Code, Log: res.Log}
	}
	if o.NoWait {
		return res, nil
	}
	done, err := c.WaitForTx(ctx, res.Hash, o.Timeout)
	if err != nil {
		return nil, err
	}
	if done.Code != 0 && !o.NoCheck {
		return nil, &TxFailed{Hash: done.Hash, Height: done.Height, Stage: "deliver", Codespace: done.Codespace, Code: done.Code, Log: done.Log}
	}
	return done, nil
}

// ResetSequence forgets the cached sequence of key (nil: of every key), after
// txs were sent from the same key elsewhere.
func (c *Client) ResetSequence(key *Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if key == nil {
		c.nextSeq = map[string]uint64{}
		return
	}
	delete(c.nextSeq, key.Bech32())
}

// -- the messages ---------------------------------------------------------------

func (c *Client) one(ctx context.Context, key *Key, m *anypb.Any, err error, o TxOptions) (*TxResult, error) {
	if err != nil {
		return nil, err
	}
	return c.SignAndBroadcast(ctx, key, []*anypb.Any{m}, o)
}

// Send sends amount ("1.5VCN", "1000avcn") from the key's account to to.
func (c *Client) Send(ctx context.Context, key *Key, to, amount string, o TxOptions) (*TxResult, error) {
	m, err := MsgSend(key.Bech32(), to, amount)
	return c.one(ctx, key, m, err, o)
}

// PostJob posts a job from the key's account (j.Poster is filled) and returns
// its id from the JobPosted event (0 with o.NoWait: the tx is not in a block yet).
func (c *Client) PostJob(ctx context.Context, key *Key, j PostJob, o TxOptions) (*TxResult, uint64, error) {
	j.Poster = key.Bech32()
	m, err := MsgPostJob(j)
	res, err := c.one(ctx, key, m, err, o)
	if err != nil {
		return nil, 0, err
	}
	var id uint64
	if ids := res.Attributes("JobPosted", "job_id"); len(ids) > 0 {
		id, _ = strconv.ParseUint(ids[0], 10, 64)
	}
	return res, id, nil
}

// CancelJob cancels a queued job of the key's account.
func (c *Client) CancelJob(ctx context.Context, key *Key, jobID uint64, o TxOptions) (*TxResult, error) {
	m, err := MsgCancelJob(key.Bech32(), jobID)
	return c.one(ctx, key, m, err, o)
}

// BondStake bonds amount in role (worker, oracle, validator).
func (c *Client) BondStake(ctx context.Context, key *Key, role, amount string, keys BondKeys, o TxOptions) (*TxResult, error) {
	m, err := MsgBond(key.Bech32(), role, amount, keys)
	return c.one(ctx, key, m, err, o)
}

// UnbondStake starts unbonding amount of the key's bond in role.
func (c *Client) UnbondStake(ctx context.Context, key *Key, role, amount string, o TxOptions) (*TxResult, error) {
	m, err := MsgUnbond(key.Bech32(), role, amount)
	return c.one(ctx, key, m, err, o)
}

// RegisterWorker registers the key's account as a worker (w.Address is filled).
func (c *Client) RegisterWorker(ctx context.Context, key *Key, w Worker, o TxOptions) (*TxResult, error) {
	w.Address = key.Bech32()
	m, err := MsgRegisterWorker(w)
	return c.one(ctx, key, m, err, o)
}

// Attest attests a sampled job as an oracle: the attestation is signed with
// oracleKey (the ed25519 key registered with the oracle's bond) for this
// chain, and the tx with key (a.Oracle is filled).
func (c *Client) Attest(ctx context.Context, key *Key, a Attestation, oracleKey ed25519.PrivateKey, o TxOptions) (*TxResult, error) {
	chainID, err := c.ChainID(ctx)
	if err != nil {
		return nil, err
	}
	a.Oracle = key.Bech32()
	if a, err = SignAttestation(chainID, a, oracleKey); err != nil {
		return nil, err
	}
	m, err := MsgAttest(a)
	return c.one(ctx, key, m, err, o)
}

// -- helpers ------------------------------------------------------------------------

// jsonInt reads an integer written as a JSON number or a decimal string.
type jsonInt int64

func (n *jsonInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		u, err2 := strconv.ParseUint(s, 10, 64)
		if err2 != nil {
			return fmt.Errorf("not an integer: %s", truncate(string(b), 40))
		}
		v = int64(u)
	}
	*n = jsonInt(v)
	return nil
}
