"""Handlers of the drip module: validate → state → event."""

from __future__ import annotations

from chain.context import Ctx
from chain.module import Handler
from modules.drip.keeper import DripKeeper
from modules.drip.msgs import ClaimDrip, FundPool


def make_fund_pool(keeper: DripKeeper) -> Handler[FundPool]:
    def handle(ctx: Ctx, msg: FundPool) -> None:
        keeper.fund(ctx, msg.depositor, msg.amount)

    return handle


def make_claim_drip(keeper: DripKeeper) -> Handler[ClaimDrip]:
    def handle(ctx: Ctx, msg: ClaimDrip) -> None:
        keeper.drip(ctx, msg.recipient)

    return handle
