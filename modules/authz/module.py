"""The authz module as the app sees it."""

from __future__ import annotations

from functools import partial

from chain.module import Module, MsgSpec
from modules.authz import genesis, handlers, invariants, msgs, queries
from modules.authz.keeper import AuthzKeeper
from modules.authz.keys import NAME


def build(keeper: AuthzKeeper) -> Module:
    """The module over ``keeper``; the wiring fills ``keeper``'s grantable types
    and routes (they are read at each message, never copied here)."""
    grantable = keeper.spends.keys()
    return Module(
        name=NAME,
        msgs=[
            MsgSpec(
                msgs.GRANT_URL,
                msgs.MsgGrant,
                signer=lambda m: m.granter,
                validate=partial(msgs.validate_grant, grantable),
                handler=handlers.make_grant(keeper),
            ),
            MsgSpec(
                msgs.REVOKE_URL,
                msgs.MsgRevoke,
                signer=lambda m: m.granter,
                validate=msgs.validate_revoke,
                handler=handlers.make_revoke(keeper),
            ),
            MsgSpec(
                msgs.EXEC_URL,
                msgs.MsgExec,
                signer=lambda m: m.grantee,
                validate=partial(msgs.validate_exec, keeper.routes, grantable),
                handler=handlers.make_exec(keeper),
            ),
        ],
        queries={
            "grants": queries.grants,
            "grant": queries.grant,
            "params": queries.params,
        },
        default_genesis=genesis.default,
        validate_genesis=partial(genesis.validate, grantable),
        init_genesis=partial(genesis.init, grantable),
        export_genesis=genesis.export,
        end_block=keeper.prune,  # removes grants that expired before this block
        invariants=invariants.invariants(),
    )
