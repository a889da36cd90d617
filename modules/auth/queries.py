"""Queries of the auth module (JSON in, JSON out)."""

from __future__ import annotations

from typing import Any

from chain.context import Ctx
from chain.crypto import AddressError, key_algo, key_pubkey, parse_address, to_bech32
from chain.errors import ErrInvalidAddress, ErrNotFound
from modules.auth import state


def account_json(acc: state.Account) -> dict[str, Any]:
    d: dict[str, Any] = {
        "address": to_bech32(acc.address),
        "account_number": str(acc.number),
        "sequence": str(acc.sequence),
        "pub_key": None if acc.pubkey is None else key_pubkey(acc.pubkey).hex(),
    }
    if acc.pubkey is not None:
        d["pub_key_type"] = key_algo(acc.pubkey)  # secp256k1 or eth_secp256k1
    if acc.module is not None:
        d["name"] = acc.module
        d["permissions"] = list(acc.permissions)
    return d


def account(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    try:
        addr = parse_address(str(req.get("address", "")))
    except AddressError as e:
        raise ErrInvalidAddress(str(e)) from e
    acc = state.get_account(ctx, addr)
    if acc is None:
        raise ErrNotFound(f"account {req['address']} not found: it has never received funds")
    return account_json(acc)


def params(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    return state.get_params(ctx).to_json()


def module_account(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    acc = state.get_module_account(ctx, str(req.get("name", "")))
    if acc is None:
        raise ErrNotFound(f"no module account named {req.get('name')!r}")
    return account_json(acc)


QUERIES = {"account": account, "params": params, "module_account": module_account}
