"""Handlers of the staking module: parsed message → keeper (which checks and emits)."""

from __future__ import annotations

from functools import partial

from chain.context import Ctx
from chain.module import Handler
from modules.staking.keeper import StakingKeeper
from modules.staking.msgs import Bond, Unbond, Unjail


def handle_bond(keeper: StakingKeeper, ctx: Ctx, msg: Bond) -> None:
    keeper.bond(ctx, msg.address, msg.role, msg.amount, msg.ed25519_pubkey, msg.consensus_pubkey)


def make_bond(keeper: StakingKeeper) -> Handler[Bond]:
    return partial(handle_bond, keeper)


def handle_unbond(keeper: StakingKeeper, ctx: Ctx, msg: Unbond) -> None:
    keeper.unbond(ctx, msg.address, msg.role, msg.amount)


def make_unbond(keeper: StakingKeeper) -> Handler[Unbond]:
    return partial(handle_unbond, keeper)


def handle_unjail(keeper: StakingKeeper, ctx: Ctx, msg: Unjail) -> None:
    keeper.unjail(ctx, msg.address, msg.role)


def make_unjail(keeper: StakingKeeper) -> Handler[Unjail]:
    return partial(handle_unjail, keeper)
