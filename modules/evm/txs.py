"""Ethereum transactions as the chain takes them: bare, or in a MsgEthereumTx envelope.

Everything here looks at the bytes only (no state): size, the envelope,
RLP, canonical encoding, the type, the signature and the chain id. A tx
refused here costs its sender nothing and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import coincurve
import rlp
from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import TxBody, TxRaw
from eth.abc import SignedTransactionAPI
from eth.vm.forks.cancun.transactions import CancunTransactionBuilder
from eth_hash.auto import keccak
from eth_typing import Address
from eth_utils.exceptions import ValidationError
from google.protobuf.message import DecodeError

from modules.evm.errors import ErrEthChainId, ErrEthInvalid, ErrEthTxDecode
from modules.evm.tx_pb2 import MsgEthereumTx

ETH_TX_URL = "/vcoin.evm.v1.MsgEthereumTx"
_URL_BYTES = ETH_TX_URL.encode()
# a tx's bytes at most: 128 KiB, as geth's txpool (EIP-3860's init code limit is 48 KiB)
MAX_ETH_TX_BYTES = 128 * 1024
MAX_INITCODE_SIZE = 49_152  # EIP-3860
LEGACY, ACCESS_LIST, DYNAMIC_FEE, BLOB = 0, 1, 2, 3
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True)
class EthTx:
    """A decoded, signature-checked Ethereum tx and the bytes it came as."""

    tx: SignedTransactionAPI
    raw: bytes  # the Ethereum encoding (what eth_sendRawTransaction takes)
    hash: bytes  # keccak256(raw): its Ethereum hash
    sender: bytes
    type_id: int

    @property
    def to(self) -> bytes:
        return bytes(self.tx.to)

    @property
    def nonce(self) -> int:
        return int(self.tx.nonce)

    @property
    def gas(self) -> int:
        return int(self.tx.gas)

    @property
    def max_fee(self) -> int:
        return int(self.tx.max_fee_per_gas)

    @property
    def max_priority_fee(self) -> int:
        return int(self.tx.max_priority_fee_per_gas)


def is_ethereum(raw: bytes) -> bool:
    """An Ethereum tx, bare (a type byte 0x01–0x03, or an RLP list for a legacy
    one) or in a Cosmos TxRaw whose first message is a MsgEthereumTx."""
    if not raw:
        return False
    first = raw[0]
    if first != 0x0A:
        return first in (0x01, 0x02, 0x03) or first >= 0xC0
    # TxRaw → body_bytes → messages[0] → type_url sits within its first bytes
    return _URL_BYTES in raw[:64]


def unwrap(raw: bytes) -> bytes:
    """The Ethereum encoding inside ``raw``: itself when bare, else the envelope's."""
    if raw[:1] != b"\x0a":
        return raw
    try:
        txr = TxRaw.FromString(raw)
        body = TxBody.FromString(txr.body_bytes)
    except (DecodeError, RuntimeError) as e:
        raise ErrEthTxDecode(f"MsgEthereumTx envelope is not a TxRaw: {e}") from e
    if txr.auth_info_bytes or len(txr.signatures):
        raise ErrEthTxDecode(
            "a MsgEthereumTx envelope carries no auth_info and no Cosmos signature: "
            "the Ethereum signature inside authorises it"
        )
    if (
        len(body.messages) != 1
        or body.memo
        or body.timeout_height
        or len(body.extension_options)
        or len(body.non_critical_extension_options)
    ):
        raise ErrEthTxDecode(
            "a MsgEthereumTx envelope's body holds that one message and nothing else"
        )
    anymsg = body.messages[0]
    if anymsg.type_url != ETH_TX_URL:
        raise ErrEthTxDecode(f"expected {ETH_TX_URL}, got {anymsg.type_url[:80]!r}")
    try:
        msg: MsgEthereumTx = MsgEthereumTx.FromString(anymsg.value)
    except (DecodeError, RuntimeError) as e:
        raise ErrEthTxDecode(f"MsgEthereumTx does not decode: {e}") from e
    # one tx, one encoding: the envelope must be exactly what this message encodes to
    if wrap(msg.raw) != raw:
        raise ErrEthTxDecode("MsgEthereumTx envelope is not canonically encoded")
    return bytes(msg.raw)


def wrap(eth_raw: bytes) -> bytes:
    """``eth_raw`` in its Cosmos envelope (what ``broadcast_tx_*`` may carry)."""
    body = TxBody()
    any_ = body.messages.add()
    any_.type_url = ETH_TX_URL
    any_.value = MsgEthereumTx(raw=eth_raw).SerializeToString(deterministic=True)
    out: bytes = TxRaw(body_bytes=body.SerializeToString(deterministic=True)).SerializeToString(
        deterministic=True
    )
    return out


def recover_sender(tx: SignedTransactionAPI) -> bytes:
    """The signer of ``tx``, recovered once (py-evm's own check recovers, verifies
    and recovers again): r and s in [1, n), s in the lower half (EIP-2), the y
    parity 0 or 1. The sender is kept on the tx for py-evm's later reads."""
    y, r, s = int(tx.y_parity), int(tx.r), int(tx.s)
    if y not in (0, 1) or not 0 < r < SECP256K1_N or not 0 < s <= SECP256K1_N // 2:
        raise ErrEthInvalid(
            "invalid signature: r and s must be in [1, n) with s in the lower half "
            "(EIP-2), and the y parity 0 or 1"
        )
    try:
        msg_hash = keccak(tx.get_message_for_signing())
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([y])
        pub = coincurve.PublicKey.from_signature_and_message(sig, msg_hash, hasher=None)
    except Exception as e:  # noqa: BLE001 - any recovery failure is a bad signature
        raise ErrEthInvalid(f"invalid signature: no public key recovers from it ({e})") from e
    sender = keccak(pub.format(compressed=False)[1:])[12:]
    tx.__dict__["sender"] = Address(sender)  # py-evm's cached_property reads this
    return sender


def decode(raw: bytes, chain_id: int) -> EthTx:
    """Decode and check ``raw`` (bare or wrapped) without state; a ChainError says why not."""
    if len(raw) > MAX_ETH_TX_BYTES:
        raise ErrEthInvalid(f"tx is {len(raw)} bytes; the limit is {MAX_ETH_TX_BYTES}")
    eth_raw = unwrap(raw)
    if not eth_raw:
        raise ErrEthTxDecode("empty Ethereum transaction")
    if eth_raw[0] == BLOB:
        raise ErrEthInvalid("blob transactions (type 3) are not accepted: this chain has no blobs")
    if eth_raw[0] not in (ACCESS_LIST, DYNAMIC_FEE) and eth_raw[0] < 0xC0:
        raise ErrEthTxDecode(f"unknown Ethereum transaction type 0x{eth_raw[0]:02x}")
    try:
        tx = CancunTransactionBuilder.decode(eth_raw)
    except (rlp.DecodingError, rlp.DeserializationError, ValidationError, ValueError) as e:
        raise ErrEthTxDecode(f"malformed RLP: {str(e)[:200]}") from e
    except Exception as e:  # py-evm's decoders raise more than they document
        raise ErrEthTxDecode(f"malformed Ethereum transaction: {type(e).__name__}") from e
    # one tx, one encoding: rlp's strict decoding refuses trailing bytes, integers
    # with leading zeros and long-form lengths (tests/modules/evm/test_canonical_eth.py)
    type_id = LEGACY if eth_raw[0] >= 0xC0 else eth_raw[0]
    try:
        tx.validate()  # field ranges, intrinsic gas ≤ gas limit
    except (ValidationError, ValueError) as e:
        raise ErrEthInvalid(f"invalid transaction: {str(e)[:200]}") from e
    except Exception as e:
        raise ErrEthInvalid(f"invalid transaction: {type(e).__name__}") from e
    sender = recover_sender(tx)
    tx_chain = tx.chain_id
    if tx_chain is None:
        raise ErrEthChainId(
            "a legacy transaction without EIP-155 replay protection (v = 27 or 28) is refused: "
            f"sign it for chain id {chain_id}"
        )
    if tx_chain != chain_id:
        raise ErrEthChainId(
            f"signed for chain id {tx_chain}; this chain's EVM chain id is {chain_id}"
        )
    if not tx.to and len(tx.data) > MAX_INITCODE_SIZE:
        raise ErrEthInvalid(
            f"init code is {len(tx.data)} bytes; EIP-3860 allows at most {MAX_INITCODE_SIZE}"
        )
    return EthTx(tx, eth_raw, keccak(eth_raw), sender, type_id)
