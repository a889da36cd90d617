"""Handlers of the staking module: parsed message → keeper (which checks and emits)."""

from __future__ import annotations

from chain.context import Ctx
from chain.module import Handler
from modules.staking.keeper import StakingKeeper
from modules.staking.msgs import Bond, Unbond, Unjail


def make_bond(keeper: StakingKeeper) -> Handler[Bond]:
    def handle(ctx: Ctx, msg: Bond) -> None:
        keeper.bond(ctx, msg.address, msg.role, msg.amount, msg.ed25519_pubkey)

    return handle


def make_unbond(keeper: StakingKeeper) -> Handler[Unbond]:
    def handle(ctx: Ctx, msg: Unbond) -> None:
        keeper.unbond(ctx, msg.address, msg.role, msg.amount)

    return handle


def make_unjail(keeper: StakingKeeper) -> Handler[Unjail]:
    def handle(ctx: Ctx, msg: Unjail) -> None:
        keeper.unjail(ctx, msg.address, msg.role)

    return handle
