"""Invariants of the training module: the training module account holds exactly
the sum of the trainings' ``escrow_left`` (a finished training's is 0)."""

from __future__ import annotations

from chain.coins import DENOM
from chain.context import Ctx
from chain.module import Invariant
from modules.training import state
from modules.training.keeper import TrainingKeeper
from modules.training.records import RUNNING


def _escrow_matches(k: TrainingKeeper) -> Invariant:
    def check(ctx: Ctx) -> str | None:
        held = k.bank.balance(ctx, k.account, DENOM)
        owed = 0
        for t in state.iterate_trainings(ctx):
            if t.state != RUNNING and t.escrow_left:
                return f"training {t.id} is {t.state} but keeps {t.escrow_left}avcn of escrow"
            owed += t.escrow_left
        if held != owed:
            return (
                f"the training account holds {held}avcn; the trainings' escrow_left is {owed}avcn"
            )
        return None

    return check


def invariants(k: TrainingKeeper) -> dict[str, Invariant]:
    return {"escrow": _escrow_matches(k)}
