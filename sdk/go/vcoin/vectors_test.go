package vcoin

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	bankv1beta1 "cosmossdk.io/api/cosmos/bank/v1beta1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"

	"google.golang.org/protobuf/types/known/anypb"

	// every generated package, so that any vector's type URL resolves
	_ "github.com/vcoin/vcoin/sdk/go/gen/vcoin/auth/v1"
	_ "github.com/vcoin/vcoin/sdk/go/gen/vcoin/authz/v1"
	_ "github.com/vcoin/vcoin/sdk/go/gen/vcoin/drip/v1"
	jobsv1 "github.com/vcoin/vcoin/sdk/go/gen/vcoin/jobs/v1"
	reputationv1 "github.com/vcoin/vcoin/sdk/go/gen/vcoin/reputation/v1"
	stakingv1 "github.com/vcoin/vcoin/sdk/go/gen/vcoin/staking/v1"
	verificationv1 "github.com/vcoin/vcoin/sdk/go/gen/vcoin/verification/v1"
)

// The shared vectors (sdk/vectors/vectors.json, written from the node's code):
// every key, address, amount, sign doc, signature, tx and hash must come out
// byte for byte, and every bad input must be refused with its kind.

// vecTx is one signed tx of the shared vectors (txs and eth_txs).
type vecTx struct {
	Name          string          `json:"name"`
	Signer        string          `json:"signer"`
	TypeURL       string          `json:"type_url"`
	Msg           json.RawMessage `json:"msg"`
	MsgBytes      string          `json:"msg_bytes"`
	ChainID       string          `json:"chain_id"`
	AccountNumber string          `json:"account_number"`
	Sequence      string          `json:"sequence"`
	Fee           []vecCoin       `json:"fee"`
	GasLimit      string          `json:"gas_limit"`
	Memo          string          `json:"memo"`
	BodyBytes     string          `json:"body_bytes"`
	AuthInfoBytes string          `json:"auth_info_bytes"`
	SignDoc       string          `json:"sign_doc"`
	Signature     string          `json:"signature"`
	TxRaw         string          `json:"tx_raw"`
	TxHash        string          `json:"tx_hash"`
	PubKeyTypeURL string          `json:"pubkey_type_url"` // eth_txs only
}

type vecCoin struct {
	Denom  string `json:"denom"`
	Amount string `json:"amount"`
}

type vecKey struct {
	Path                  string `json:"path"`
	Algo                  string `json:"algo"`
	PrivateKey            string `json:"private_key"`
	PublicKey             string `json:"public_key"`
	PublicKeyUncompressed string `json:"public_key_uncompressed"`
	AddressHex            string `json:"address_hex"`
	Address               string `json:"address"`
	AddressEIP55          string `json:"address_eip55"`
	KeysOnly              bool   `json:"keys_only"`
}

type vectors struct {
	Version      int    `json:"version"`
	Bech32Prefix string `json:"bech32_prefix"`
	Denom        string `json:"denom"`
	DisplayDenom string `json:"display_denom"`
	Decimals     int    `json:"decimals"`
	Keys         []struct {
		Name             string `json:"name"`
		Mnemonic         string `json:"mnemonic"`
		Bip39Passphrase  string `json:"bip39_passphrase"`
		Cosmos, Ethereum vecKey
	} `json:"keys"`
	Amounts []struct {
		Input string    `json:"input"`
		Coins []vecCoin `json:"coins"`
	} `json:"amounts"`
	BadInputs []struct {
		Kind  string `json:"kind"`
		Input string `json:"input"`
	} `json:"bad_inputs"`
	Txs []vecTx `json:"txs"`
}

// readVectors parses the shared vectors ($VCOIN_VECTORS, else sdk/vectors/vectors.json)
// into v.
func readVectors(t *testing.T, v any) {
	t.Helper()
	path := os.Getenv("VCOIN_VECTORS")
	if path == "" {
		path = filepath.Join("..", "..", "vectors", "vectors.json")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the shared vectors (%s; set VCOIN_VECTORS elsewhere): %v", path, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
}

func loadVectors(t *testing.T) *vectors {
	t.Helper()
	var v vectors
	readVectors(t, &v)
	if v.Version != 1 {
		t.Fatalf("vectors version %d; this test reads version 1", v.Version)
	}
	return &v
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex in vectors: %v", err)
	}
	return b
}

func eqHex(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	if hex.EncodeToString(got) != want {
		t.Errorf("%s:\n got %x\nwant %s", what, got, want)
	}
}

func eqStr(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

func u64(t *testing.T, s string) uint64 {
	t.Helper()
	n, ok := new(big.Int).SetString(s, 10)
	if !ok || !n.IsUint64() {
		t.Fatalf("bad uint64 %q in vectors", s)
	}
	return n.Uint64()
}

func TestVectorConstants(t *testing.T) {
	v := loadVectors(t)
	eqStr(t, "prefix", v.Bech32Prefix, Bech32Prefix)
	eqStr(t, "denom", v.Denom, Denom)
	eqStr(t, "display denom", v.DisplayDenom, DisplayDenom)
	if v.Decimals != Decimals {
		t.Errorf("decimals %d, want %d", v.Decimals, Decimals)
	}
}

func TestVectorKeys(t *testing.T) {
	v := loadVectors(t)
	if len(v.Keys) == 0 {
		t.Fatal("no keys in the vectors")
	}
	for _, k := range v.Keys {
		t.Run(k.Name, func(t *testing.T) {
			for _, c := range []struct {
				vk   vecKey
				algo Algo
			}{{k.Cosmos, Secp256k1}, {k.Ethereum, EthSecp256k1}} {
				eqStr(t, "algo", c.vk.Algo, string(c.algo))
				key, err := DeriveKey(k.Mnemonic, k.Bip39Passphrase, c.vk.Path, c.algo)
				if err != nil {
					t.Fatalf("%s: %v", c.vk.Path, err)
				}
				eqHex(t, c.vk.Path+" private key", key.PrivateKey(), c.vk.PrivateKey)
				eqHex(t, c.vk.Path+" public key", key.PublicKey(), c.vk.PublicKey)
				if c.vk.PublicKeyUncompressed != "" {
					eqHex(t, c.vk.Path+" uncompressed", key.PublicKeyUncompressed(), c.vk.PublicKeyUncompressed)
				}
				a := key.Address()
				eqStr(t, c.vk.Path+" address hex", a.Hex(), c.vk.AddressHex)
				eqStr(t, c.vk.Path+" bech32", key.Bech32(), c.vk.Address)
				eqStr(t, c.vk.Path+" eip55", key.EIP55(), c.vk.AddressEIP55)
				// both forms parse back to the same 20 bytes
				for _, form := range []string{c.vk.Address, c.vk.AddressEIP55} {
					p, err := ParseAddress(form)
					if err != nil || p != a {
						t.Errorf("ParseAddress(%s) = %s, %v", form, p.Hex(), err)
					}
				}
				// the lower- and upper-case 0x forms carry no checksum and parse
				for _, form := range []string{"0x" + c.vk.AddressHex, "0x" + upper(c.vk.AddressHex)} {
					if p, err := ParseAddress(form); err != nil || p != a {
						t.Errorf("ParseAddress(%s) = %s, %v", form, p.Hex(), err)
					}
				}
				// an imported private key gives the same key
				imp, err := KeyFromBytes(unhex(t, c.vk.PrivateKey), c.algo)
				if err != nil || imp.Bech32() != c.vk.Address {
					t.Errorf("KeyFromBytes: %v %v", imp, err)
				}
			}
			// the Cosmos helper is the m/44'/118' key
			ck, err := KeyFromMnemonic(k.Mnemonic)
			if err == nil && k.Bip39Passphrase == "" {
				eqStr(t, "KeyFromMnemonic", ck.Bech32(), k.Cosmos.Address)
			}
			ek, err := EthKeyFromMnemonic(k.Mnemonic)
			if err == nil && k.Bip39Passphrase == "" {
				eqStr(t, "EthKeyFromMnemonic", ek.EIP55(), k.Ethereum.AddressEIP55)
			}
		})
	}
}

func upper(s string) string { return string(bytes.ToUpper([]byte(s))) }

func TestVectorAmounts(t *testing.T) {
	v := loadVectors(t)
	for _, a := range v.Amounts {
		n, err := ParseAmount(a.Input)
		if err != nil {
			t.Errorf("ParseAmount(%q): %v", a.Input, err)
			continue
		}
		if len(a.Coins) != 1 || a.Coins[0].Denom != Denom {
			t.Fatalf("vector %q: expected one avcn coin, got %v", a.Input, a.Coins)
		}
		eqStr(t, a.Input, n.String(), a.Coins[0].Amount)
	}
}

func TestVectorBadInputs(t *testing.T) {
	v := loadVectors(t)
	kinds := map[string]bool{}
	for _, b := range v.BadInputs {
		var err error
		switch ErrorKind(b.Kind) {
		case KindBadMnemonicChecksum, KindBadMnemonicWord, KindBadMnemonicLength:
			_, err = KeyFromMnemonic(b.Input)
			if e2 := ValidateMnemonic(b.Input); e2 == nil {
				t.Errorf("ValidateMnemonic(%q) accepted it", b.Input)
			}
		case KindBadBech32Checksum, KindBadBech32Prefix, KindBadEIP55Checksum:
			_, err = ParseAddress(b.Input)
		case KindTooManyDecimals, KindBadAmount:
			_, err = ParseAmount(b.Input)
		default:
			t.Errorf("unknown bad-input kind %q", b.Kind)
			continue
		}
		kinds[b.Kind] = true
		var ie *InputError
		if err == nil {
			t.Errorf("%s %q was accepted", b.Kind, b.Input)
		} else if !errors.As(err, &ie) || string(ie.Kind) != b.Kind {
			t.Errorf("%s %q: refused as %v (%T)", b.Kind, b.Input, err, err)
		} else if !errors.Is(err, &InputError{Kind: ErrorKind(b.Kind)}) || !errors.Is(err, ErrInput) {
			t.Errorf("%s: errors.Is does not match", b.Kind)
		}
	}
	for _, k := range []ErrorKind{KindBadMnemonicChecksum, KindBadMnemonicWord, KindBadMnemonicLength,
		KindBadBech32Checksum, KindBadBech32Prefix, KindBadEIP55Checksum, KindTooManyDecimals, KindBadAmount} {
		if !kinds[string(k)] {
			t.Errorf("the vectors have no %s case", k)
		}
	}
}

// msgFromJSON builds the vector's message from its proto3 JSON by type URL.
func msgFromJSON(t *testing.T, typeURL string, js []byte) proto.Message {
	t.Helper()
	mt, err := protoregistry.GlobalTypes.FindMessageByURL(typeURL[1:])
	if err != nil {
		t.Fatalf("no Go type for %s: %v", typeURL, err)
	}
	m := mt.New().Interface()
	if err := protojson.Unmarshal(js, m); err != nil {
		t.Fatalf("%s from JSON: %v", typeURL, err)
	}
	return m
}

func TestVectorTxs(t *testing.T) {
	_ = &bankv1beta1.MsgSend{} // registers the type
	_ = &jobsv1.MsgPostJob{}
	v := loadVectors(t)
	keys := map[string]string{}
	for _, k := range v.Keys {
		keys[k.Name] = k.Mnemonic
	}
	if len(v.Txs) == 0 {
		t.Fatal("no txs in the vectors")
	}
	for _, tx := range v.Txs {
		t.Run(tx.Name, func(t *testing.T) {
			key, err := KeyFromMnemonic(keys[tx.Signer])
			if err != nil {
				t.Fatal(err)
			}
			m := msgFromJSON(t, tx.TypeURL, tx.Msg)
			anyMsg, err := Pack(m)
			if err != nil {
				t.Fatal(err)
			}
			eqStr(t, "type url", anyMsg.TypeUrl, tx.TypeURL)
			eqHex(t, "msg bytes", anyMsg.Value, tx.MsgBytes)
			// decoding msg_bytes gives the same message
			m2 := m.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(unhex(t, tx.MsgBytes), m2); err != nil || !proto.Equal(m, m2) {
				t.Errorf("msg_bytes decode to %v (%v), want %v", m2, err, m)
			}
			var fee *big.Int
			switch len(tx.Fee) {
			case 0:
			case 1:
				if tx.Fee[0].Denom != Denom {
					t.Fatalf("fee in %s", tx.Fee[0].Denom)
				}
				fee, _ = new(big.Int).SetString(tx.Fee[0].Amount, 10)
			default:
				t.Fatalf("fee of %d coins", len(tx.Fee))
			}
			s, err := SignTx(key, []*anyMsgT{anyMsg}, SignOptions{
				ChainID:       tx.ChainID,
				AccountNumber: u64(t, tx.AccountNumber),
				Sequence:      u64(t, tx.Sequence),
				GasLimit:      u64(t, tx.GasLimit),
				FeeAmount:     fee,
				Memo:          tx.Memo,
			})
			if err != nil {
				t.Fatal(err)
			}
			eqHex(t, "body bytes", s.BodyBytes, tx.BodyBytes)
			eqHex(t, "auth info bytes", s.AuthInfoBytes, tx.AuthInfoBytes)
			eqHex(t, "sign doc", s.SignDoc, tx.SignDoc)
			eqHex(t, "signature", s.Signature, tx.Signature)
			eqHex(t, "tx raw", s.TxBytes, tx.TxRaw)
			eqStr(t, "tx hash", s.Hash, tx.TxHash)
			eqStr(t, "TxHash", TxHash(unhex(t, tx.TxRaw)), tx.TxHash)
			if !VerifySignature(key.PublicKey(), unhex(t, tx.SignDoc), unhex(t, tx.Signature)) {
				t.Error("the vector's signature does not verify")
			}
			// and back
			d, err := DecodeTx(unhex(t, tx.TxRaw))
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Body.Messages) != 1 || d.Body.Messages[0].TypeUrl != tx.TypeURL || d.Body.Memo != tx.Memo {
				t.Errorf("decoded body %v", d.Body)
			}
			got := m.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(d.Body.Messages[0].Value, got); err != nil || !proto.Equal(got, m) {
				t.Errorf("decoded message %v (%v)", got, err)
			}
			si := d.AuthInfo.SignerInfos
			if len(si) != 1 || si[0].Sequence != u64(t, tx.Sequence) || d.AuthInfo.Fee.GasLimit != u64(t, tx.GasLimit) {
				t.Errorf("decoded auth info %v", d.AuthInfo)
			}
			if len(d.Raw.Signatures) != 1 || !bytes.Equal(d.Raw.Signatures[0], s.Signature) {
				t.Error("decoded signatures differ")
			}
			// the builders of this SDK give the same message bytes
			if b := builderBytes(t, tx.Name, m); b != nil {
				eqHex(t, "builder "+tx.Name, b, tx.MsgBytes)
			}
		})
	}
}

type anyMsgT = anypb.Any

// builderBytes rebuilds a vector's message with this SDK's builder (nil when
// there is none for its type).
func builderBytes(t *testing.T, name string, m proto.Message) []byte {
	t.Helper()
	var a *anypb.Any
	var err error
	switch x := m.(type) {
	case *bankv1beta1.MsgSend:
		a, err = MsgSend(x.FromAddress, x.ToAddress, x.Amount[0].Amount+"avcn")
	case *jobsv1.MsgPostJob:
		j := PostJob{Poster: x.Poster, TaskType: x.TaskType, Model: x.Model, InputHash: x.InputHash,
			Spec: x.Spec, MaxPrice: x.MaxPrice, Priority: x.Priority, ClaimBlocks: x.ClaimBlocks,
			ResultBlocks: x.ResultBlocks, MinGPUMemoryMiB: x.MinGpuMemoryMib, MinGPUCount: x.MinGpuCount, GPUModel: x.GpuModel}
		if x.InputHash == "" {
			j.Input = x.InlineInput
		}
		a, err = MsgPostJob(j)
	case *jobsv1.MsgCancelJob:
		a, err = MsgCancelJob(x.Poster, x.JobId)
	case *jobsv1.MsgClaimJob:
		a, err = MsgClaimJob(x.Worker, x.JobId)
	case *jobsv1.MsgRegisterWorker:
		a, err = MsgRegisterWorker(Worker{Address: x.Worker, GPUModel: x.GpuModel, MemoryMiB: x.MemoryMib,
			GPUCount: x.GpuCount, TaskTypes: x.TaskTypes, Models: x.Models, PriceFloor: x.PriceFloor, MaxConcurrent: x.MaxConcurrent})
	case *stakingv1.MsgBond:
		a, err = MsgBond(x.Address, x.Role, x.Amount.Amount, BondKeys{Ed25519PubKey: x.Ed25519Pubkey, ConsensusPubKey: x.ConsensusPubkey})
	case *stakingv1.MsgUnbond:
		a, err = MsgUnbond(x.Address, x.Role, x.Amount.Amount)
	case *verificationv1.MsgAttest:
		a, err = MsgAttest(Attestation{Oracle: x.Oracle, JobID: x.JobId, Verdict: x.Verdict,
			SimilarityBps: x.SimilarityBps, EvidenceHash: x.EvidenceHash, Signature: x.Signature})
	case *reputationv1.MsgHeartbeat:
		a, err = MsgHeartbeat(x.Address)
	default:
		return nil
	}
	if err != nil {
		t.Fatalf("builder for %s: %v", name, err)
	}
	return a.Value
}
