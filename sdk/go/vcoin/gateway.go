package vcoin

// The gateway's API (vcoin-gateway): sign-in, API keys and the
// OpenAI-compatible routes.
//
//	gw := vcoin.NewGatewayClient("http://127.0.0.1:8080", vcoin.GatewayOptions{})
//	ek, _ := vcoin.EthKeyFromMnemonic(words)
//	gw.Login(ctx, ek)                      // EIP-4361 + personal_sign; a secp256k1 key: ADR-036
//	k, _ := gw.CreateKey(ctx, vcoin.KeyRequest{Name: "app", SpendCap: "10VCN"})
//	api := vcoin.NewGatewayClient(url, vcoin.GatewayOptions{APIKey: k.Key})
//	r, _ := api.Completions(ctx, map[string]any{"model": "tiny-lm", "prompt": "Hi", "max_tokens": 16})
//	for chunk, err := range api.ChatStream(ctx, body) { … }
//
// Sign-in: Login asks GET /v1/auth/challenge for the key's address and signs
// the message it answers: an EthSecp256k1 key signs the EIP-4361 text for its
// 0x address with PersonalSign; a Secp256k1 key signs the CAIP-122 text for
// its vcoin1 address as ADR-036 data. The session token (a JWT) authorises
// CreateKey, Keys and RevokeKey. The gateway posts each request as a job for
// the key's owner (MsgExec): the owner first grants the gateway's account
// MsgPostJob (GrantPostJob). A refusal is a *GatewayError with the HTTP status
// and OpenAI's code, type and param (401, 402, 403, 404, 429, 400, 5xx).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strings"
	"time"

	basev1beta1 "cosmossdk.io/api/cosmos/base/v1beta1"
	"google.golang.org/protobuf/types/known/anypb"

	authzpb "github.com/vcoin/vcoin/sdk/go/gen/vcoin/authz/v1"
)

// GatewayError is the gateway's refusal in OpenAI's shape, with the HTTP status.
type GatewayError struct {
	Status  int
	Message string
	Code    string
	Type    string
	Param   any
}

func (e *GatewayError) Error() string {
	what := e.Code
	if what == "" {
		what = e.Type
	}
	return fmt.Sprintf("gateway %d %s: %s", e.Status, what, e.Message)
}

// GatewayOptions configure a GatewayClient.
type GatewayOptions struct {
	// APIKey (vk_…) authorises the OpenAI routes; Token (a JWT) the key calls.
	APIKey string
	Token  string
	// Timeout of one request (default 5 minutes: an inference waits for its job).
	Timeout    time.Duration
	HTTPClient *http.Client
}

// GatewayClient is a client of one gateway.
type GatewayClient struct {
	BaseURL string
	APIKey  string
	Token   string
	http    *http.Client
}

// NewGatewayClient returns a client of the gateway at baseURL (with or without /v1).
func NewGatewayClient(baseURL string, o GatewayOptions) *GatewayClient {
	hc := o.HTTPClient
	if hc == nil {
		t := o.Timeout
		if t == 0 {
			t = 5 * time.Minute
		}
		hc = &http.Client{Timeout: t}
	}
	base := strings.TrimSuffix(strings.TrimRight(baseURL, "/"), "/v1")
	return &GatewayClient{BaseURL: base, APIKey: o.APIKey, Token: o.Token, http: hc}
}

// Session is a sign-in's answer.
type Session struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Address     string `json:"address"`
	EthAddress  string `json:"eth_address"`
}

// Challenge is GET /v1/auth/challenge's answer.
type Challenge struct {
	Nonce     string `json:"nonce"`
	ExpiresAt int64  `json:"expires_at"`
	Message   string `json:"message"`
	Domain    string `json:"domain"`
	URI       string `json:"uri"`
	ChainID   string `json:"chain_id"`
}

// APIKey is a key as /v1/keys describes it; Key (the secret) only when just made.
type APIKey struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Owner     string   `json:"owner"`
	Scopes    []string `json:"scopes"`
	SpendCap  string   `json:"spend_cap"`
	Spent     string   `json:"spent"`
	RateLimit int      `json:"rate_limit"`
	Created   int64    `json:"created"`
	Revoked   *int64   `json:"revoked"`
	Key       string   `json:"key,omitempty"`
}

// KeyRequest is what POST /v1/keys takes; SpendCap is avcn or "10VCN".
type KeyRequest struct {
	Name      string
	Scopes    []string
	SpendCap  string
	RateLimit int
}

// ADR036SignDoc is ADR-036's amino-JSON sign bytes of data signed by signer (vcoin1…).
func ADR036SignDoc(signer string, data []byte) []byte {
	return []byte(`{"account_number":"0","chain_id":"","fee":{"amount":[],"gas":"0"},"memo":"",` +
		`"msgs":[{"type":"sign/MsgSignData","value":{"data":"` + base64.StdEncoding.EncodeToString(data) +
		`","signer":"` + signer + `"}}],"sequence":"0"}`)
}

// GrantPostJob is the authz MsgGrant that lets the gateway's account post jobs
// for granter, up to spendLimit ("20VCN" or avcn).
func GrantPostJob(granter, gatewayAccount, spendLimit string) (*anypb.Any, error) {
	g, err := ParseAddress(granter)
	if err != nil {
		return nil, err
	}
	gw, err := ParseAddress(gatewayAccount)
	if err != nil {
		return nil, err
	}
	amount, err := ParseAmount(spendLimit)
	if err != nil {
		return nil, err
	}
	return Pack(&authzpb.MsgGrant{
		Granter: g.Bech32(), Grantee: gw.Bech32(), MsgTypeUrl: "/vcoin.jobs.v1.MsgPostJob",
		SpendLimit: &basev1beta1.Coin{Denom: Denom, Amount: amount.String()},
	})
}

type gwAuth int

const (
	authNone gwAuth = iota
	authKey
	authJWT
)

func (g *GatewayClient) do(ctx context.Context, method, path string, auth gwAuth, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.BaseURL+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("content-type", "application/json")
	if auth != authNone {
		secret, what := g.APIKey, "an API key (APIKey)"
		if auth == authJWT {
			secret, what = g.Token, "a session (Login first)"
		}
		if secret == "" {
			return nil, &GatewayError{Status: 401, Message: "this call needs " + what, Code: "missing_credentials"}
		}
		req.Header.Set("authorization", "Bearer "+secret)
	}
	resp, err := g.http.Do(req)
	if err != nil {
		return nil, &NodeUnreachableError{URL: g.BaseURL + path, Attempts: 1, Err: err}
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		return nil, gatewayError(resp)
	}
	return resp, nil
}

func gatewayError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var env struct {
		Error *struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    any    `json:"code"`
			Param   any    `json:"param"`
		} `json:"error"`
	}
	e := &GatewayError{Status: resp.StatusCode, Message: strings.TrimSpace(string(b))}
	if json.Unmarshal(b, &env) == nil && env.Error != nil {
		e.Message, e.Type, e.Param = env.Error.Message, env.Error.Type, env.Error.Param
		if s, ok := env.Error.Code.(string); ok {
			e.Code = s
		}
	}
	return e
}

func (g *GatewayClient) call(ctx context.Context, method, path string, auth gwAuth, body, out any) error {
	resp, err := g.do(ctx, method, path, auth, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("the gateway's answer to %s is not JSON: %w", path, err)
	}
	return nil
}

// Challenge asks for a sign-in message for address (0x… or vcoin1…).
func (g *GatewayClient) Challenge(ctx context.Context, address string) (*Challenge, error) {
	var c Challenge
	err := g.call(ctx, "GET", "/v1/auth/challenge?address="+url.QueryEscape(address), authNone, nil, &c)
	return &c, err
}

// Login signs in with key (see the file comment) and keeps the session token.
func (g *GatewayClient) Login(ctx context.Context, key *Key) (*Session, error) {
	eth := key.Algo() == EthSecp256k1
	address := key.Bech32()
	if eth {
		address = key.EIP55()
	}
	c, err := g.Challenge(ctx, address)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(c.Message, "\n")
	if len(lines) < 2 || lines[1] != address {
		return nil, &GatewayError{Message: "the challenge does not name this key's address", Code: "bad_challenge"}
	}
	body := map[string]string{"message": c.Message}
	if eth {
		body["signature"] = "0x" + hex.EncodeToString(key.PersonalSign([]byte(c.Message)))
	} else {
		body["signature"] = base64.StdEncoding.EncodeToString(key.Sign(ADR036SignDoc(address, []byte(c.Message))))
		body["pub_key"] = base64.StdEncoding.EncodeToString(key.PublicKey())
	}
	var s Session
	if err := g.call(ctx, "POST", "/v1/auth/login", authNone, body, &s); err != nil {
		return nil, err
	}
	g.Token = s.AccessToken
	return &s, nil
}

// CreateKey makes an API key; its Key (the secret) is in this answer only.
func (g *GatewayClient) CreateKey(ctx context.Context, r KeyRequest) (*APIKey, error) {
	cap := "0"
	if r.SpendCap != "" {
		n, err := ParseAmount(r.SpendCap)
		if err != nil {
			return nil, err
		}
		cap = n.String()
	}
	body := map[string]any{"name": r.Name, "spend_cap": cap}
	if r.Scopes != nil {
		body["scopes"] = r.Scopes
	}
	if r.RateLimit != 0 {
		body["rate_limit"] = r.RateLimit
	}
	var k APIKey
	return &k, g.call(ctx, "POST", "/v1/keys", authJWT, body, &k)
}

// Keys lists the signed-in account's keys.
func (g *GatewayClient) Keys(ctx context.Context) ([]APIKey, error) {
	var out struct {
		Data []APIKey `json:"data"`
	}
	return out.Data, g.call(ctx, "GET", "/v1/keys", authJWT, nil, &out)
}

// RevokeKey revokes one of the account's keys at once.
func (g *GatewayClient) RevokeKey(ctx context.Context, id string) error {
	return g.call(ctx, "DELETE", "/v1/keys/"+url.PathEscape(id), authJWT, nil, nil)
}

// Models lists the models registered on chain (OpenAI's list shape, data).
func (g *GatewayClient) Models(ctx context.Context) ([]map[string]any, error) {
	var out struct {
		Data []map[string]any `json:"data"`
	}
	return out.Data, g.call(ctx, "GET", "/v1/models", authKey, nil, &out)
}

func (g *GatewayClient) post(ctx context.Context, path string, body map[string]any) (map[string]any, error) {
	var out map[string]any
	return out, g.call(ctx, "POST", path, authKey, body, &out)
}

func with(body map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(body)+1)
	for kk, vv := range body {
		out[kk] = vv
	}
	out[k] = v
	return out
}

// Completions is POST /v1/completions (OpenAI's body: model, prompt, max_tokens, …).
func (g *GatewayClient) Completions(ctx context.Context, body map[string]any) (map[string]any, error) {
	return g.post(ctx, "/v1/completions", with(body, "stream", false))
}

// Chat is POST /v1/chat/completions.
func (g *GatewayClient) Chat(ctx context.Context, body map[string]any) (map[string]any, error) {
	return g.post(ctx, "/v1/chat/completions", with(body, "stream", false))
}

// Embeddings is POST /v1/embeddings.
func (g *GatewayClient) Embeddings(ctx context.Context, body map[string]any) (map[string]any, error) {
	return g.post(ctx, "/v1/embeddings", body)
}

// CompletionsStream yields a streamed completion's text_completion chunks (SSE) to [DONE].
func (g *GatewayClient) CompletionsStream(ctx context.Context, body map[string]any) iter.Seq2[map[string]any, error] {
	return g.stream(ctx, "/v1/completions", body)
}

// ChatStream yields a streamed chat completion's chat.completion.chunk objects (SSE) to [DONE].
func (g *GatewayClient) ChatStream(ctx context.Context, body map[string]any) iter.Seq2[map[string]any, error] {
	return g.stream(ctx, "/v1/chat/completions", body)
}

func (g *GatewayClient) stream(ctx context.Context, path string, body map[string]any) iter.Seq2[map[string]any, error] {
	return func(yield func(map[string]any, error) bool) {
		resp, err := g.do(ctx, "POST", path, authKey, with(body, "stream", true))
		if err != nil {
			yield(nil, err)
			return
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			line := strings.TrimRight(sc.Text(), "\r")
			if !strings.HasPrefix(line, "data:") {
				continue
			}
			data := strings.TrimSpace(line[5:])
			if data == "[DONE]" {
				return
			}
			var chunk map[string]any
			if err := json.Unmarshal([]byte(data), &chunk); err != nil {
				yield(nil, fmt.Errorf("a stream chunk is not JSON: %w", err))
				return
			}
			if !yield(chunk, nil) {
				return
			}
		}
		err = sc.Err()
		if err == nil {
			err = &GatewayError{Status: resp.StatusCode, Message: "the stream ended before [DONE]", Code: "bad_stream"}
		}
		yield(nil, err)
	}
}
