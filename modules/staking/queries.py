"""Queries of the staking module (JSON in, JSON out)."""

from __future__ import annotations

from typing import Any

from chain.context import Ctx
from chain.crypto import to_bech32
from modules.staking import state, validators
from modules.staking.keys import ROLES
from modules.staking.msgs import check_address, check_role


def _entry_json(e: state.UnbondingEntry) -> dict[str, Any]:
    return {
        "id": str(e.id),
        "address": to_bech32(e.address),
        "role": e.role,
        "amount": str(e.amount),
        "completion_height": str(e.completion_height),
    }


def _bond_json(ctx: Ctx, addr: bytes, role: str) -> dict[str, Any]:
    pk = state.oracle_pubkey(ctx, addr) if role == "oracle" else None
    return {
        "address": to_bech32(addr),
        "role": role,
        "bonded": str(state.bonded(ctx, addr, role)),
        "min_bond": str(state.get_params(ctx).min_bond(role)),
        "jailed_until": str(state.jailed_until(ctx, addr, role)),
        "tombstoned": state.is_tombstoned(ctx, addr, role),
        "active": state.is_active(ctx, addr, role),
        "unbonding": [_entry_json(e) for e in state.unbonding_entries(ctx, addr, role)],
        "ed25519_pubkey": None if pk is None else pk.hex(),
        **({"consensus_pubkey": _cons_key(ctx, addr)} if role == validators.ROLE else {}),
    }


def _cons_key(ctx: Ctx, addr: bytes) -> str | None:
    pk = state.consensus_key(ctx, addr)
    return None if pk is None else validators.encode_pubkey(pk)


def validator_set(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    """The CometBFT validator set in state, sorted by consensus key."""
    out = []
    for pk, power in validators.current_set(ctx):
        addr = validators.consensus_address(pk)
        owner = state.validator_of(ctx, addr)
        out.append(
            {
                "address": None if owner is None else to_bech32(owner),
                "consensus_pubkey": validators.encode_pubkey(pk),
                "consensus_address": addr.hex().upper(),
                "power": str(power),
            }
        )
    return {"validators": out}


def bond(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    """One address in one role: bond, jail, tombstone, unbonding entries."""
    return _bond_json(
        ctx, check_address(str(req.get("address", ""))), check_role(str(req.get("role", "")))
    )


def bonds(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    """One address in every role."""
    addr = check_address(str(req.get("address", "")))
    return {"bonds": [_bond_json(ctx, addr, r) for r in ROLES]}


def active_set(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    role = check_role(str(req.get("role", "")))
    return {
        "role": role,
        "total_bonded": str(state.total_bonded(ctx, role)),
        "addresses": [to_bech32(a) for a in state.active_set(ctx, role)],
    }


def pool(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    """Coins held by the bonded pool: active bonds per role and unbonding."""
    unbonding = sum(e.amount for e in state.iterate_unbonding(ctx))
    return {
        "bonded": {r: str(state.total_bonded(ctx, r)) for r in ROLES},
        "unbonding": str(unbonding),
    }


def params(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    return state.get_params(ctx).to_json()


QUERIES = {
    "params": params,
    "bond": bond,
    "bonds": bonds,
    "active_set": active_set,
    "pool": pool,
    "validator_set": validator_set,
}
