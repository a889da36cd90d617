"""Genesis of the staking module: default, validate, init, export (symmetric).

A ``validator`` bond carries ``consensus_pubkey``: base64 of the 32 raw bytes
of its ed25519 consensus key (``pub_key.value`` in CometBFT's
priv_validator_key.json); other roles carry none. ``consensus_keys`` holds
the keys of validators that have no bond left (their unbonding coins stay
slashable for a fault they signed). Init records the validator set that
InitChain answers with (``validators.py``).

Genesis records bonds but moves no coins: the bank genesis must credit the
``staking`` module account with the sum of bonds and unbonding entries (the
``pool`` invariant checks it).
"""

from __future__ import annotations

from typing import Any

from chain.context import Ctx
from chain.crypto import AddressError, from_bech32, to_bech32
from modules.staking import state, validators
from modules.staking.errors import ErrInvalidGenesis
from modules.staking.keys import ROLES
from modules.staking.params import Params


def default() -> dict[str, Any]:
    return {
        "params": Params().to_json(),
        "bonds": [],
        "unbonding": [],
        "jails": [],
        "tombstones": [],
        "oracle_keys": [],
        "consensus_keys": [],
        "next_unbonding_id": "0",
    }


def _addr(d: dict[str, Any], what: str) -> bytes:
    try:
        return from_bech32(str(d["address"]))
    except (AddressError, KeyError) as e:
        raise ErrInvalidGenesis(f"{what}: {e}") from e


def _role(d: dict[str, Any], what: str) -> str:
    role = str(d.get("role", ""))
    if role not in ROLES:
        raise ErrInvalidGenesis(f"{what}: unknown role {role!r}")
    return role


def _pos(d: dict[str, Any], field: str, what: str) -> int:
    try:
        n = int(str(d[field]))
    except (KeyError, ValueError) as e:
        raise ErrInvalidGenesis(f"{what}: {field} must be an integer") from e
    if n <= 0:
        raise ErrInvalidGenesis(f"{what}: {field} must be positive")
    return n


def _validate_consensus_keys(g: dict[str, Any]) -> None:
    """Each validator bond has a key, no other bond has one; a key in
    ``consensus_keys`` belongs to an address without a validator bond; no key
    and no address has two."""
    owners: dict[bytes, str] = {}
    keyed: set[bytes] = set()

    def claim(pubkey: bytes, addr: bytes, who: str) -> None:
        if pubkey in owners:
            raise ErrInvalidGenesis(
                f"consensus_pubkey of {who} is already the key of {owners[pubkey]}"
            )
        if addr in keyed:
            raise ErrInvalidGenesis(f"{who} has two consensus keys")
        owners[pubkey] = who
        keyed.add(addr)

    for b in g.get("bonds", []):
        who = str(b["address"])
        if b["role"] != validators.ROLE:
            if "consensus_pubkey" in b:
                raise ErrInvalidGenesis(
                    f"bond of {who} as {b['role']}: only a validator has a consensus_pubkey"
                )
            continue
        pubkey = validators.decode_pubkey(b.get("consensus_pubkey"), f"validator bond of {who}")
        claim(pubkey, _addr(b, "bond"), who)
    for k in g.get("consensus_keys", []):
        who = str(k.get("address", ""))
        addr = _addr(k, "consensus key")
        pubkey = validators.decode_pubkey(k.get("consensus_pubkey"), f"consensus key of {who}")
        claim(pubkey, addr, who)


def validate(g: dict[str, Any]) -> None:
    Params.from_json(g.get("params", {}))
    seen: set[tuple[str, bytes]] = set()
    for b in g.get("bonds", []):
        key = (_role(b, "bond"), _addr(b, "bond"))
        _pos(b, "amount", "bond")
        if key in seen:
            raise ErrInvalidGenesis(f"duplicate bond for {b['address']} as {key[0]}")
        seen.add(key)
    _validate_consensus_keys(g)
    try:
        next_id = int(str(g.get("next_unbonding_id", "0")))
    except ValueError as e:
        raise ErrInvalidGenesis("next_unbonding_id must be an integer") from e
    ids: set[int] = set()
    for u in g.get("unbonding", []):
        _role(u, "unbonding")
        _addr(u, "unbonding")
        _pos(u, "amount", "unbonding")
        _pos(u, "completion_height", "unbonding")
        try:
            entry_id = int(str(u.get("id", "-1")))
        except ValueError as err:
            raise ErrInvalidGenesis("unbonding id must be an integer") from err
        if entry_id < 0 or entry_id >= next_id or entry_id in ids:
            raise ErrInvalidGenesis(f"unbonding id {entry_id} is reused or ≥ next_unbonding_id")
        ids.add(entry_id)
    for j in g.get("jails", []):
        _role(j, "jail")
        _addr(j, "jail")
        _pos(j, "until_height", "jail")
    for t in g.get("tombstones", []):
        _role(t, "tombstone")
        _addr(t, "tombstone")
    for k in g.get("oracle_keys", []):
        _addr(k, "oracle key")
        try:
            pk = bytes.fromhex(str(k.get("pubkey", "")))
        except ValueError as e:
            raise ErrInvalidGenesis(f"oracle key of {k['address']} is not hex") from e
        if len(pk) != 32:
            raise ErrInvalidGenesis(f"oracle key of {k['address']} must be 32 bytes")


def init(ctx: Ctx, g: dict[str, Any]) -> None:
    state.set_params(ctx, Params.from_json(g.get("params", {})))
    for b in g.get("bonds", []):
        state.set_bond(ctx, from_bech32(b["address"]), b["role"], int(b["amount"]))
        if b["role"] == validators.ROLE:
            pubkey = validators.decode_pubkey(b["consensus_pubkey"], "bond")
            state.set_consensus_key(ctx, from_bech32(b["address"]), pubkey)
    for k in g.get("consensus_keys", []):
        pubkey = validators.decode_pubkey(k["consensus_pubkey"], "consensus key")
        state.set_consensus_key(ctx, from_bech32(k["address"]), pubkey)
    for e in g.get("unbonding", []):
        state.put_unbonding(
            ctx,
            state.UnbondingEntry(
                int(e["id"]),
                from_bech32(e["address"]),
                e["role"],
                int(e["amount"]),
                int(e["completion_height"]),
            ),
        )
    state.set_next_unbonding_id(ctx, int(str(g.get("next_unbonding_id", "0"))))
    for j in g.get("jails", []):
        state.set_jail(ctx, from_bech32(j["address"]), j["role"], int(j["until_height"]))
    for t in g.get("tombstones", []):
        state.set_tombstone(ctx, from_bech32(t["address"]), t["role"])
    for k in g.get("oracle_keys", []):
        state.set_oracle_pubkey(ctx, from_bech32(k["address"]), bytes.fromhex(k["pubkey"]))
    validators.updates(ctx)  # the set InitChain answers with, as CometBFT's last known


def _bond_json(ctx: Ctx, role: str, addr: bytes, amount: int) -> dict[str, Any]:
    out = {"address": to_bech32(addr), "role": role, "amount": str(amount)}
    pubkey = state.consensus_key(ctx, addr) if role == validators.ROLE else None
    if pubkey is not None:
        out["consensus_pubkey"] = validators.encode_pubkey(pubkey)
    return out


def export(ctx: Ctx) -> dict[str, Any]:
    return {
        "params": state.get_params(ctx).to_json(),
        "bonds": [_bond_json(ctx, r, a, n) for r, a, n in state.iterate_bonds(ctx)],
        "unbonding": [
            {
                "id": str(e.id),
                "address": to_bech32(e.address),
                "role": e.role,
                "amount": str(e.amount),
                "completion_height": str(e.completion_height),
            }
            for e in state.iterate_unbonding(ctx)
        ],
        "jails": [
            {"address": to_bech32(a), "role": r, "until_height": str(u)}
            for r, a, u in state.iterate_jails(ctx)
        ],
        "tombstones": [
            {"address": to_bech32(a), "role": r} for r, a in state.iterate_tombstones(ctx)
        ],
        "oracle_keys": [
            {"address": to_bech32(a), "pubkey": pk.hex()}
            for a, pk in state.iterate_oracle_keys(ctx)
        ],
        "consensus_keys": [
            {"address": to_bech32(a), "consensus_pubkey": validators.encode_pubkey(pk)}
            for a, pk in state.iterate_consensus_keys(ctx)
            if not state.bonded(ctx, a, validators.ROLE)
        ],
        "next_unbonding_id": str(state.next_unbonding_id(ctx)),
    }
