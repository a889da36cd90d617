"""The evm module as the app sees it."""

from __future__ import annotations

from chain.module import Module
from modules.evm import genesis, invariants, queries
from modules.evm.keeper import EvmKeeper
from modules.evm.keys import NAME


def build(keeper: EvmKeeper) -> Module:
    """The module over ``keeper``: Ethereum txs come in as foreign txs (no Cosmos
    messages of its own: MsgEthereumTx is only an envelope)."""
    return Module(
        name=NAME,
        queries={
            "account": queries.make_account(keeper),
            "code": queries.code,
            "storage": queries.storage,
            "params": queries.params,
            "base_fee": queries.base_fee,
            "call": queries.make_call(keeper),
        },
        default_genesis=genesis.default,
        validate_genesis=genesis.validate,
        init_genesis=genesis.init,
        export_genesis=genesis.export,
        begin_block=keeper.begin_block,
        end_block=keeper.end_block,
        invariants=invariants.invariants(),
        foreign_txs=keeper,
    )
