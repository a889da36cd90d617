"""Invariants of the slashing module.

Slashing keeps only its params; what it decides lives in staking (jail, slash,
tombstone) and reputation (penalty points). Its params are read on every
caught cheat and outvoted oracle without being checked again, so params that
do not decode or are out of range (a slash fraction over 100 % makes staking's
``slash`` raise) would fail those transitions: they must always be valid.
"""

from __future__ import annotations

from chain.context import Ctx
from chain.errors import ChainError
from chain.module import Invariant
from modules.slashing import state


def _params_valid(ctx: Ctx) -> str | None:
    try:
        state.get_params(ctx).validate()
    except (ValueError, TypeError) as e:  # not JSON, or not the fields of Params
        return f"stored params do not decode: {e}"
    except ChainError as e:
        return f"stored params are invalid: {e.message}"
    return None


def invariants() -> dict[str, Invariant]:
    return {"params": _params_valid}
