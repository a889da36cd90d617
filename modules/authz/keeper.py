"""AuthzKeeper: grants, and running a grantee's messages as their granters'.

The wiring tells the keeper which types are grantable and what each spends
(``allow``), and hands it the app's routes (``set_routes``): the module
imports no other module."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from chain.context import Ctx
from chain.crypto import to_bech32
from chain.errors import ChainError
from chain.module import MsgSpec
from modules.authz import events, state
from modules.authz.errors import (
    ErrGrantExpired,
    ErrInvalidGrant,
    ErrNoGrant,
    ErrSpendLimit,
    ErrTooManyMsgs,
)
from modules.authz.expected import SpendFn
from modules.authz.msgs import Exec, Grant, Revoke

# expired grants removed by one end-block hook at most (bounds a block's work)
MAX_PRUNE_PER_BLOCK = 256


class AuthzKeeper:
    def __init__(self) -> None:
        # type URL -> its spend; the keys are the grantable types. Both dicts
        # are filled in place by the wiring: the module's validators hold them.
        self.spends: dict[str, SpendFn] = {}
        self.routes: dict[str, MsgSpec] = {}

    # -- wiring --------------------------------------------------------------
    def allow(self, type_url: str, spend: SpendFn) -> None:
        """Make ``type_url`` grantable, ``spend`` saying what each message spends."""
        self.spends[type_url] = spend

    def set_routes(self, routes: Mapping[str, MsgSpec]) -> None:
        """The app's message routes (type URL -> MsgSpec), for the inner messages."""
        self.routes.clear()
        self.routes.update(routes)

    # -- messages ------------------------------------------------------------
    def grant(self, ctx: Ctx, g: Grant) -> None:
        h = ctx.block.height
        if g.expiration_height and g.expiration_height < h:
            raise ErrInvalidGrant(
                f"expiration_height {g.expiration_height} is before the current height {h}"
            )
        state.set_grant(ctx, g)
        ctx.emit(events.granted(g))

    def revoke(self, ctx: Ctx, r: Revoke) -> None:
        if not state.delete_grant(ctx, r.granter, r.grantee, r.msg_type_url):
            raise ErrNoGrant(self._none(r.granter, r.grantee, r.msg_type_url))
        ctx.emit(events.revoked(r.granter, r.grantee, r.msg_type_url))

    def usable(self, ctx: Ctx, granter: bytes, grantee: bytes, url: str) -> Grant:
        """The grant that lets ``grantee`` send ``url`` for ``granter`` now; raises why not."""
        g = state.get_grant(ctx, granter, grantee, url)
        if g is None:
            raise ErrNoGrant(self._none(granter, grantee, url))
        if g.expired(ctx.block.height):
            raise ErrGrantExpired(
                f"the grant of {url} by {to_bech32(granter)} to {to_bech32(grantee)} "
                f"expired at height {g.expiration_height} (now {ctx.block.height})"
            )
        return g

    def exec(self, ctx: Ctx, e: Exec) -> None:
        """Run ``e``'s messages in order, each as its granter; the first refusal
        raises, and the tx (all of it) is dropped."""
        most = state.get_params(ctx).max_exec_msgs
        if len(e.msgs) > most:
            raise ErrTooManyMsgs(f"MsgExec carries {len(e.msgs)} messages; at most {most}")
        for i, m in enumerate(e.msgs):
            g = self.usable(ctx, m.granter, e.grantee, m.type_url)
            spend = self.spends[m.type_url](ctx, m.parsed)
            if spend > g.spend_limit:
                raise ErrSpendLimit(
                    f"exec message {i} ({m.type_url}) spends {spend}avcn; the grant of "
                    f"{to_bech32(m.granter)} has {g.spend_limit}avcn left"
                )
            if spend:
                g = replace(g, spend_limit=g.spend_limit - spend)
                state.set_grant(ctx, g)
            try:
                m.spec.handler(ctx, m.parsed)
            except ChainError as err:
                raise type(err)(err.kind, f"exec message {i}: {err.message}") from err
            ctx.emit(events.executed(g, i, spend))

    def prune(self, ctx: Ctx) -> None:
        """End block: remove grants that expired before this block (at most
        ``MAX_PRUNE_PER_BLOCK``; the rest go in the next blocks, refused as expired
        meanwhile)."""
        for granter, grantee, url in state.expired_before(
            ctx, ctx.block.height, MAX_PRUNE_PER_BLOCK
        ):
            g = state.get_grant(ctx, granter, grantee, url)
            if g is not None and state.delete_grant(ctx, granter, grantee, url):
                ctx.emit(events.pruned(g))

    @staticmethod
    def _none(granter: bytes, grantee: bytes, url: str) -> str:
        return f"{to_bech32(granter)} has granted {to_bech32(grantee)} no {url!r:.140}"
