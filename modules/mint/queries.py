"""Queries of the mint module (JSON in, JSON out)."""

from __future__ import annotations

from typing import Any

from chain.context import Ctx
from chain.crypto import to_bech32
from modules.mint import state


def params(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    return state.get_params(ctx).to_json()


def epoch(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    """The current epoch: when it began, when it mints, and the work so far."""
    number, start = state.epoch(ctx)
    return {
        "epoch": str(number),
        "start_height": str(start),
        "mints_at_height": str(start + state.get_params(ctx).epoch_blocks),
        "total_units": str(state.total_units(ctx)),
        "workers": [
            {"address": to_bech32(a), "units": str(n)} for a, n in state.iterate_units(ctx)
        ],
    }


def minted(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    return {"total_minted": str(state.total_minted(ctx))}


QUERIES = {"params": params, "epoch": epoch, "minted": minted}
