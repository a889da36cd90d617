"""Handlers of the training module: check → state → event (the keeper does all three)."""

from __future__ import annotations

from functools import partial

from chain.context import Ctx
from chain.module import Handler
from modules.training.keeper import TrainingKeeper
from modules.training.msgs import CancelTraining, PostTraining


def handle_post_training(k: TrainingKeeper, ctx: Ctx, msg: PostTraining) -> None:
    k.post(ctx, msg)


def make_post_training(k: TrainingKeeper) -> Handler[PostTraining]:
    return partial(handle_post_training, k)


def handle_cancel_training(k: TrainingKeeper, ctx: Ctx, msg: CancelTraining) -> None:
    k.cancel(ctx, msg)


def make_cancel_training(k: TrainingKeeper) -> Handler[CancelTraining]:
    return partial(handle_cancel_training, k)
