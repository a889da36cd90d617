"""Handlers of the authz module: validate → state → event."""

from __future__ import annotations

from functools import partial

from chain.context import Ctx
from chain.module import Handler
from modules.authz.keeper import AuthzKeeper
from modules.authz.msgs import Exec, Grant, Revoke


def handle_grant(keeper: AuthzKeeper, ctx: Ctx, msg: Grant) -> None:
    keeper.grant(ctx, msg)


def make_grant(keeper: AuthzKeeper) -> Handler[Grant]:
    return partial(handle_grant, keeper)


def handle_revoke(keeper: AuthzKeeper, ctx: Ctx, msg: Revoke) -> None:
    keeper.revoke(ctx, msg)


def make_revoke(keeper: AuthzKeeper) -> Handler[Revoke]:
    return partial(handle_revoke, keeper)


def handle_exec(keeper: AuthzKeeper, ctx: Ctx, msg: Exec) -> None:
    keeper.exec(ctx, msg)


def make_exec(keeper: AuthzKeeper) -> Handler[Exec]:
    return partial(handle_exec, keeper)
