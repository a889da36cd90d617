"""The drip module as the app sees it."""

from __future__ import annotations

from chain.module import Module, MsgSpec
from modules.drip import genesis, handlers, invariants, msgs, queries
from modules.drip.keeper import DripKeeper
from modules.drip.keys import NAME


def build(keeper: DripKeeper) -> Module:
    return Module(
        name=NAME,
        msgs=[
            MsgSpec(
                msgs.FUND_POOL_URL,
                msgs.MsgFundPool,
                signer=lambda m: m.depositor,
                validate=msgs.validate_fund_pool,
                handler=handlers.make_fund_pool(keeper),
            ),
            MsgSpec(
                msgs.CLAIM_DRIP_URL,
                msgs.MsgClaimDrip,
                signer=lambda m: m.recipient,
                validate=msgs.validate_claim_drip,
                handler=handlers.make_claim_drip(keeper),
            ),
        ],
        queries={
            "pool": queries.make_pool(keeper),
            "dripped": queries.dripped,
            "params": queries.params,
        },
        default_genesis=genesis.default,
        validate_genesis=genesis.validate,
        init_genesis=genesis.init,
        export_genesis=genesis.export,
        invariants=invariants.invariants(),
    )
