"""Handlers of the drip module: validate → state → event."""

from __future__ import annotations

from functools import partial

from chain.context import Ctx
from chain.module import Handler
from modules.drip.keeper import DripKeeper
from modules.drip.msgs import ClaimDrip, FundPool


def handle_fund_pool(keeper: DripKeeper, ctx: Ctx, msg: FundPool) -> None:
    keeper.fund(ctx, msg.depositor, msg.amount)


def make_fund_pool(keeper: DripKeeper) -> Handler[FundPool]:
    return partial(handle_fund_pool, keeper)


def handle_claim_drip(keeper: DripKeeper, ctx: Ctx, msg: ClaimDrip) -> None:
    keeper.drip(ctx, msg.recipient)


def make_claim_drip(keeper: DripKeeper) -> Handler[ClaimDrip]:
    return partial(handle_claim_drip, keeper)
