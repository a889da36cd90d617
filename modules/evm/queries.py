"""Queries of the evm module (JSON in, JSON out). Addresses may be written
``0x…`` or ``vcoin1…``; answers give both."""

from __future__ import annotations

from typing import Any

from chain.coins import DENOM
from chain.context import Ctx
from chain.crypto import AddressError, parse_address, to_bech32
from chain.errors import ErrInvalidRequest
from modules.evm import state
from modules.evm.keeper import EvmKeeper

MAX_CALL_DATA = 128 * 1024


def address(text: Any, what: str = "address") -> bytes:
    """A 20-byte address from ``0x…`` (EIP-55 checked when in mixed case) or ``vcoin1…``."""
    try:
        return parse_address(str(text or ""))
    except AddressError as e:
        raise ErrInvalidRequest(f"{what}: {e}") from e


def _hexbytes(text: Any, what: str, limit: int) -> bytes:
    s = str(text or "0x")
    if not s.startswith("0x"):
        raise ErrInvalidRequest(f"{what} must be 0x-prefixed hex")
    if len(s) > 2 + 2 * limit:
        raise ErrInvalidRequest(f"{what} is over {limit} bytes")
    try:
        return bytes.fromhex(s[2:])
    except ValueError as e:
        raise ErrInvalidRequest(f"{what} is not hex") from e


def _uint(text: Any, what: str, bits: int = 256) -> int:
    s = str(text if text is not None else "0")
    try:
        n = int(s, 16) if s.startswith("0x") else int(s, 10)
    except ValueError as e:
        raise ErrInvalidRequest(f"{what} {s!r:.80} is not an integer") from e
    if not 0 <= n < 2**bits:
        raise ErrInvalidRequest(f"{what} must be in [0, 2^{bits})")
    return n


def make_account(keeper: EvmKeeper) -> Any:
    def account(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
        a = address(req.get("address"))
        code_hash = state.code_hash_of(ctx, a)
        return {
            "address": "0x" + a.hex(),
            "bech32": to_bech32(a),
            "balance": str(keeper.bank.balance(ctx, a, DENOM)),
            "nonce": str(keeper.accounts.sequence(ctx, a)),
            "code_hash": "0x" + code_hash.hex() if code_hash else "",
            "is_contract": code_hash is not None,
        }

    return account


def code(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    a = address(req.get("address"))
    return {"address": "0x" + a.hex(), "code": "0x" + state.code_of(ctx, a).hex()}


def storage(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    a = address(req.get("address"))
    slot = _uint(req.get("slot"), "slot")
    v = state.storage_at(ctx, a, slot)
    return {
        "address": "0x" + a.hex(),
        "slot": hex(slot),
        "value": "0x" + v.to_bytes(32, "big").hex(),
    }


def params(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    return state.get_params(ctx).to_json()


def base_fee(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    return {"base_fee": str(state.base_fee(ctx))}


def make_call(keeper: EvmKeeper) -> Any:
    def call(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
        """eth_call: run a message on the last commit; nothing is written."""
        sender = address(req.get("from") or "0x" + "00" * 20, "from")
        to_s = req.get("to")
        to = address(to_s, "to") if to_s else None
        data = _hexbytes(req.get("data"), "data", MAX_CALL_DATA)
        value = _uint(req.get("value"), "value")
        gas = _uint(req.get("gas"), "gas", 63) if req.get("gas") is not None else None
        from modules.evm.executor import revert_reason

        out = keeper.call(ctx, sender, to, data, value, gas)
        c = out.computation
        return {
            "success": bool(c.is_success),
            "output": "0x" + bytes(c.output).hex(),
            "gas_used": str(out.gas_used),
            "error": ""
            if c.is_success
            else (revert_reason(bytes(c.output)) or type(c.error).__name__),
        }

    return call
