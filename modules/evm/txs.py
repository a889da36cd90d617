"""Ethereum transactions as the chain takes them: bare, or in a MsgEthereumTx envelope.

Everything here looks at the bytes only (no state): size, the envelope,
RLP, canonical encoding, the type, the signature and the chain id. A tx
refused here costs its sender nothing and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import coincurve
import rlp
from eth.abc import SignedTransactionAPI
from eth.vm.forks.cancun.transactions import CancunTransactionBuilder
from eth_hash.auto import keccak
from eth_typing import Address
from eth_utils.exceptions import ValidationError

from modules.evm.envelope import ETH_TX_URL, MAX_ETH_TX_BYTES, is_ethereum, unwrap, wrap
from modules.evm.errors import ErrEthChainId, ErrEthInvalid, ErrEthTxDecode

__all__ = ["ETH_TX_URL", "MAX_ETH_TX_BYTES", "EthTx", "decode", "is_ethereum", "unwrap", "wrap"]

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


def recover_senders(items: list[bytes]) -> list[bytes | None]:
    """Each raw tx's sender, or None where it has none (undecodable, a bad
    signature): the pre-pass that the signature helper process runs on a large
    block's Ethereum txs (chain/foreign.py), so that the block need not."""
    out: list[bytes | None] = []
    for raw in items:
        try:
            out.append(_decode(raw)[0].sender)
        except Exception:  # noqa: BLE001 - the block decodes it again and says why
            out.append(None)
    return out


def decode(raw: bytes, chain_id: int, sender: bytes | None = None) -> EthTx:
    """Decode and check ``raw`` (bare or wrapped) without state; a ChainError says why not.

    ``sender``: what ``recover_senders`` answered for ``raw`` on the helper
    process; it stands in for recovering the signature here (the same pure
    function of the same bytes), every other check still runs."""
    etx, tx_chain = _decode(raw, sender)
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


def _decode(raw: bytes, sender: bytes | None = None) -> tuple[EthTx, int | None]:
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
    if sender is None or len(sender) != 20:
        sender = recover_sender(tx)
    else:
        check_signature_ranges(tx)
        tx.__dict__["sender"] = Address(sender)
    return EthTx(tx, eth_raw, keccak(eth_raw), sender, type_id), tx.chain_id
