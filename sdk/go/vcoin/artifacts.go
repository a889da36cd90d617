package vcoin

// Artifact-store tokens: the signed, expiring pass a node's artifact store asks for.
//
// The node's store (/artifacts/{sha256} on the REST port) takes an upload (PUT)
// only with a token, and a download (GET/HEAD) of a blob that is not public only
// with a token of an account allowed to read it (the uploader, the job's poster,
// its worker, an oracle). The token travels in "Authorization: VCoin-Artifact
// <token>" or, for a link, as ?token=<token>.
//
// <token> = b64url(payload) "." b64url(signature), base64url without padding;
// payload = the UTF-8 JSON, keys sorted, no spaces, of {"exp": unix seconds,
// "op": "get"|"put", "pub": base64 (standard, padded) of the typed key, "sha256":
// 64 lower-case hex, "v": 1}. The typed key is the chain's: the 33-byte
// compressed key of a Secp256k1 key, 0xEE + those 33 bytes for an EthSecp256k1
// key. The signature is 64 bytes r‖s, low-S, RFC 6979, over sha256(payload)
// (Secp256k1) or keccak256(payload) (EthSecp256k1), so a token is
// deterministic: sdk/vectors/artifact_tokens.json holds the exact strings every
// SDK produces. The node refuses an exp in the past or more than an hour ahead.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// Artifact token settings.
const (
	ArtifactAuthScheme  = "VCoin-Artifact"
	ArtifactTokenTTL    = 600 * time.Second  // the default lifetime
	ArtifactTokenMaxTTL = 3600 * time.Second // the node refuses an exp further ahead
	EthKeyTag           = 0xEE               // first byte of an eth_secp256k1 typed key
)

// ArtifactOp is what a token allows: ArtifactGet (GET/HEAD) or ArtifactPut (PUT).
type ArtifactOp string

// The two ops.
const (
	ArtifactGet ArtifactOp = "get"
	ArtifactPut ArtifactOp = "put"
)

// TypedKey is the key as the chain types it: 33 bytes, or 0xEE + 33 for an
// eth_secp256k1 key.
func (k *Key) TypedKey() []byte {
	if k.algo == EthSecp256k1 {
		return append([]byte{EthKeyTag}, k.PublicKey()...)
	}
	return k.PublicKey()
}

// signDigest is the key's 64-byte r‖s low-S signature over sha256(msg)
// (Secp256k1) or keccak256(msg) (EthSecp256k1).
func (k *Key) signDigest(msg []byte) []byte {
	var digest []byte
	if k.algo == EthSecp256k1 {
		digest = keccak256(msg)
	} else {
		h := sha256.Sum256(msg)
		digest = h[:]
	}
	sig := ecdsa.Sign(k.priv, digest)
	r, s := sig.R(), sig.S()
	out := make([]byte, 64)
	r.PutBytesUnchecked(out[:32])
	s.PutBytesUnchecked(out[32:])
	return out
}

// ArtifactTokenPayload is the bytes a token signs (see the package doc above).
func ArtifactTokenPayload(k *Key, op ArtifactOp, sha string, exp int64) ([]byte, error) {
	if op != ArtifactGet && op != ArtifactPut {
		return nil, inputErr(KindBadInput, "an artifact token's op is \"get\" or \"put\", not %q", short(string(op)))
	}
	digest := strings.ToLower(sha)
	if !sha256Hex.MatchString(digest) || len(digest) != len(sha) {
		return nil, inputErr(KindBadInput, "an artifact is named by its sha256 in 64 hex digits, got %q", short(sha))
	}
	if exp < 0 {
		return nil, inputErr(KindBadInput, "exp is unix seconds, not %d", exp)
	}
	// struct fields in sorted key order; json.Marshal writes no spaces, and
	// escapes nothing in these ASCII values that Python's json.dumps would not
	return json.Marshal(struct {
		Exp    int64  `json:"exp"`
		Op     string `json:"op"`
		Pub    string `json:"pub"`
		SHA256 string `json:"sha256"`
		V      int    `json:"v"`
	}{exp, string(op), base64.StdEncoding.EncodeToString(k.TypedKey()), digest, 1})
}

// ArtifactTokenAt is the token of k for op on blob sha, valid until exp (unix seconds).
func ArtifactTokenAt(k *Key, op ArtifactOp, sha string, exp int64) (string, error) {
	payload, err := ArtifactTokenPayload(k, op, sha, exp)
	if err != nil {
		return "", err
	}
	b64 := base64.RawURLEncoding
	return b64.EncodeToString(payload) + "." + b64.EncodeToString(k.signDigest(payload)), nil
}

// ArtifactToken is a token valid for ttl (1 s to an hour; 0 means
// ArtifactTokenTTL) from now.
func ArtifactToken(k *Key, op ArtifactOp, sha string, ttl time.Duration) (string, error) {
	return artifactTokenFrom(k, op, sha, ttl, time.Now())
}

func artifactTokenFrom(k *Key, op ArtifactOp, sha string, ttl time.Duration, now time.Time) (string, error) {
	if ttl == 0 {
		ttl = ArtifactTokenTTL
	}
	if ttl < time.Second || ttl > ArtifactTokenMaxTTL {
		return "", inputErr(KindBadInput, "an artifact token's ttl is 1s..1h, not %s", ttl)
	}
	return ArtifactTokenAt(k, op, sha, now.Unix()+int64(ttl/time.Second))
}

// ArtifactURL is a link to an artifact that carries k's get token (?token=),
// for a browser or a plain HTTP client; a nil k gives the plain URL.
func (c *Client) ArtifactURL(sha string, k *Key, ttl time.Duration) (string, error) {
	u := c.restURL + "/artifacts/" + sha
	if k == nil {
		return u, nil
	}
	tok, err := ArtifactToken(k, ArtifactGet, sha, ttl)
	if err != nil {
		return "", err
	}
	return u + "?token=" + url.QueryEscape(tok), nil
}

// PutArtifact uploads data (PUT /artifacts/{sha256}) as k's account, with its
// signed put token, and returns the sha256 hex that names it.
func (c *Client) PutArtifact(ctx context.Context, k *Key, data []byte) (string, error) {
	if k == nil {
		return "", inputErr(KindBadKey, "an upload is signed: give the uploader's key")
	}
	if c.restURL == "" {
		return "", inputErr(KindBadInput, "uploading artifacts needs the node's REST URL (ClientOptions.REST)")
	}
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	tok, err := ArtifactToken(k, ArtifactPut, sha, 0)
	if err != nil {
		return "", err
	}
	u := c.restURL + "/artifacts/" + sha
	h := http.Header{"Authorization": {ArtifactAuthScheme + " " + tok}, "Content-Type": {"application/octet-stream"}}
	a, err := c.t.doWith(ctx, http.MethodPut, u, data, h, maxAnswerBytes)
	if err != nil {
		return "", err
	}
	if a.status >= 300 {
		return "", artifactRefusal(u, a, true)
	}
	return sha, nil
}

// artifactRefusal is the store's refusal with its {error, message}, and what
// to do about a 401 when the request was not signed.
func artifactRefusal(u string, a *answer, signed bool) error {
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	msg := ""
	if json.Unmarshal(a.body, &e) == nil && (e.Error != "" || e.Message != "") {
		msg = strings.TrimPrefix(e.Error+": "+e.Message, ": ")
	}
	if a.status == http.StatusUnauthorized && !signed {
		if msg == "" {
			msg = truncate(string(a.body), 300)
		}
		msg += " (the node wants a token: pass the key of an account that may read it)"
	}
	return &HTTPError{URL: u, Status: a.status, Body: string(a.body), Message: msg}
}
