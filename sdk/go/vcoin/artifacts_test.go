package vcoin

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// sdk/vectors/artifact_tokens.json (written from the node's key code): every
// token byte for byte for both key types, and the client's upload, fetch and
// job output carrying the token of the key they are given.

type tokenVector struct {
	Name       string `json:"name"`
	Algo       string `json:"algo"`
	PrivateKey string `json:"private_key"`
	TypedKey   string `json:"typed_key"`
	Address    string `json:"address"`
	Op         string `json:"op"`
	SHA256     string `json:"sha256"`
	Exp        int64  `json:"exp"`
	Payload    string `json:"payload"`
	Signature  string `json:"signature"`
	Token      string `json:"token"`
}

type tokenPayload struct {
	Exp    int64  `json:"exp"`
	Op     string `json:"op"`
	Pub    string `json:"pub"`
	SHA256 string `json:"sha256"`
	V      int    `json:"v"`
}

func loadTokenVectors(t *testing.T) (string, []tokenVector) {
	t.Helper()
	path := os.Getenv("VCOIN_ARTIFACT_VECTORS")
	if path == "" {
		path = filepath.Join("..", "..", "vectors", "artifact_tokens.json")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the artifact token vectors (%s; set VCOIN_ARTIFACT_VECTORS elsewhere): %v", path, err)
	}
	var v struct {
		AuthScheme string        `json:"auth_scheme"`
		Tokens     []tokenVector `json:"artifact_tokens"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	if len(v.Tokens) < 4 {
		t.Fatalf("%s holds %d tokens", path, len(v.Tokens))
	}
	return v.AuthScheme, v.Tokens
}

func vectorKey(t *testing.T, v tokenVector) *Key {
	t.Helper()
	priv, _ := hex.DecodeString(v.PrivateKey)
	k, err := KeyFromBytes(priv, Algo(v.Algo))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// verifyToken checks what the node checks (the signature by the payload's own
// key) and returns the payload.
func verifyToken(t *testing.T, token string) tokenPayload {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 2 || strings.ContainsAny(token, "=+/") {
		t.Fatalf("not b64url(payload).b64url(sig) without padding: %q", token)
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	sig, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	var p tokenPayload
	if err := errors.Join(err1, err2, json.Unmarshal(payload, &p)); err != nil || len(sig) != 64 {
		t.Fatalf("token %q: %v (%d signature bytes)", token, err, len(sig))
	}
	typed, _ := base64.StdEncoding.DecodeString(p.Pub)
	digest := sha256.Sum256(payload)
	d := digest[:]
	if len(typed) == 34 && typed[0] == EthKeyTag {
		typed, d = typed[1:], keccak256(payload)
	}
	pk, err := secp256k1.ParsePubKey(typed)
	if err != nil {
		t.Fatalf("token key: %v", err)
	}
	var r, s secp256k1.ModNScalar
	r.SetByteSlice(sig[:32])
	s.SetByteSlice(sig[32:])
	if s.IsOverHalfOrder() || !ecdsa.NewSignature(&r, &s).Verify(d, pk) {
		t.Fatalf("token %q: the signature does not verify against its key", token)
	}
	return p
}

func TestArtifactTokenVectors(t *testing.T) {
	scheme, vecs := loadTokenVectors(t)
	if scheme != ArtifactAuthScheme {
		t.Fatalf("auth scheme %q", scheme)
	}
	algos := map[string]bool{}
	for _, v := range vecs {
		algos[v.Algo+"/"+v.Op] = true
		t.Run(v.Name, func(t *testing.T) {
			k := vectorKey(t, v)
			if got := hex.EncodeToString(k.TypedKey()); got != v.TypedKey {
				t.Fatalf("typed key %s, want %s", got, v.TypedKey)
			}
			if k.Bech32() != v.Address {
				t.Fatalf("address %s, want %s", k.Bech32(), v.Address)
			}
			p, err := ArtifactTokenPayload(k, ArtifactOp(v.Op), v.SHA256, v.Exp)
			if err != nil || string(p) != v.Payload {
				t.Fatalf("payload %s (%v), want %s", p, err, v.Payload)
			}
			tok, err := ArtifactTokenAt(k, ArtifactOp(v.Op), v.SHA256, v.Exp)
			if err != nil || tok != v.Token {
				t.Fatalf("token %s (%v), want %s", tok, err, v.Token)
			}
			sig, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
			if hex.EncodeToString(sig) != v.Signature {
				t.Fatalf("signature %x, want %s", sig, v.Signature)
			}
			// the same token from a clock that reads exp - ttl
			now := time.Unix(v.Exp-600, 900_000_000)
			if again, err := artifactTokenFrom(k, ArtifactOp(v.Op), v.SHA256, 10*time.Minute, now); err != nil || again != tok {
				t.Fatalf("ArtifactToken at exp-600 = %s, %v", again, err)
			}
			if p := verifyToken(t, tok); p.Exp != v.Exp || p.Op != v.Op || p.SHA256 != v.SHA256 || p.V != 1 {
				t.Fatalf("payload %+v", p)
			}
		})
	}
	for _, want := range []string{"secp256k1/get", "secp256k1/put", "eth_secp256k1/get", "eth_secp256k1/put"} {
		if !algos[want] {
			t.Fatalf("no %s vector", want)
		}
	}
}

func TestArtifactTokenRefusals(t *testing.T) {
	_, vecs := loadTokenVectors(t)
	k := vectorKey(t, vecs[0])
	d := strings.Repeat("ab", 32)
	if _, err := ArtifactToken(k, "delete", d, 0); !errors.Is(err, ErrInput) {
		t.Fatalf("op delete: %v", err)
	}
	for _, bad := range []string{strings.Repeat("ab", 31), strings.Repeat("zz", 32), "", d + "\n"} {
		if _, err := ArtifactToken(k, ArtifactGet, bad, 0); !errors.Is(err, ErrInput) {
			t.Fatalf("digest %q: %v", bad, err)
		}
	}
	for _, ttl := range []time.Duration{-time.Second, time.Millisecond, time.Hour + time.Second} {
		if _, err := ArtifactToken(k, ArtifactGet, d, ttl); !errors.Is(err, ErrInput) {
			t.Fatalf("ttl %s: %v", ttl, err)
		}
	}
	tok, err := ArtifactToken(k, ArtifactGet, strings.ToUpper(d), 0)
	if err != nil {
		t.Fatal(err)
	}
	p := verifyToken(t, tok)
	if left := p.Exp - time.Now().Unix(); p.SHA256 != d || left < 595 || left > 600 {
		t.Fatalf("payload %+v (exp %d s ahead)", p, left)
	}
}

// tokenStore is a fake artifact store that records each request's token.
type tokenStore struct {
	mu    sync.Mutex
	blobs map[string][]byte
	seen  []string // method path auth
}

func (s *tokenStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	auth := r.Header.Get("Authorization")
	if auth == "" && r.URL.Query().Get("token") != "" {
		auth = ArtifactAuthScheme + " " + r.URL.Query().Get("token")
	}
	s.seen = append(s.seen, r.Method+" "+r.URL.Path+" "+auth)
	sha := strings.TrimPrefix(r.URL.Path, "/artifacts/")
	if auth == "" {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"unauthorized","message":"this needs a token"}`))
		return
	}
	if r.Method == http.MethodPut {
		b, _ := io.ReadAll(r.Body)
		s.blobs[sha] = b
		w.WriteHeader(http.StatusCreated)
		return
	}
	b, ok := s.blobs[sha]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	_, _ = w.Write(b)
}

func (s *tokenStore) token(t *testing.T, i int, method string) tokenPayload {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	f := strings.Fields(s.seen[i])
	if len(f) != 4 || f[0] != method || f[2] != ArtifactAuthScheme {
		t.Fatalf("request %d: %q", i, s.seen[i])
	}
	return verifyToken(t, f[3])
}

func TestArtifactUploadAndReadsAreSigned(t *testing.T) {
	_, vecs := loadTokenVectors(t)
	for _, v := range vecs {
		if v.Op != "put" {
			continue
		}
		t.Run(v.Algo, func(t *testing.T) {
			k := vectorKey(t, v)
			st := &tokenStore{blobs: map[string][]byte{}}
			srv := httptest.NewServer(st)
			defer srv.Close()
			c, err := NewClient(ClientOptions{RPC: srv.URL, REST: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			data := []byte("uploaded bytes")
			sum := sha256.Sum256(data)
			sha := hex.EncodeToString(sum[:])
			if got, err := c.PutArtifact(ctx, k, data); err != nil || got != sha {
				t.Fatalf("PutArtifact = %s, %v", got, err)
			}
			if got, err := c.FetchArtifact(ctx, sha, k); err != nil || string(got) != string(data) {
				t.Fatalf("FetchArtifact = %q, %v", got, err)
			}
			out, err := c.JobOutput(ctx, &Job{ID: "3", State: "settled", OutputHash: sha}, k)
			if err != nil || string(out) != string(data) {
				t.Fatalf("JobOutput = %q, %v", out, err)
			}
			pub := base64.StdEncoding.EncodeToString(k.TypedKey())
			for i, op := range []string{"put", "get", "get"} {
				p := st.token(t, i, map[string]string{"put": "PUT", "get": "GET"}[op])
				if p.Op != op || p.SHA256 != sha || p.Pub != pub {
					t.Fatalf("request %d: token %+v", i, p)
				}
			}
			// a link carries the token as ?token=
			link, err := c.ArtifactURL(sha, k, 0)
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(link)
			if p := verifyToken(t, u.Query().Get("token")); p.Op != "get" || p.SHA256 != sha {
				t.Fatalf("link token %+v", p)
			}
			// without a key: no token, and the 401 says what is missing
			var he *HTTPError
			if _, err := c.FetchArtifact(ctx, sha, nil); !errors.As(err, &he) || he.Status != 401 || !strings.Contains(err.Error(), "wants a token") {
				t.Fatalf("unsigned fetch: %v", err)
			}
			if _, err := c.PutArtifact(ctx, nil, data); !errors.Is(err, ErrInput) {
				t.Fatalf("unsigned upload: %v", err)
			}
		})
	}
}
