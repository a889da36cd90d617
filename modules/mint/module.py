"""The mint module as the app sees it."""

from __future__ import annotations

from chain.module import Module
from modules.mint import genesis, invariants, queries
from modules.mint.keeper import MintKeeper
from modules.mint.keys import NAME


def build(keeper: MintKeeper) -> Module:
    return Module(
        name=NAME,
        queries=dict(queries.QUERIES),
        default_genesis=genesis.default,
        validate_genesis=genesis.validate,
        init_genesis=genesis.init,
        export_genesis=genesis.export,
        end_block=keeper.end_block,
        invariants=invariants.invariants(keeper),
    )
