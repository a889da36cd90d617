package vcoin

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"

	basev1beta1 "cosmossdk.io/api/cosmos/base/v1beta1"
	signingv1beta1 "cosmossdk.io/api/cosmos/tx/signing/v1beta1"
	txv1beta1 "cosmossdk.io/api/cosmos/tx/v1beta1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Transactions: SIGN_MODE_DIRECT, one signer (secp256k1, or eth_secp256k1
// under Ethermint's pubkey type URL, signing over keccak256), the canonical
// protobuf encoding the node requires (ADR-027: fields ascending, no default
// values, no unknown fields), which deterministic marshalling of the generated
// types produces. A tx has one encoding and so one hash.

var marshal = proto.MarshalOptions{Deterministic: true}

// Pack encodes a message as the Any a TxBody carries: type URL "/<full name>"
// (e.g. /vcoin.jobs.v1.MsgPostJob) and its protobuf bytes.
func Pack(m proto.Message) (*anypb.Any, error) {
	b, err := marshal.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return &anypb.Any{TypeUrl: "/" + string(m.ProtoReflect().Descriptor().FullName()), Value: b}, nil
}

// SignOptions is what a signature commits to besides the messages.
type SignOptions struct {
	ChainID       string
	AccountNumber uint64
	Sequence      uint64
	GasLimit      uint64
	// FeeAmount in avcn; nil or zero pays no fee.
	FeeAmount *big.Int
	Memo      string
}

// SignedTx is a signed tx and the bytes that went into it.
type SignedTx struct {
	BodyBytes     []byte
	AuthInfoBytes []byte
	// SignDoc is the bytes signed (sha256 of them by secp256k1, keccak256 by eth_secp256k1).
	SignDoc   []byte
	Signature []byte
	// TxBytes is the TxRaw to broadcast.
	TxBytes []byte
	// Hash is sha256(TxBytes) in upper-case hex, as CometBFT indexes it.
	Hash string
}

// TxHash is the hash CometBFT indexes a tx by: sha256 of its bytes, upper hex.
func TxHash(txBytes []byte) string {
	h := sha256.Sum256(txBytes)
	return strings.ToUpper(hex.EncodeToString(h[:]))
}

// SignTx builds TxBody, AuthInfo and SignDoc for msgs and signs them with key
// (SIGN_MODE_DIRECT).
func SignTx(key *Key, msgs []*anypb.Any, o SignOptions) (*SignedTx, error) {
	if err := checkSigner(key); err != nil {
		return nil, err
	}
	if len(msgs) == 0 {
		return nil, inputErr(KindBadInput, "a tx carries at least one message")
	}
	if o.ChainID == "" {
		return nil, inputErr(KindBadInput, "the chain id is empty")
	}
	body, err := marshal.Marshal(&txv1beta1.TxBody{Messages: msgs, Memo: o.Memo})
	if err != nil {
		return nil, fmt.Errorf("encoding the tx body: %w", err)
	}
	pk, err := key.pubKeyAny()
	if err != nil {
		return nil, err
	}
	var fee []*basev1beta1.Coin
	if o.FeeAmount != nil && o.FeeAmount.Sign() != 0 {
		if o.FeeAmount.Sign() < 0 || o.FeeAmount.Cmp(maxAmount) > 0 {
			return nil, inputErr(KindBadAmount, "fee %s avcn is not in 0..2^256-1", o.FeeAmount)
		}
		fee = []*basev1beta1.Coin{{Denom: Denom, Amount: o.FeeAmount.String()}}
	}
	authInfo, err := marshal.Marshal(&txv1beta1.AuthInfo{
		SignerInfos: []*txv1beta1.SignerInfo{{
			PublicKey: pk,
			ModeInfo: &txv1beta1.ModeInfo{Sum: &txv1beta1.ModeInfo_Single_{
				Single: &txv1beta1.ModeInfo_Single{Mode: signingv1beta1.SignMode_SIGN_MODE_DIRECT},
			}},
			Sequence: o.Sequence,
		}},
		Fee: &txv1beta1.Fee{Amount: fee, GasLimit: o.GasLimit},
	})
	if err != nil {
		return nil, fmt.Errorf("encoding the auth info: %w", err)
	}
	doc, err := marshal.Marshal(&txv1beta1.SignDoc{
		BodyBytes: body, AuthInfoBytes: authInfo, ChainId: o.ChainID, AccountNumber: o.AccountNumber,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding the sign doc: %w", err)
	}
	sig := key.SignTxBytes(doc)
	raw, err := marshal.Marshal(&txv1beta1.TxRaw{BodyBytes: body, AuthInfoBytes: authInfo, Signatures: [][]byte{sig}})
	if err != nil {
		return nil, fmt.Errorf("encoding the tx: %w", err)
	}
	return &SignedTx{
		BodyBytes: body, AuthInfoBytes: authInfo, SignDoc: doc, Signature: sig, TxBytes: raw, Hash: TxHash(raw),
	}, nil
}

// DecodedTx is a TxRaw taken apart.
type DecodedTx struct {
	Raw      *txv1beta1.TxRaw
	Body     *txv1beta1.TxBody
	AuthInfo *txv1beta1.AuthInfo
}

// DecodeTx parses TxRaw bytes and its body and auth info.
func DecodeTx(txBytes []byte) (*DecodedTx, error) {
	d := &DecodedTx{Raw: &txv1beta1.TxRaw{}, Body: &txv1beta1.TxBody{}, AuthInfo: &txv1beta1.AuthInfo{}}
	if err := proto.Unmarshal(txBytes, d.Raw); err != nil {
		return nil, inputErr(KindBadInput, "not a TxRaw: %v", err)
	}
	if err := proto.Unmarshal(d.Raw.BodyBytes, d.Body); err != nil {
		return nil, inputErr(KindBadInput, "the tx body does not decode: %v", err)
	}
	if err := proto.Unmarshal(d.Raw.AuthInfoBytes, d.AuthInfo); err != nil {
		return nil, inputErr(KindBadInput, "the auth info does not decode: %v", err)
	}
	return d, nil
}

func checkSigner(key *Key) error {
	if key == nil {
		return inputErr(KindBadKey, "no key to sign with")
	}
	return nil
}
