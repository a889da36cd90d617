"""Parameters in, Ethereum JSON values out, and the JSON-RPC errors.

Quantities are ``0x``-prefixed hex without leading zeros on the way out; on the
way in a quantity may also be a JSON integer (``eth_feeHistory``'s block count
is sent both ways by wallets). Data is ``0x``-prefixed hex of whole bytes.
Addresses are accepted in any case and answered EIP-55 checksummed.
Every parser names the parameter it refuses.
"""

from __future__ import annotations

import re
from typing import Any

from chain.crypto import to_eth_address

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000  # what geth answers for a refused tx, a missing state, a limit
LIMIT_EXCEEDED = -32005  # EIP-1474: "request exceeds defined limit"
EXECUTION_REVERTED = 3  # geth's code for a reverted eth_call / eth_estimateGas

_HEX = re.compile(r"0[xX][0-9a-fA-F]*")
BLOCK_TAGS = ("latest", "pending", "earliest", "safe", "finalized")


class RpcError(Exception):
    """A JSON-RPC error object: ``code``, ``message`` and optional ``data``."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


def invalid(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, message)


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 48 else text[:45] + "..."


def quantity(v: Any, what: str, bits: int = 256) -> int:
    """A hex quantity (or a JSON integer) in ``[0, 2^bits)``."""
    if isinstance(v, int) and not isinstance(v, bool):
        n = v
    elif isinstance(v, str) and _HEX.fullmatch(v) and len(v) > 2:
        if len(v) > 2 + (bits + 3) // 4 + 1:
            raise invalid(f"{what}: {_show(v)} is over {bits} bits")
        n = int(v[2:], 16)
    else:
        raise invalid(f"{what}: expected a 0x-prefixed hex quantity, got {_show(v)}")
    if not 0 <= n < 2**bits:
        raise invalid(f"{what}: {_show(v)} is outside [0, 2^{bits})")
    return n


def data(v: Any, what: str, limit: int) -> bytes:
    """0x-prefixed hex of at most ``limit`` bytes."""
    if not isinstance(v, str) or not _HEX.fullmatch(v):
        raise invalid(f"{what}: expected 0x-prefixed hex data, got {_show(v)}")
    if len(v) > 2 + 2 * limit:
        raise invalid(f"{what}: over {limit} bytes")
    if len(v) % 2:
        raise invalid(f"{what}: hex data must be whole bytes (an even number of digits)")
    return bytes.fromhex(v[2:])


def address(v: Any, what: str = "address") -> bytes:
    b = data(v, what, 20)
    if len(b) != 20:
        raise invalid(f"{what}: an address is 20 bytes (40 hex digits), got {len(b)}")
    return b


def hash32(v: Any, what: str = "hash") -> bytes:
    b = data(v, what, 32)
    if len(b) != 32:
        raise invalid(f"{what}: a hash is 32 bytes (64 hex digits), got {len(b)}")
    return b


def block_tag(v: Any, what: str = "block") -> str | int:
    """``latest``, ``pending``, ``earliest``, ``safe``, ``finalized`` or a height.

    An EIP-1898 object ``{"blockNumber": …}`` is read as its number; ``{"blockHash": …}``
    comes back as the hash's hex (the caller resolves it)."""
    if v is None:
        return "latest"
    if isinstance(v, dict):
        if "blockHash" in v:
            return "0x" + hash32(v["blockHash"], f"{what}.blockHash").hex()
        if "blockNumber" in v:
            return block_tag(v["blockNumber"], f"{what}.blockNumber")
        raise invalid(f"{what}: an object names blockNumber or blockHash")
    if isinstance(v, str) and v in BLOCK_TAGS:
        return v
    if isinstance(v, str) and len(v) == 66:
        return "0x" + hash32(v, what).hex()
    try:
        return quantity(v, what, 63)
    except RpcError:
        raise invalid(
            f"{what}: expected a block number (hex) or one of {', '.join(BLOCK_TAGS)}, "
            f"got {_show(v)}"
        ) from None


def q(n: int) -> str:
    return hex(n)


def hexdata(b: bytes) -> str:
    return "0x" + b.hex()


def checksum(addr: bytes) -> str:
    return to_eth_address(addr)


def checksum_hex(text: str) -> str | None:
    """``0x…`` (any case) checksummed; None for an empty string."""
    return to_eth_address(bytes.fromhex(text[2:])) if text else None
