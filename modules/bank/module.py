"""The bank module as the app sees it."""

from __future__ import annotations

from chain.coins import MAX_AMOUNT
from chain.context import Ctx
from chain.module import Module, MsgSpec
from modules.bank import genesis, handlers, msgs, queries, state
from modules.bank.keeper import BankKeeper
from modules.bank.keys import NAME


def _supply_matches_balances(ctx: Ctx) -> str | None:
    totals: dict[str, int] = {}
    for _, denom, n in state.all_balances(ctx):
        if n <= 0 or n > MAX_AMOUNT:
            return f"balance {n}{denom} out of range"
        totals[denom] = totals.get(denom, 0) + n
    supply = dict(state.total_supply(ctx))
    supply = {d: n for d, n in supply.items() if n}
    if totals != supply:
        return f"total supply {supply} != sum of balances {totals}"
    return None


def build(keeper: BankKeeper) -> Module:
    return Module(
        name=NAME,
        msgs=[
            MsgSpec(
                msgs.SEND_URL,
                msgs.MsgSend,
                signer=lambda m: str(m.from_address),
                validate=msgs.validate_send,
                handler=handlers.make_send(keeper),
            )
        ],
        queries=dict(queries.QUERIES),
        default_genesis=genesis.default,
        validate_genesis=genesis.validate,
        init_genesis=lambda ctx, g: genesis.init(ctx, g, keeper),
        export_genesis=genesis.export,
        invariants={"supply": _supply_matches_balances},
    )
