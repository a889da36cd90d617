package vcoin

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/anypb"
)

func TestNewMnemonicRoundTrip(t *testing.T) {
	for _, bits := range []int{128, 256} {
		m, err := NewMnemonic(bits)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(strings.Fields(m)); n != bits/32*3 {
			t.Fatalf("%d bits gave %d words", bits, n)
		}
		if err := ValidateMnemonic(m); err != nil {
			t.Fatalf("fresh mnemonic refused: %v", err)
		}
	}
	m, k, err := NewKey()
	if err != nil || k.Algo() != Secp256k1 || k.Path() != CosmosPath {
		t.Fatal(m, k, err)
	}
	k2, _ := KeyFromMnemonic("  " + strings.ToUpper(m) + "\n") // spacing and case do not matter
	if k2.Bech32() != k.Bech32() {
		t.Fatal("normalised mnemonic gave another key")
	}
	if _, err := NewMnemonic(100); !errors.Is(err, ErrInput) {
		t.Fatal(err)
	}
}

func TestDevKey(t *testing.T) {
	if got := DevKey("alice").Bech32(); got != "vcoin1l0stxljezfgwtggpdv8qur4ekrqpk3s7z3txth" {
		t.Fatalf("DevKey(alice) = %s", got)
	}
}

func TestBadInputMessages(t *testing.T) {
	cases := []struct {
		err  error
		kind *InputError
		says string
	}{
		{ValidateMnemonic(abandon[:len(abandon)-5] + "abandn"), ErrBadMnemonicWord, `word 12 of the mnemonic, "abandn"`},
		{ValidateMnemonic(strings.Repeat("abandon ", 12)), ErrBadMnemonicChecksum, "checksum"},
		{ValidateMnemonic(""), ErrBadMnemonicLength, "has 0"},
		{errOf(ParseAddress("")), ErrBadAddress, "empty"},
		{errOf(ParseAddress("cosmos19rl4cm2hmr8afy4kldpxz3fka4jguq0auqdal4")), ErrBadBech32Prefix, `prefix "cosmos"`},
		{errOf(ParseAddress("vcoin19rl4cm2hmr8afy4kldpxz3fka4jguq0as7xdlq")), ErrBadBech32Checksum, "checksum"},
		{errOf(ParseAddress("VCOIN19rl4cm2hmr8afy4kldpxz3fka4jguq0as7xdlf")), ErrBadAddress, "mixes upper and lower"},
		{errOf(ParseAddress("0x28ff5c6d57D8cFD492B6FB42614536eD648E01Fd")), ErrBadEIP55Checksum, "did you mean 0x28Ff5c6d57D8cFD492B6FB42614536eD648E01Fd"},
		{errOf(ParseAddress("0x28ff5c")), ErrBadAddress, "40 hex digits"},
		{errOf(ParseAddress("0x28ff5c6d57d8cfd492b6fb42614536ed648e01fg")), ErrBadAddress, "not hex"},
		{errOf(ParseAmount("1.0000000000000000001VCN")), ErrTooManyDecimals, "at most 18 decimals"},
		{errOf(ParseAmount("1.5avcn")), ErrBadAmount, "whole numbers"},
		{errOf(ParseAmount("-1VCN")), ErrBadAmount, "negative"},
		{errOf(ParseAmount("5 BTC")), ErrBadAmount, "unknown denom"},
		{errOf(ParseAmount("115792089237316195423570985008687907853269984665640564039457584007913129639936avcn")), ErrBadAmount, "over 2^256-1"},
		{errOf(KeyFromHex("00")), ErrBadKey, "32 bytes"},
		{errOf(KeyFromHex(strings.Repeat("f", 64))), ErrBadKey, "1..n-1"},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.kind) || !strings.Contains(c.err.Error(), c.says) {
			t.Errorf("want %s saying %q, got %v", c.kind.Kind, c.says, c.err)
		}
	}
	// the upper-case bech32 form is valid
	if a, err := ParseAddress("VCOIN19RL4CM2HMR8AFY4KLDPXZ3FKA4JGUQ0AS7XDLF"); err != nil || a.Bech32() != "vcoin19rl4cm2hmr8afy4kldpxz3fka4jguq0as7xdlf" {
		t.Errorf("upper-case bech32: %v", err)
	}
	for in, want := range map[string]string{"1.5VCN": "1500000000000000000", "2 vcn": "2000000000000000000", "7": "7", "0.1VCN": "100000000000000000"} {
		if n, err := ParseAmount(in); err != nil || n.String() != want {
			t.Errorf("ParseAmount(%q) = %v, %v", in, n, err)
		}
	}
	n, _ := ParseAmount("1.5VCN")
	if FormatVCN(n) != "1.5VCN" || AVCN(n) != "1500000000000000000avcn" {
		t.Errorf("FormatVCN %s AVCN %s", FormatVCN(n), AVCN(n))
	}
}

func errOf[T any](_ T, err error) error { return err }

// TestGeneratedCodeIsFresh: gen/ equals what proto/ generates now (needs the
// repo's .venv with grpcio-tools and cosmpy; skipped without it or with -short).
func TestGeneratedCodeIsFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	py := os.Getenv("VCOIN_PYTHON")
	if py == "" {
		py, _ = filepath.Abs(filepath.Join("..", "..", "..", ".venv", "bin", "python"))
	}
	if _, err := os.Stat(py); err != nil {
		t.Skipf("no Python with grpcio-tools at %s (set VCOIN_PYTHON): cannot regenerate", py)
	}
	cmd := exec.Command("bash", filepath.Join("..", "gen.sh"), "--check")
	cmd.Env = append(os.Environ(), "VCOIN_PYTHON="+py)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("gen.sh --check: %v\n%s", err, out)
	}
}

// BenchmarkSignSend: building, signing and encoding one bank send (no node).
func BenchmarkSignSend(b *testing.B) {
	key, _ := KeyFromMnemonic(abandon)
	for i := 0; i < b.N; i++ {
		m, err := MsgSend(key.Bech32(), "vcoin1avgyh77ycn997ja45q5q8ss8y9mr424jvyfr4a", "1avcn")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := SignTx(key, []*anypb.Any{m}, SignOptions{ChainID: "vcoin-devnet-1", AccountNumber: 12, Sequence: uint64(i), GasLimit: 50000}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAttestSignBytes: the bytes of modules/verification/attestation.py's sign_bytes.
func TestAttestSignBytes(t *testing.T) {
	ev := "6c6d32eae133302ec16aa1b0671e45136b59fd10cdb0fa717dcb106cbd2409be"
	for _, c := range []struct {
		chain string
		a     Attestation
		want  string
	}{
		{"vcoin-devnet-1", Attestation{JobID: 258, Verdict: VerdictPass, SimilarityBps: 9876, EvidenceHash: ev},
			"76636f696e2f6174746573742f76310e76636f696e2d6465766e65742d3100000000000001020126946c6d32eae133302ec16aa1b0671e45136b59fd10cdb0fa717dcb106cbd2409be"},
		{"x", Attestation{JobID: 1, Verdict: VerdictFail, EvidenceHash: strings.Repeat("0", 64)},
			"76636f696e2f6174746573742f7631017800000000000000010200000000000000000000000000000000000000000000000000000000000000000000"},
	} {
		b, err := AttestSignBytes(c.chain, c.a)
		if err != nil || hex.EncodeToString(b) != c.want {
			t.Errorf("AttestSignBytes(%s, %+v) = %x, %v", c.chain, c.a, b, err)
		}
	}
	_, priv, _ := ed25519.GenerateKey(nil)
	a, err := SignAttestation("vcoin-devnet-1", Attestation{Oracle: "vcoin1avgyh77ycn997ja45q5q8ss8y9mr424jvyfr4a", JobID: 3, Verdict: VerdictPass, SimilarityBps: 9999, EvidenceHash: ev}, priv)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := AttestSignBytes("vcoin-devnet-1", a)
	if !ed25519.Verify(priv.Public().(ed25519.PublicKey), msg, a.Signature) {
		t.Fatal("attestation signature does not verify")
	}
	if _, err := MsgAttest(a); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Attestation{
		{JobID: 1, Verdict: "maybe", EvidenceHash: ev},
		{JobID: 1, Verdict: VerdictPass, SimilarityBps: 10001, EvidenceHash: ev},
		{JobID: 0, Verdict: VerdictPass, EvidenceHash: ev},
		{JobID: 1, Verdict: VerdictPass, EvidenceHash: "ABC"},
	} {
		if _, err := AttestSignBytes("c", bad); !errors.Is(err, ErrInput) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

func TestBuildersRefuseBadInput(t *testing.T) {
	me := "vcoin19rl4cm2hmr8afy4kldpxz3fka4jguq0as7xdlf"
	job := PostJob{Poster: me, TaskType: "text-generation", Model: "tiny-lm", Input: []byte("x"), MaxPrice: "1VCN"}
	bad := map[string]func() error{
		"both inputs":     func() error { j := job; j.InputHash = strings.Repeat("a", 64); return errOf(MsgPostJob(j)) },
		"no input":        func() error { j := job; j.Input = nil; return errOf(MsgPostJob(j)) },
		"zero price":      func() error { j := job; j.MaxPrice = "0VCN"; return errOf(MsgPostJob(j)) },
		"spec not JSON":   func() error { j := job; j.Spec = "{"; return errOf(MsgPostJob(j)) },
		"bad poster":      func() error { j := job; j.Poster = "0x12"; return errOf(MsgPostJob(j)) },
		"cancel job 0":    func() error { return errOf(MsgCancelJob(me, 0)) },
		"unknown role":    func() error { return errOf(MsgBond(me, "miner", "1VCN", BondKeys{})) },
		"short ed25519":   func() error { return errOf(MsgBond(me, RoleOracle, "1VCN", BondKeys{Ed25519PubKey: []byte{1}})) },
		"unbond too fine": func() error { return errOf(MsgUnbond(me, RoleWorker, "0.0000000000000000001VCN")) },
		"send to cosmos1": func() error { return errOf(MsgSend(me, "cosmos19rl4cm2hmr8afy4kldpxz3fka4jguq0auqdal4", "1VCN")) },
		"attest short sig": func() error {
			return errOf(MsgAttest(Attestation{Oracle: me, JobID: 1, Verdict: "pass", EvidenceHash: strings.Repeat("a", 64), Signature: []byte{1}}))
		},
	}
	for name, f := range bad {
		if err := f(); !errors.Is(err, ErrInput) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := errOf(MsgSend(me, "cosmos19rl4cm2hmr8afy4kldpxz3fka4jguq0auqdal4", "1VCN")); !errors.Is(err, ErrBadBech32Prefix) || !strings.HasPrefix(err.Error(), "to: ") {
		t.Errorf("the field is named: %v", err)
	}
}
