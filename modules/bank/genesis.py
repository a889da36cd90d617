"""Genesis of the bank module: default, validate, init, export (symmetric)."""

from __future__ import annotations

from typing import Any

from chain.coins import DECIMALS, DENOM, DISPLAY, coins_json, parse_coins
from chain.context import Ctx
from chain.crypto import AddressError, from_bech32, to_bech32
from modules.bank import state
from modules.bank.errors import ErrInvalidParams
from modules.bank.keeper import BankKeeper
from modules.bank.params import Params

DENOM_METADATA: dict[str, Any] = {
    "description": "The native coin of VCoin",
    "denom_units": [
        {"denom": DENOM, "exponent": 0, "aliases": []},
        {"denom": DISPLAY, "exponent": DECIMALS, "aliases": []},
    ],
    "base": DENOM,
    "display": DISPLAY,
    "name": "VCoin",
    "symbol": DISPLAY,
}


def default() -> dict[str, Any]:
    return {"params": Params().to_json(), "balances": [], "supply": []}


def _totals(g: dict[str, Any]) -> dict[str, int]:
    totals: dict[str, int] = {}
    seen: set[str] = set()
    for b in g.get("balances", []):
        try:
            from_bech32(b["address"])
        except (AddressError, KeyError) as e:
            raise ErrInvalidParams(f"genesis balance: {e}") from e
        if b["address"] in seen:
            raise ErrInvalidParams(f"duplicate genesis balance for {b['address']}")
        seen.add(b["address"])
        for denom, n in parse_coins(b.get("coins", []), allow_empty=True):
            totals[denom] = totals.get(denom, 0) + n
    return totals


def validate(g: dict[str, Any]) -> None:
    Params.from_json(g.get("params", {}))
    totals = _totals(g)
    declared = g.get("supply") or []
    if declared:
        want = dict(parse_coins(declared, allow_empty=True))
        if want != totals:
            raise ErrInvalidParams(
                f"declared supply {want} differs from the sum of balances {totals}"
            )


def init(ctx: Ctx, g: dict[str, Any], keeper: BankKeeper) -> None:
    state.set_params(ctx, Params.from_json(g.get("params", {})))
    for b in g.get("balances", []):
        addr = from_bech32(b["address"])
        keeper.accounts.ensure_account(ctx, addr)
        keeper.set_genesis_balance(ctx, addr, parse_coins(b.get("coins", []), allow_empty=True))
    for denom, n in sorted(_totals(g).items()):
        keeper.set_genesis_supply(ctx, denom, n)


def export(ctx: Ctx) -> dict[str, Any]:
    by_addr: dict[bytes, list[tuple[str, int]]] = {}
    for addr, denom, n in state.all_balances(ctx):
        by_addr.setdefault(addr, []).append((denom, n))
    return {
        "params": state.get_params(ctx).to_json(),
        "balances": [
            {"address": to_bech32(a), "coins": coins_json(tuple(c))}
            for a, c in sorted(by_addr.items())
        ],
        "supply": coins_json(state.total_supply(ctx)),
    }
