package vcoin

import (
	"strconv"

	secp256k1pb "cosmossdk.io/api/cosmos/crypto/secp256k1"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"google.golang.org/protobuf/types/known/anypb"
)

// eth_secp256k1 keys (BIP-44 coin type 60, EthKeyFromMnemonic): one key is one
// account in MetaMask and on chain (its keccak address). Such a key signs
// Cosmos txs under Ethermint's public key type, over keccak256 of the SignDoc
// (SignTx picks this by the key's algo), and EIP-191 messages (PersonalSign:
// what the gateway's EIP-4361 sign-in takes).

// Public key type URLs in a tx's SignerInfo.
const (
	Secp256k1PubKeyTypeURL    = "/cosmos.crypto.secp256k1.PubKey"
	EthSecp256k1PubKeyTypeURL = "/ethermint.crypto.v1.ethsecp256k1.PubKey"
)

// PubKeyTypeURL is the type URL this key's public key goes under in a tx.
func (k *Key) PubKeyTypeURL() string {
	if k.algo == EthSecp256k1 {
		return EthSecp256k1PubKeyTypeURL
	}
	return Secp256k1PubKeyTypeURL
}

// pubKeyAny is the SignerInfo's public key: PubKey{key: 33 compressed bytes}
// (Ethermint's ethsecp256k1.PubKey has the same encoding) under the key's type URL.
func (k *Key) pubKeyAny() (*anypb.Any, error) {
	b, err := marshal.Marshal(&secp256k1pb.PubKey{Key: k.PublicKey()})
	if err != nil {
		return nil, err
	}
	return &anypb.Any{TypeUrl: k.PubKeyTypeURL(), Value: b}, nil
}

// SignTxBytes is the signature a tx carries over its SignDoc: r‖s over
// sha256 (Secp256k1) or keccak256 (EthSecp256k1), RFC 6979, low S.
func (k *Key) SignTxBytes(signDoc []byte) []byte { return k.signDigest(signDoc) }

// PersonalSign is EIP-191 personal_sign, as MetaMask signs: 65 bytes r‖s‖v
// (v = 27 + recovery id) over keccak256("\x19Ethereum Signed Message:\n" +
// decimal byte length + msg). Any key can sign; an Ethereum wallet's account
// is an EthSecp256k1 key's.
func (k *Key) PersonalSign(msg []byte) []byte {
	digest := keccak256([]byte("\x19Ethereum Signed Message:\n"+strconv.Itoa(len(msg))), msg)
	compact := ecdsa.SignCompact(k.priv, digest, false) // [27 + recid] ‖ r ‖ s
	out := make([]byte, 65)
	copy(out, compact[1:])
	out[64] = compact[0]
	return out
}
