"""Ethereum transactions as the chain takes them: bare, or in a MsgEthereumTx envelope.

Everything here looks at the bytes only (no state): size, the envelope,
RLP, canonical encoding, the type, the signature and the chain id. A tx
refused here costs its sender nothing and changes nothing.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Any

import coincurve
import rlp
from eth.abc import SignedTransactionAPI
from eth.vm.forks.cancun.transactions import CancunTransactionBuilder
from eth_hash.auto import keccak
from eth_typing import Address
from eth_utils.exceptions import ValidationError

from modules.evm.envelope import ETH_TX_URL, MAX_ETH_TX_BYTES, is_ethereum, unwrap, wrap
from modules.evm.errors import ErrEthChainId, ErrEthInvalid, ErrEthTxDecode

__all__ = [
    "ETH_TX_URL",
    "MAX_ETH_TX_BYTES",
    "EthTx",
    "LightTx",
    "decode",
    "decode_ahead",
    "is_ethereum",
    "unwrap",
    "wrap",
]

MAX_INITCODE_SIZE = 49_152  # EIP-3860
LEGACY, ACCESS_LIST, DYNAMIC_FEE, BLOB = 0, 1, 2, 3
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class LightTx:
    """What the executor and py-evm's Cancun executor read of a decoded tx, as
    plain attributes: the helper process decodes a large block's txs ahead and
    sends these fields back (``decode_ahead``), so that the block need not run
    py-evm's RLP decoder again. Made only from a tx that py-evm decoded and
    validated, by ``light_fields``."""

    __slots__ = (
        "sender",
        "nonce",
        "gas",
        "to",
        "value",
        "data",
        "max_fee_per_gas",
        "max_priority_fee_per_gas",
        "access_list",
        "intrinsic_gas",
        "type_id",
        "chain_id",
    )

    def __init__(self, fields: tuple[Any, ...]) -> None:
        (
            self.sender,
            self.nonce,
            self.gas,
            self.to,
            self.value,
            self.data,
            self.max_fee_per_gas,
            self.max_priority_fee_per_gas,
            self.access_list,
            self.intrinsic_gas,
            self.type_id,
            self.chain_id,
        ) = fields


def light_fields(tx: SignedTransactionAPI, sender: bytes) -> tuple[Any, ...]:
    """A py-evm tx's fields for ``LightTx``, in plain ints, bytes and tuples."""
    return (
        bytes(sender),
        int(tx.nonce),
        int(tx.gas),
        bytes(tx.to),
        int(tx.value),
        bytes(tx.data),
        int(tx.max_fee_per_gas),
        int(tx.max_priority_fee_per_gas),
        tuple((bytes(a), tuple(int(k) for k in keys)) for a, keys in tx.access_list),
        int(tx.intrinsic_gas),
        tx.type_id,
        tx.chain_id,
    )


@dataclass(frozen=True)
class EthTx:
    """A decoded, signature-checked Ethereum tx and the bytes it came as."""

    tx: Any  # py-evm's SignedTransactionAPI, or a LightTx of the same fields
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


def check_signature_ranges(tx: SignedTransactionAPI) -> None:
    """r and s in [1, n), s in the lower half (EIP-2), the y parity 0 or 1."""
    y, r, s = int(tx.y_parity), int(tx.r), int(tx.s)
    if y not in (0, 1) or not 0 < r < SECP256K1_N or not 0 < s <= SECP256K1_N // 2:
        raise ErrEthInvalid(
            "invalid signature: r and s must be in [1, n) with s in the lower half "
            "(EIP-2), and the y parity 0 or 1"
        )


def recover_sender(tx: SignedTransactionAPI) -> bytes:
    """The signer of ``tx``, recovered once (py-evm's own check recovers, verifies
    and recovers again) after ``check_signature_ranges``. The sender is kept on
    the tx for py-evm's later reads."""
    check_signature_ranges(tx)
    y, r, s = int(tx.y_parity), int(tx.r), int(tx.s)
    try:
        msg_hash = keccak(tx.get_message_for_signing())
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([y])
        pub = coincurve.PublicKey.from_signature_and_message(sig, msg_hash, hasher=None)
    except Exception as e:  # noqa: BLE001 - any recovery failure is a bad signature
        raise ErrEthInvalid(f"invalid signature: no public key recovers from it ({e})") from e
    sender = keccak(pub.format(compressed=False)[1:])[12:]
    tx.__dict__["sender"] = Address(sender)  # py-evm's cached_property reads this
    return sender


def decode_ahead(items: list[bytes]) -> list[bytes | None]:
    """The pre-pass that the signature helper process runs on a large block's
    Ethereum txs (chain/foreign.py) while the block executes: each raw tx
    decoded, validated and its sender recovered, as ``light_fields`` pickled; or
    None where any of that fails (the block then decodes it and says why)."""
    out: list[bytes | None] = []
    for raw in items:
        try:
            etx = _decode(raw)[0]
            out.append(pickle.dumps(light_fields(etx.tx, etx.sender), protocol=5))
        except Exception:  # noqa: BLE001 - the block decodes it again and says why
            out.append(None)
    return out


def decode(raw: bytes, chain_id: int, ahead: bytes | None = None) -> EthTx:
    """Decode and check ``raw`` (bare or wrapped) without state; a ChainError says why not.

    ``ahead``: what ``decode_ahead`` answered for these very bytes on the helper
    process; its fields stand in for decoding, validating and recovering here
    (the same pure functions of the same bytes). The checks that depend on the
    chain (its chain id, the init code limit) run either way."""
    etx, tx_chain = _from_ahead(raw, ahead) if ahead else _decode(raw)
    if tx_chain is None:
        raise ErrEthChainId(
            "a legacy transaction without EIP-155 replay protection (v = 27 or 28) is refused: "
            f"sign it for chain id {chain_id}"
        )
    if tx_chain != chain_id:
        raise ErrEthChainId(
            f"signed for chain id {tx_chain}; this chain's EVM chain id is {chain_id}"
        )
    if not etx.to and len(etx.tx.data) > MAX_INITCODE_SIZE:
        raise ErrEthInvalid(
            f"init code is {len(etx.tx.data)} bytes; EIP-3860 allows at most {MAX_INITCODE_SIZE}"
        )
    return etx


def _from_ahead(raw: bytes, ahead: bytes) -> tuple[EthTx, int | None]:
    try:
        tx = LightTx(pickle.loads(ahead))
    except Exception:  # noqa: BLE001 - a garbled answer: decode here
        return _decode(raw)
    eth_raw = unwrap(raw)
    type_id = LEGACY if tx.type_id is None else tx.type_id
    return EthTx(tx, eth_raw, keccak(eth_raw), tx.sender, type_id), tx.chain_id


def _decode(raw: bytes) -> tuple[EthTx, int | None]:
    """``raw`` decoded, field-checked and its sender known; and its chain id."""
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
    return EthTx(tx, eth_raw, keccak(eth_raw), sender, type_id), tx.chain_id
