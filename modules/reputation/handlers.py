"""Handlers of the reputation module: validate → state → event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chain.context import Ctx
from chain.crypto import from_bech32
from modules.reputation.errors import ErrNotWorker
from modules.reputation.keeper import ReputationKeeper

HEARTBEAT_ROLES = ("worker", "oracle")


def make_heartbeat(keeper: ReputationKeeper) -> Callable[[Ctx, Any], None]:
    def handle(ctx: Ctx, msg: Any) -> None:
        addr = from_bech32(msg.address)
        staking = keeper.staking
        if not any(
            staking.bonded(ctx, addr, r) > 0 and not staking.is_tombstoned(ctx, addr, r)
            for r in HEARTBEAT_ROLES
        ):
            raise ErrNotWorker(
                f"{msg.address} has no worker or oracle bond; bond first (MsgBond), "
                "then send heartbeats"
            )
        keeper.record_heartbeat(ctx, addr)

    return handle
