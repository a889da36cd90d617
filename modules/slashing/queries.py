"""Queries of the slashing module (JSON in, JSON out)."""

from __future__ import annotations

from typing import Any

from chain.context import Ctx
from chain.crypto import AddressError, from_bech32
from chain.errors import ErrInvalidAddress
from modules.slashing import state


def params(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    return state.get_params(ctx).to_json()


def missed_blocks(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    """A validator's blocks missed in its current window (CometBFT only)."""
    try:
        addr = from_bech32(str(req.get("address", "")))
    except AddressError as e:
        raise ErrInvalidAddress(f"address: {e}") from e
    p = state.get_params(ctx)
    m = state.missed_blocks(ctx, addr, p.signed_blocks_window)
    return {
        "counted": str(m.counted),
        "missed": str(m.missed()),
        "window": str(p.signed_blocks_window),
        "max_missed": str(p.max_missed_blocks()),
    }


QUERIES = {"params": params, "missed_blocks": missed_blocks}
