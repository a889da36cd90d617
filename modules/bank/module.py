"""The bank module as the app sees it."""

from __future__ import annotations

from chain.module import Module, MsgSpec
from modules.bank import genesis, handlers, invariants, msgs, queries
from modules.bank.keeper import BankKeeper
from modules.bank.keys import NAME


def build(keeper: BankKeeper) -> Module:
    return Module(
        name=NAME,
        msgs=[
            MsgSpec(
                msgs.SEND_URL,
                msgs.MsgSend,
                signer=lambda m: m.from_address,
                validate=msgs.validate_send,
                handler=handlers.make_send(keeper),
            )
        ],
        queries=dict(queries.QUERIES),
        default_genesis=genesis.default,
        validate_genesis=genesis.validate,
        init_genesis=lambda ctx, g: genesis.init(ctx, g, keeper),
        export_genesis=genesis.export,
        invariants=invariants.invariants(),
    )
