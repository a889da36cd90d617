"""Route a tx by its envelope: Cosmos TxRaw today, Ethereum typed txs with the EVM module."""

from __future__ import annotations

from enum import Enum

from chain.errors import ErrNotSupported, ErrTxDecode


class Envelope(Enum):
    COSMOS = "cosmos"
    ETHEREUM = "ethereum"


def envelope_of(raw: bytes) -> Envelope:
    """TxRaw begins with field 1 (body_bytes, wire type 2): 0x0a. An Ethereum
    typed tx begins with its type byte (0x01, 0x02, 0x03); a legacy one with an
    RLP list header (0xc0–0xff)."""
    if not raw:
        raise ErrTxDecode("empty tx")
    first = raw[0]
    if first == 0x0A:
        return Envelope.COSMOS
    if first in (0x01, 0x02, 0x03) or first >= 0xC0:
        return Envelope.ETHEREUM
    if first in (0x12, 0x1A) or 0x80 <= first < 0xC0:
        # TxRaw's auth_info_bytes (field 2) or signatures (field 3) first, or a tag
        # written as a longer varint than needed: a TxRaw whose body is empty or
        # one encoded out of order; the decoder says which
        return Envelope.COSMOS
    raise ErrTxDecode(
        f"tx starts with byte 0x{first:02x}: neither a Cosmos TxRaw nor an Ethereum transaction"
    )


def require_cosmos(raw: bytes) -> None:
    if envelope_of(raw) is Envelope.ETHEREUM:
        raise ErrNotSupported(
            "Ethereum transactions are not accepted yet: this node has no EVM module; "
            "send a Cosmos TxRaw"
        )
