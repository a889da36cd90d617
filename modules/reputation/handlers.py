"""Handlers of the reputation module: validate → state → event."""

from __future__ import annotations

from functools import partial

from chain.context import Ctx
from chain.module import Handler
from modules.reputation.errors import ErrNotWorker
from modules.reputation.keeper import ReputationKeeper
from modules.reputation.msgs import Heartbeat

HEARTBEAT_ROLES = ("worker", "oracle")


def handle_heartbeat(keeper: ReputationKeeper, ctx: Ctx, msg: Heartbeat) -> None:
    addr = msg.address
    staking = keeper.staking
    if not any(
        staking.bonded(ctx, addr, r) > 0 and not staking.is_tombstoned(ctx, addr, r)
        for r in HEARTBEAT_ROLES
    ):
        raise ErrNotWorker(
            f"{msg.sender} has no worker or oracle bond; bond first (MsgBond), then send heartbeats"
        )
    keeper.record_heartbeat(ctx, addr)


def make_heartbeat(keeper: ReputationKeeper) -> Handler[Heartbeat]:
    return partial(handle_heartbeat, keeper)
