"""The reputation module as the app sees it."""

from __future__ import annotations

from chain.context import Ctx
from chain.module import Module, MsgSpec
from modules.reputation import genesis, handlers, msgs, queries, state
from modules.reputation.keeper import ReputationKeeper
from modules.reputation.keys import NAME


def _records_consistent(ctx: Ctx) -> str | None:
    for addr, r in state.iterate_records(ctx):
        if r.successes > r.total or r.since_slot > r.last_slot:
            return f"record of {addr.hex()} is inconsistent: {r}"
    return None


def build(keeper: ReputationKeeper) -> Module:
    return Module(
        name=NAME,
        msgs=[
            MsgSpec(
                msgs.HEARTBEAT_URL,
                msgs.MsgHeartbeat,
                signer=lambda m: str(m.address),
                validate=msgs.validate_heartbeat,
                handler=handlers.make_heartbeat(keeper),
            )
        ],
        queries={"score": queries.make_score(keeper), "params": queries.params},
        default_genesis=genesis.default,
        validate_genesis=genesis.validate,
        init_genesis=genesis.init,
        export_genesis=genesis.export,
        invariants={"records": _records_consistent},
    )
