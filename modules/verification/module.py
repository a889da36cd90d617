"""The verification module as the app sees it."""

from __future__ import annotations

from chain.module import Module, MsgSpec
from modules.verification import genesis, handlers, invariants, msgs, queries
from modules.verification.keeper import VerificationKeeper
from modules.verification.keys import NAME


def build(k: VerificationKeeper) -> Module:
    return Module(
        name=NAME,
        msgs=[
            MsgSpec(
                msgs.COMMIT_CANARY_URL,
                msgs.MsgCommitCanary,
                signer=lambda m: m.oracle,
                validate=msgs.validate_commit,
                handler=handlers.make_commit_canary(k),
            ),
            MsgSpec(
                msgs.REVEAL_CANARY_URL,
                msgs.MsgRevealCanary,
                signer=lambda m: m.oracle,
                validate=msgs.validate_reveal,
                handler=handlers.make_reveal_canary(k),
            ),
            MsgSpec(
                msgs.ATTEST_URL,
                msgs.MsgAttest,
                signer=lambda m: m.oracle,
                validate=msgs.validate_attest,
                handler=handlers.make_attest(k),
            ),
        ],
        queries=queries.make_queries(k),
        default_genesis=genesis.default,
        validate_genesis=genesis.validate,
        init_genesis=genesis.init,
        export_genesis=genesis.export,
        end_block=k.end_block,
        invariants=invariants.invariants(k),
    )
