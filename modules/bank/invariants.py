"""Invariants of the bank module: the supply is the sum of the balances."""

from __future__ import annotations

from chain.coins import MAX_AMOUNT
from chain.context import Ctx
from chain.module import Invariant
from modules.bank import state


def _supply_matches_balances(ctx: Ctx) -> str | None:
    totals: dict[str, int] = {}
    for _, denom, n in state.all_balances(ctx):
        if n <= 0 or n > MAX_AMOUNT:
            return f"balance {n}{denom} out of range"
        totals[denom] = totals.get(denom, 0) + n
    supply = dict(state.total_supply(ctx))
    supply = {d: n for d, n in supply.items() if n}
    if totals != supply:
        return f"total supply {supply} != sum of balances {totals}"
    return None


def invariants() -> dict[str, Invariant]:
    return {"supply": _supply_matches_balances}
