"""The staking module as the app sees it."""

from __future__ import annotations

from collections.abc import Callable

from chain.coins import DENOM
from chain.context import Ctx
from chain.crypto import module_address
from chain.module import Module, MsgSpec
from modules.staking import genesis, handlers, msgs, queries, state
from modules.staking.keeper import StakingKeeper
from modules.staking.keys import NAME, POOL, ROLES


def _pool_matches_bonds(keeper: StakingKeeper) -> Callable[[Ctx], str | None]:
    def check(ctx: Ctx) -> str | None:
        bonds = sum(n for _, _, n in state.iterate_bonds(ctx))
        unbonding = sum(e.amount for e in state.iterate_unbonding(ctx))
        held = keeper.bank.balance(ctx, module_address(POOL), DENOM)
        if held != bonds + unbonding:
            return f"pool holds {held}{DENOM}; bonds {bonds} + unbonding {unbonding}"
        return None

    return check


def _totals_match_bonds(ctx: Ctx) -> str | None:
    for role in ROLES:
        s = sum(n for _, _, n in state.iterate_bonds(ctx, role))
        if s != state.total_bonded(ctx, role):
            return f"total bonded as {role} is {state.total_bonded(ctx, role)}; bonds sum to {s}"
    return None


def build(keeper: StakingKeeper) -> Module:
    return Module(
        name=NAME,
        msgs=[
            MsgSpec(
                msgs.BOND_URL,
                msgs.MsgBond,
                signer=lambda m: str(m.address),
                validate=msgs.validate_bond,
                handler=handlers.make_bond(keeper),
            ),
            MsgSpec(
                msgs.UNBOND_URL,
                msgs.MsgUnbond,
                signer=lambda m: str(m.address),
                validate=msgs.validate_unbond,
                handler=handlers.make_unbond(keeper),
            ),
            MsgSpec(
                msgs.UNJAIL_URL,
                msgs.MsgUnjail,
                signer=lambda m: str(m.address),
                validate=msgs.validate_unjail,
                handler=handlers.make_unjail(keeper),
            ),
        ],
        queries=dict(queries.QUERIES),
        default_genesis=genesis.default,
        validate_genesis=genesis.validate,
        init_genesis=genesis.init,
        export_genesis=genesis.export,
        end_block=keeper.release_matured,
        invariants={
            "pool": _pool_matches_bonds(keeper),
            "totals": _totals_match_bonds,
        },
    )
