package vcoin

// eth_secp256k1 keys against the shared vectors: each eth_txs tx comes out byte
// for byte from SignTx with an EthSecp256k1 key (Ethermint's pubkey type URL,
// r‖s over keccak256 of the SignDoc), and each personal_sign signature from
// PersonalSign; the gateway helpers' bytes are what the gateway checks.

import (
	"encoding/hex"
	"math/big"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/anypb"
)

type ethVectors struct {
	Keys []struct {
		Name     string `json:"name"`
		Mnemonic string `json:"mnemonic"`
	} `json:"keys"`
	EthTxs       []vecTx `json:"eth_txs"`
	PersonalSign []struct {
		Signer    string `json:"signer"`
		Message   string `json:"message"`
		Signature string `json:"signature"`
	} `json:"personal_sign"`
}

func loadEthVectors(t *testing.T) (*ethVectors, map[string]string) {
	t.Helper()
	var v ethVectors
	readVectors(t, &v)
	if len(v.EthTxs) == 0 || len(v.PersonalSign) == 0 {
		t.Fatal("the vectors have no eth_txs or personal_sign")
	}
	words := map[string]string{}
	for _, k := range v.Keys {
		words[k.Name] = k.Mnemonic
	}
	return &v, words
}

func TestEthTxVectors(t *testing.T) {
	v, words := loadEthVectors(t)
	for _, tx := range v.EthTxs {
		t.Run(tx.Name, func(t *testing.T) {
			key, err := EthKeyFromMnemonic(words[tx.Signer])
			if err != nil {
				t.Fatal(err)
			}
			if key.PubKeyTypeURL() != tx.PubKeyTypeURL {
				t.Fatalf("type URL %s, want %s", key.PubKeyTypeURL(), tx.PubKeyTypeURL)
			}
			msg, _ := hex.DecodeString(tx.MsgBytes)
			fee, _ := new(big.Int).SetString(tx.Fee[0].Amount, 10)
			s, err := SignTx(key, []*anypb.Any{{TypeUrl: tx.TypeURL, Value: msg}}, SignOptions{
				ChainID: tx.ChainID, AccountNumber: u64(t, tx.AccountNumber), Sequence: u64(t, tx.Sequence),
				GasLimit: u64(t, tx.GasLimit), FeeAmount: fee, Memo: tx.Memo,
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct{ what, got, want string }{
				{"body_bytes", hex.EncodeToString(s.BodyBytes), tx.BodyBytes},
				{"auth_info_bytes", hex.EncodeToString(s.AuthInfoBytes), tx.AuthInfoBytes},
				{"sign_doc", hex.EncodeToString(s.SignDoc), tx.SignDoc},
				{"signature", hex.EncodeToString(s.Signature), tx.Signature},
				{"tx_raw", hex.EncodeToString(s.TxBytes), tx.TxRaw},
				{"tx_hash", s.Hash, tx.TxHash},
			} {
				if c.got != c.want {
					t.Errorf("%s:\n got %s\nwant %s", c.what, c.got, c.want)
				}
			}
			// over keccak256, not sha256: Sign (sha256, receipts) differs
			if hex.EncodeToString(key.Sign(s.SignDoc)) == tx.Signature {
				t.Error("the tx signature is over sha256")
			}
		})
	}
}

func TestPersonalSignVectors(t *testing.T) {
	v, words := loadEthVectors(t)
	for _, p := range v.PersonalSign {
		key, err := EthKeyFromMnemonic(words[p.Signer])
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(key.PersonalSign([]byte(p.Message))); got != p.Signature {
			t.Errorf("%s: personal_sign\n got %s\nwant %s", p.Signer, got, p.Signature)
		}
	}
}

func TestGatewayHelpers(t *testing.T) {
	doc := string(ADR036SignDoc("vcoin1x", []byte("hi")))
	want := `{"account_number":"0","chain_id":"","fee":{"amount":[],"gas":"0"},"memo":"",` +
		`"msgs":[{"type":"sign/MsgSignData","value":{"data":"aGk=","signer":"vcoin1x"}}],"sequence":"0"}`
	if doc != want {
		t.Fatalf("ADR-036 sign doc\n got %s\nwant %s", doc, want)
	}
	a := "vcoin19rl4cm2hmr8afy4kldpxz3fka4jguq0as7xdlf"
	m, err := GrantPostJob(a, "0xeB104BfbC4c4cA5f4bb5A02803C20721763aAAB2", "1.5VCN")
	if err != nil || m.TypeUrl != "/vcoin.authz.v1.MsgGrant" {
		t.Fatalf("GrantPostJob: %v %v", m, err)
	}
	for _, part := range []string{a, "vcoin1avgyh77ycn997ja45q5q8ss8y9mr424jvyfr4a", "/vcoin.jobs.v1.MsgPostJob", "1500000000000000000"} {
		if !strings.Contains(string(m.Value), part) {
			t.Errorf("the grant lacks %s", part)
		}
	}
	if _, err := GrantPostJob(a, "vcoin1bad", "1VCN"); err == nil {
		t.Error("a bad grantee address is refused")
	}
}
