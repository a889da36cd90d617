"""Invariants of the mint module: the epoch total is the sum of the workers'
units, and the mint account pays out all it mints within the block."""

from __future__ import annotations

from chain.coins import DENOM
from chain.context import Ctx
from chain.crypto import module_address
from chain.module import Invariant
from modules.mint import state
from modules.mint.keeper import MintKeeper
from modules.mint.keys import ACCOUNT


def _units_total(ctx: Ctx) -> str | None:
    s = sum(n for _, n in state.iterate_units(ctx))
    if s != state.total_units(ctx):
        return f"epoch total {state.total_units(ctx)} units; workers' units sum to {s}"
    return None


def _account_empty(keeper: MintKeeper) -> Invariant:
    def check(ctx: Ctx) -> str | None:
        held = keeper.bank.balance(ctx, module_address(ACCOUNT), DENOM)
        return None if held == 0 else f"the mint account kept {held}{DENOM} after a block"

    return check


def invariants(keeper: MintKeeper) -> dict[str, Invariant]:
    return {"units": _units_total, "account_empty": _account_empty(keeper)}
