"""Queries of the drip module (JSON in, JSON out)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chain.context import Ctx
from chain.crypto import module_address, to_bech32
from modules.drip import state
from modules.drip.keeper import DripKeeper
from modules.drip.keys import POOL
from modules.drip.msgs import check_address


def make_pool(keeper: DripKeeper) -> Callable[[Ctx, dict[str, Any]], Any]:
    def pool(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
        """The pool's address and balance, and how many drips it can still pay."""
        p = state.get_params(ctx)
        have = keeper.pool_balance(ctx)
        return {
            "address": to_bech32(module_address(POOL)),
            "balance": str(have),
            "drip_amount": str(p.drip_amount),
            "drips_left": str(have // p.drip_amount),
        }

    return pool


def dripped(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    """Whether an address has had its drip, and at which height."""
    addr = check_address(str(req.get("address", "")), "address")
    at = state.dripped_at(ctx, addr)
    return {"address": to_bech32(addr), "dripped": at is not None, "height": str(at or 0)}


def params(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    return state.get_params(ctx).to_json()
