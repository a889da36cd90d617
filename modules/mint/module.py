"""The mint module as the app sees it."""

from __future__ import annotations

from collections.abc import Callable

from chain.coins import DENOM
from chain.context import Ctx
from chain.crypto import module_address
from chain.module import Module
from modules.mint import genesis, queries, state
from modules.mint.keeper import MintKeeper
from modules.mint.keys import ACCOUNT, NAME


def _units_total(ctx: Ctx) -> str | None:
    s = sum(n for _, n in state.iterate_units(ctx))
    if s != state.total_units(ctx):
        return f"epoch total {state.total_units(ctx)} units; workers' units sum to {s}"
    return None


def _account_empty(keeper: MintKeeper) -> Callable[[Ctx], str | None]:
    def check(ctx: Ctx) -> str | None:
        held = keeper.bank.balance(ctx, module_address(ACCOUNT), DENOM)
        return None if held == 0 else f"the mint account kept {held}{DENOM} after a block"

    return check


def build(keeper: MintKeeper) -> Module:
    return Module(
        name=NAME,
        queries=dict(queries.QUERIES),
        default_genesis=genesis.default,
        validate_genesis=genesis.validate,
        init_genesis=genesis.init,
        export_genesis=genesis.export,
        end_block=keeper.end_block,
        invariants={"units": _units_total, "account_empty": _account_empty(keeper)},
    )
