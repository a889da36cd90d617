"""Queries of the bank module (JSON in, JSON out)."""

from __future__ import annotations

from typing import Any

from chain.coins import DENOM, coins_json
from chain.context import Ctx
from chain.crypto import AddressError, parse_address
from chain.errors import ErrInvalidAddress
from modules.bank import state
from modules.bank.genesis import DENOM_METADATA


def _addr(req: dict[str, Any]) -> bytes:
    try:
        return parse_address(str(req.get("address", "")))  # vcoin1… or 0x…
    except AddressError as e:
        raise ErrInvalidAddress(str(e)) from e


def balance(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    denom = str(req.get("denom") or DENOM)
    return {"balance": {"denom": denom, "amount": str(state.balance(ctx, _addr(req), denom))}}


def all_balances(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    return {"balances": coins_json(state.balances(ctx, _addr(req)))}


def total_supply(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    return {"supply": coins_json(state.total_supply(ctx))}


def supply_of(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    denom = str(req.get("denom") or DENOM)
    return {"amount": {"denom": denom, "amount": str(state.supply(ctx, denom))}}


def params(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    return state.get_params(ctx).to_json()


def denom_metadata(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    return {"metadatas": [DENOM_METADATA]}


QUERIES = {
    "balance": balance,
    "all_balances": all_balances,
    "total_supply": total_supply,
    "supply_of": supply_of,
    "params": params,
    "denom_metadata": denom_metadata,
}
