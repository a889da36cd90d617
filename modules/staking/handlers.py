"""Handlers of the staking module: decode → keeper (which checks and emits)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chain.context import Ctx
from chain.crypto import from_bech32
from modules.staking.keeper import StakingKeeper
from modules.staking.msgs import bond_amount

Handler = Callable[[Ctx, Any], None]


def make_bond(keeper: StakingKeeper) -> Handler:
    def handle(ctx: Ctx, msg: Any) -> None:
        keeper.bond(
            ctx,
            from_bech32(msg.address),
            msg.role,
            bond_amount(msg.amount),
            bytes(msg.ed25519_pubkey),
        )

    return handle


def make_unbond(keeper: StakingKeeper) -> Handler:
    def handle(ctx: Ctx, msg: Any) -> None:
        keeper.unbond(ctx, from_bech32(msg.address), msg.role, bond_amount(msg.amount))

    return handle


def make_unjail(keeper: StakingKeeper) -> Handler:
    def handle(ctx: Ctx, msg: Any) -> None:
        keeper.unjail(ctx, from_bech32(msg.address), msg.role)

    return handle
