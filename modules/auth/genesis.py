"""Genesis of the auth module: default, validate, init, export (symmetric)."""

from __future__ import annotations

from typing import Any

from chain.context import Ctx
from chain.crypto import (
    KEY_ALGOS,
    SECP256K1,
    AddressError,
    account_key,
    from_bech32,
    key_algo,
    key_pubkey,
    to_bech32,
)
from modules.auth import state
from modules.auth.errors import ErrInvalidParams
from modules.auth.params import Params

# Module accounts and what each may do; created at genesis.
MODULE_ACCOUNTS: dict[str, tuple[str, ...]] = {
    "fee_collector": (),
    "treasury": (),
    "escrow": (),
    "burn": (state.BURNER,),
    "mint": (state.MINTER,),
    "staking": (),  # the bonded pool: every bonded and unbonding coin
    "drip_pool": (),  # the drip module's pool: canary budgets and new keys' drips
    "training": (),  # the training module: every running training's unspent escrow
}


def default() -> dict[str, Any]:
    return {"params": Params().to_json(), "accounts": [], "next_account_number": "0"}


def validate(g: dict[str, Any]) -> None:
    Params.from_json(g.get("params", {}))
    seen: set[int] = set()
    addrs: set[str] = set()
    for a in g.get("accounts", []):
        try:
            from_bech32(a["address"])
        except (AddressError, KeyError) as e:
            raise ErrInvalidParams(f"genesis account: {e}") from e
        if a.get("pub_key"):
            try:
                _pubkey_of(a)
            except ValueError as e:
                raise ErrInvalidParams(f"genesis account {a['address']}: pub_key: {e}") from e
        n = int(a["account_number"])
        if n in seen or a["address"] in addrs:
            raise ErrInvalidParams(f"duplicate genesis account {a['address']} / number {n}")
        seen.add(n)
        addrs.add(a["address"])


def _pubkey_of(a: dict[str, Any]) -> bytes:
    """A genesis account's typed key: ``pub_key`` (compressed key, hex) of type
    ``pub_key_type`` (absent: secp256k1, as in files from before eth_secp256k1)."""
    algo = a.get("pub_key_type", SECP256K1)
    if algo not in KEY_ALGOS:
        raise ValueError(f"pub_key_type {algo!r}; use one of {', '.join(KEY_ALGOS)}")
    return account_key(bytes.fromhex(a["pub_key"]), algo)


def init(ctx: Ctx, g: dict[str, Any]) -> None:
    state.set_params(ctx, Params.from_json(g.get("params", {})))
    top = int(g.get("next_account_number", "0"))
    for a in g.get("accounts", []):
        addr = from_bech32(a["address"])
        pk = _pubkey_of(a) if a.get("pub_key") else None
        n = int(a["account_number"])
        acc = state.Account(
            addr, n, int(a.get("sequence", "0")), pk, a.get("name"), tuple(a.get("permissions", ()))
        )
        state.set_account(ctx, acc)
        top = max(top, n + 1)
    state.set_next_account_number(ctx, top)
    for name, perms in MODULE_ACCOUNTS.items():
        state.ensure_module_account(ctx, name, perms)


def export(ctx: Ctx) -> dict[str, Any]:
    accounts = []
    for acc in sorted(state.iterate_accounts(ctx), key=lambda a: a.number):
        d: dict[str, Any] = {
            "address": to_bech32(acc.address),
            "account_number": str(acc.number),
            "sequence": str(acc.sequence),
        }
        if acc.pubkey:
            d["pub_key"] = key_pubkey(acc.pubkey).hex()
            if key_algo(acc.pubkey) != SECP256K1:
                d["pub_key_type"] = key_algo(acc.pubkey)
        if acc.module:
            d["name"] = acc.module
            d["permissions"] = list(acc.permissions)
        accounts.append(d)
    return {
        "params": state.get_params(ctx).to_json(),
        "accounts": accounts,
        "next_account_number": str(state.next_account_number(ctx)),
    }
