"""The verification module as the app sees it."""

from __future__ import annotations

from typing import Any

from chain.module import Module, MsgSpec
from modules.verification import genesis, handlers, invariants, msgs, queries
from modules.verification.keeper import VerificationKeeper
from modules.verification.keys import NAME


def build(k: VerificationKeeper) -> Module:
    def spec(url: str, cls: Any, validate: Any, handler: Any) -> MsgSpec:
        return MsgSpec(url, cls, lambda m: str(m.oracle), validate, handler)

    return Module(
        name=NAME,
        msgs=[
            spec(
                msgs.COMMIT_CANARY_URL,
                msgs.MsgCommitCanary,
                msgs.validate_commit,
                handlers.make_commit_canary(k),
            ),
            spec(
                msgs.REVEAL_CANARY_URL,
                msgs.MsgRevealCanary,
                msgs.validate_reveal,
                handlers.make_reveal_canary(k),
            ),
            spec(msgs.ATTEST_URL, msgs.MsgAttest, msgs.validate_attest, handlers.make_attest(k)),
        ],
        queries=queries.make_queries(k),
        default_genesis=genesis.default,
        validate_genesis=genesis.validate,
        init_genesis=genesis.init,
        export_genesis=genesis.export,
        end_block=k.end_block,
        invariants=invariants.invariants(k),
    )
