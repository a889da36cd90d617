"""The auth module as the app sees it."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from chain.module import Module, MsgSpec
from modules.auth import genesis, invariants, msgs, queries
from modules.auth.expected import ParamsOwner
from modules.auth.handlers import make_update_params
from modules.auth.keys import NAME


def build(params_owners: Callable[[], Mapping[str, ParamsOwner]]) -> Module:
    return Module(
        name=NAME,
        msgs=[
            MsgSpec(
                msgs.UPDATE_PARAMS_URL,
                msgs.MsgUpdateParams,
                signer=lambda m: m.authority,
                validate=msgs.validate_update_params,
                handler=make_update_params(params_owners),
            )
        ],
        queries=dict(queries.QUERIES),
        default_genesis=genesis.default,
        validate_genesis=genesis.validate,
        init_genesis=genesis.init,
        export_genesis=genesis.export,
        invariants=invariants.invariants(),
    )
