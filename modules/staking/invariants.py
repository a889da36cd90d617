"""Invariants of the staking module: the pool holds every bonded and unbonding
coin, and each role's total is the sum of its bonds."""

from __future__ import annotations

from chain.coins import DENOM
from chain.context import Ctx
from chain.crypto import module_address
from chain.module import Invariant
from modules.staking import state
from modules.staking.keeper import StakingKeeper
from modules.staking.keys import POOL, ROLES


def _pool_matches_bonds(keeper: StakingKeeper) -> Invariant:
    def check(ctx: Ctx) -> str | None:
        bonds = sum(n for _, _, n in state.iterate_bonds(ctx))
        unbonding = sum(e.amount for e in state.iterate_unbonding(ctx))
        held = keeper.bank.balance(ctx, module_address(POOL), DENOM)
        if held != bonds + unbonding:
            return f"pool holds {held}{DENOM}; bonds {bonds} + unbonding {unbonding}"
        return None

    return check


def _totals_match_bonds(ctx: Ctx) -> str | None:
    for role in ROLES:
        s = sum(n for _, _, n in state.iterate_bonds(ctx, role))
        if s != state.total_bonded(ctx, role):
            return f"total bonded as {role} is {state.total_bonded(ctx, role)}; bonds sum to {s}"
    return None


def invariants(keeper: StakingKeeper) -> dict[str, Invariant]:
    return {"pool": _pool_matches_bonds(keeper), "totals": _totals_match_bonds}
