"""The reputation module as the app sees it."""

from __future__ import annotations

from chain.module import Module, MsgSpec
from modules.reputation import genesis, handlers, invariants, msgs, queries
from modules.reputation.keeper import ReputationKeeper
from modules.reputation.keys import NAME


def build(keeper: ReputationKeeper) -> Module:
    return Module(
        name=NAME,
        msgs=[
            MsgSpec(
                msgs.HEARTBEAT_URL,
                msgs.MsgHeartbeat,
                signer=lambda m: m.address,
                validate=msgs.validate_heartbeat,
                handler=handlers.make_heartbeat(keeper),
            )
        ],
        queries={"score": queries.make_score(keeper), "params": queries.params},
        default_genesis=genesis.default,
        validate_genesis=genesis.validate,
        init_genesis=genesis.init,
        export_genesis=genesis.export,
        invariants=invariants.invariants(),
    )
