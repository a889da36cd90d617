"""Invariants of the auth module: account numbers are unique and all handed out."""

from __future__ import annotations

from chain.context import Ctx
from chain.crypto import to_bech32
from chain.module import Invariant
from modules.auth import state


def _numbers_below_next(ctx: Ctx) -> str | None:
    """Every account number was handed out: a number at or past the next one
    would be given again to the next new account (signatures use the number)."""
    top = state.next_account_number(ctx)
    for acc in state.iterate_accounts(ctx):
        if acc.number >= top:
            return (
                f"account {to_bech32(acc.address)} has number {acc.number}; "
                f"the next account number is {top}"
            )
    return None


def _numbers_unique(ctx: Ctx) -> str | None:
    """No two accounts share a number (a signature for one would verify for the other)."""
    seen: dict[int, bytes] = {}
    for acc in state.iterate_accounts(ctx):
        other = seen.setdefault(acc.number, acc.address)
        if other != acc.address:
            return (
                f"accounts {to_bech32(other)} and {to_bech32(acc.address)} "
                f"share number {acc.number}"
            )
    return None


def invariants() -> dict[str, Invariant]:
    return {"numbers_below_next": _numbers_below_next, "numbers_unique": _numbers_unique}
