package vcoin

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"golang.org/x/crypto/ripemd160" //nolint:staticcheck // Cosmos addresses are ripemd160(sha256(pubkey))
)

// Algo is a key's kind, as Cosmos names its public key types.
type Algo string

const (
	// Secp256k1 is the Cosmos key (/cosmos.crypto.secp256k1.PubKey): the
	// address is ripemd160(sha256(compressed pubkey)). The node accepts it
	// for txs.
	Secp256k1 Algo = "secp256k1"
	// EthSecp256k1 is the Ethereum key (/ethermint.crypto.v1.ethsecp256k1.PubKey):
	// the address is keccak256(x‖y)[12:]; it signs txs over keccak256 (eth.go).
	EthSecp256k1 Algo = "eth_secp256k1"
)

// HD paths (BIP-44).
const (
	CosmosPath   = "m/44'/118'/0'/0/0"
	EthereumPath = "m/44'/60'/0'/0/0"
)

// Key is a secp256k1 private key with its algo (which address it controls).
type Key struct {
	priv *secp256k1.PrivateKey
	algo Algo
	path string
}

// KeyFromMnemonic derives the Cosmos key (m/44'/118'/0'/0/0, empty BIP-39
// passphrase): the account the node's txs are signed by, as vcoind keys,
// Keplr and gaiad derive it.
func KeyFromMnemonic(mnemonic string) (*Key, error) {
	return DeriveKey(mnemonic, "", CosmosPath, Secp256k1)
}

// EthKeyFromMnemonic derives the Ethereum key (m/44'/60'/0'/0/0) of MetaMask
// and other Ethereum wallets, with its keccak address; it signs Cosmos txs too.
func EthKeyFromMnemonic(mnemonic string) (*Key, error) {
	return DeriveKey(mnemonic, "", EthereumPath, EthSecp256k1)
}

// DeriveKey derives any BIP-32 path from a mnemonic and BIP-39 passphrase.
func DeriveKey(mnemonic, passphrase, path string, algo Algo) (*Key, error) {
	if algo != Secp256k1 && algo != EthSecp256k1 {
		return nil, inputErr(KindBadKey, "unknown key algo %q: secp256k1 or eth_secp256k1", algo)
	}
	seed, err := MnemonicToSeed(mnemonic, passphrase)
	if err != nil {
		return nil, err
	}
	priv, err := derivePath(seed, path)
	if err != nil {
		return nil, err
	}
	return &Key{priv: secp256k1.PrivKeyFromBytes(priv), algo: algo, path: path}, nil
}

// NewKey makes a fresh 24-word mnemonic and its Cosmos key.
func NewKey() (string, *Key, error) {
	m, err := NewMnemonic(256)
	if err != nil {
		return "", nil, err
	}
	k, err := KeyFromMnemonic(m)
	return m, k, err
}

// KeyFromBytes takes a 32-byte private key.
func KeyFromBytes(priv []byte, algo Algo) (*Key, error) {
	if algo != Secp256k1 && algo != EthSecp256k1 {
		return nil, inputErr(KindBadKey, "unknown key algo %q: secp256k1 or eth_secp256k1", algo)
	}
	if len(priv) != 32 {
		return nil, inputErr(KindBadKey, "a secp256k1 private key is 32 bytes, got %d", len(priv))
	}
	var s secp256k1.ModNScalar
	if overflow := s.SetByteSlice(priv); overflow || s.IsZero() {
		return nil, inputErr(KindBadKey, "the private key is not in 1..n-1 of secp256k1")
	}
	return &Key{priv: secp256k1.NewPrivateKey(&s), algo: algo}, nil
}

// KeyFromHex takes a private key as 64 hex digits (0x optional), Cosmos algo.
func KeyFromHex(text string) (*Key, error) {
	s := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(text), "0x"), "0X")
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, inputErr(KindBadKey, "a private key is 64 hex digits")
	}
	return KeyFromBytes(b, Secp256k1)
}

// DevKey is a devnet account's key by name ("alice", "bob", …): the private
// key is sha256("vcoin-dev-key" + name), as genesis/devnet.py makes them.
// Their seeds are public: for local devnets only, never for real funds.
func DevKey(name string) *Key {
	sum := sha256.Sum256([]byte("vcoin-dev-key" + name))
	k, _ := KeyFromBytes(sum[:], Secp256k1) // a sha256 is in 1..n-1 but with probability 2^-128
	return k
}

// Algo is secp256k1 (Cosmos) or eth_secp256k1.
func (k *Key) Algo() Algo { return k.algo }

// Path is the HD path the key came from ("" for an imported key).
func (k *Key) Path() string { return k.path }

// PrivateKey returns the 32 secret bytes.
func (k *Key) PrivateKey() []byte { return k.priv.Serialize() }

// PublicKey is the 33-byte compressed public key.
func (k *Key) PublicKey() []byte { return k.priv.PubKey().SerializeCompressed() }

// PublicKeyUncompressed is the 64-byte x‖y (without the 04 prefix).
func (k *Key) PublicKeyUncompressed() []byte { return k.priv.PubKey().SerializeUncompressed()[1:] }

// Address is the account the key controls: ripemd160(sha256(pubkey)) for
// secp256k1, keccak256(x‖y)[12:] for eth_secp256k1.
func (k *Key) Address() Address {
	var a Address
	if k.algo == EthSecp256k1 {
		copy(a[:], keccak256(k.PublicKeyUncompressed())[12:])
		return a
	}
	sum := sha256.Sum256(k.PublicKey())
	r := ripemd160.New()
	r.Write(sum[:])
	copy(a[:], r.Sum(nil))
	return a
}

// Bech32 is the vcoin1… form of the key's address.
func (k *Key) Bech32() string { return k.Address().Bech32() }

// EIP55 is the 0x… form of the key's address.
func (k *Key) EIP55() string { return k.Address().EIP55() }

// Sign signs sha256(msg) as Cosmos' secp256k1 keys do: 64 bytes r‖s, RFC 6979
// deterministic nonce, low S.
func (k *Key) Sign(msg []byte) []byte {
	h := sha256.Sum256(msg)
	sig := ecdsa.Sign(k.priv, h[:])
	r, s := sig.R(), sig.S()
	out := make([]byte, 64)
	r.PutBytesUnchecked(out[:32])
	s.PutBytesUnchecked(out[32:])
	return out
}

// VerifySignature checks a 64-byte r‖s signature over sha256(msg) by a
// 33-byte compressed public key (high S is refused, as Cosmos does).
func VerifySignature(pubkey, msg, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	pk, err := secp256k1.ParsePubKey(pubkey)
	if err != nil {
		return false
	}
	var r, s secp256k1.ModNScalar
	if r.SetByteSlice(sig[:32]) || s.SetByteSlice(sig[32:]) || s.IsOverHalfOrder() {
		return false
	}
	h := sha256.Sum256(msg)
	return ecdsa.NewSignature(&r, &s).Verify(h[:], pk)
}

// -- BIP-32 ------------------------------------------------------------------

const hardened = uint32(0x80000000)

func parsePath(path string) ([]uint32, error) {
	parts := strings.Split(strings.TrimSpace(path), "/")
	if len(parts) == 0 || parts[0] != "m" {
		return nil, inputErr(KindBadInput, "HD path %q must start with m/ (e.g. %s)", path, CosmosPath)
	}
	out := make([]uint32, 0, len(parts)-1)
	for _, p := range parts[1:] {
		h := strings.HasSuffix(p, "'") || strings.HasSuffix(p, "h")
		n, err := strconv.ParseUint(strings.TrimRight(p, "'h"), 10, 31)
		if err != nil {
			return nil, inputErr(KindBadInput, "HD path %q: %q is not an index below 2^31", path, p)
		}
		i := uint32(n)
		if h {
			i |= hardened
		}
		out = append(out, i)
	}
	return out, nil
}

func derivePath(seed []byte, path string) ([]byte, error) {
	idx, err := parsePath(path)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha512.New, []byte("Bitcoin seed"))
	mac.Write(seed)
	I := mac.Sum(nil)
	var key secp256k1.ModNScalar
	if key.SetByteSlice(I[:32]) || key.IsZero() {
		return nil, inputErr(KindBadKey, "this seed gives an invalid BIP-32 master key; use another mnemonic")
	}
	chain := I[32:]
	for _, i := range idx {
		mac := hmac.New(sha512.New, chain)
		if i >= hardened {
			kb := key.Bytes()
			mac.Write([]byte{0})
			mac.Write(kb[:])
		} else {
			mac.Write(secp256k1.NewPrivateKey(&key).PubKey().SerializeCompressed())
		}
		var ib [4]byte
		binary.BigEndian.PutUint32(ib[:], i)
		mac.Write(ib[:])
		I := mac.Sum(nil)
		var il secp256k1.ModNScalar
		if il.SetByteSlice(I[:32]) {
			return nil, inputErr(KindBadKey, "BIP-32 index %d of %s gives an invalid key (probability 2^-127); use another index", i&^hardened, path)
		}
		key.Add(&il)
		if key.IsZero() {
			return nil, inputErr(KindBadKey, "BIP-32 index %d of %s gives an invalid key", i&^hardened, path)
		}
		chain = I[32:]
	}
	kb := key.Bytes()
	return kb[:], nil
}
