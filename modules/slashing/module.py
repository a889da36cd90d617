"""The slashing module as the app sees it."""

from __future__ import annotations

from chain.module import Module
from modules.slashing import genesis, invariants, queries
from modules.slashing.keeper import SlashingKeeper
from modules.slashing.keys import NAME


def build(keeper: SlashingKeeper) -> Module:
    return Module(
        name=NAME,
        queries=dict(queries.QUERIES),
        default_genesis=genesis.default,
        validate_genesis=genesis.validate,
        init_genesis=genesis.init,
        export_genesis=genesis.export,
        invariants=invariants.invariants(),
        # CometBFT's evidence and last-commit votes: double signs and downtime
        consensus_begin=keeper.handle_consensus,
    )
