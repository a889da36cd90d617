"""Invariants of the drip module: no drip is recorded in the future."""

from __future__ import annotations

from chain.context import Ctx
from chain.module import Invariant
from modules.drip import state


def _no_future_drips(ctx: Ctx) -> str | None:
    for addr, h in state.iterate_dripped(ctx):
        if h > ctx.block.height:
            return f"{addr.hex()} dripped at {h}, after the current height {ctx.block.height}"
    return None


def invariants() -> dict[str, Invariant]:
    return {"no_future_drips": _no_future_drips}
