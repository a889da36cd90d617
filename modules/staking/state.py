"""The only code that touches the staking store: bonds, unbonding, jail, tombstone."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from chain.context import Ctx
from chain.kv import prefix_end
from chain.params import ParamsStore
from chain.valset import consensus_address
from modules.staking import keys
from modules.staking.keys import NAME
from modules.staking.params import Params


def _int(raw: bytes | None) -> int:
    return 0 if raw is None else int.from_bytes(raw, "big")


def _enc(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8 or 1, "big")


@dataclass(frozen=True)
class UnbondingEntry:
    id: int
    address: bytes
    role: str
    amount: int
    completion_height: int

    def encode(self) -> bytes:
        return self.completion_height.to_bytes(8, "big") + _enc(self.amount)

    @classmethod
    def decode(cls, key: bytes, raw: bytes) -> UnbondingEntry:
        role, addr = keys.split_role_addr(key)
        return cls(
            int.from_bytes(key[22:30], "big"),
            addr,
            role,
            _int(raw[8:]),
            int.from_bytes(raw[:8], "big"),
        )


# -- params ---------------------------------------------------------------------
PARAMS = ParamsStore(NAME, keys.PARAMS, Params)
get_params = PARAMS.get
set_params = PARAMS.set


# -- bonds ----------------------------------------------------------------------
def bonded(ctx: Ctx, addr: bytes, role: str) -> int:
    return _int(ctx.kv(NAME).get(keys.bond(role, addr)))


def total_bonded(ctx: Ctx, role: str) -> int:
    return _int(ctx.kv(NAME).get(keys.total(role)))


def set_bond(ctx: Ctx, addr: bytes, role: str, amount: int) -> None:
    """Set a bond and keep the role's total in step."""
    kv = ctx.kv(NAME)
    old = bonded(ctx, addr, role)
    if amount == 0:
        kv.delete(keys.bond(role, addr))
    else:
        kv.set(keys.bond(role, addr), _enc(amount))
    new_total = total_bonded(ctx, role) - old + amount
    # zero is stored as absent, so an exported and re-imported state hashes the same
    if new_total:
        kv.set(keys.total(role), _enc(new_total))
    else:
        kv.delete(keys.total(role))


def iterate_bonds(ctx: Ctx, role: str | None = None) -> Iterator[tuple[str, bytes, int]]:
    p = keys.BOND_PREFIX if role is None else keys.bonds_of_role(role)
    for k, v in ctx.kv(NAME).iterate(p, prefix_end(p)):
        r, addr = keys.split_role_addr(k)
        yield r, addr, _int(v)


# -- unbonding --------------------------------------------------------------------
def unbonding_entries(ctx: Ctx, addr: bytes, role: str) -> list[UnbondingEntry]:
    p = keys.unbondings_of(role, addr)
    return [UnbondingEntry.decode(k, v) for k, v in ctx.kv(NAME).iterate(p, prefix_end(p))]


def iterate_unbonding(ctx: Ctx) -> Iterator[UnbondingEntry]:
    p = keys.UNBONDING_PREFIX
    for k, v in ctx.kv(NAME).iterate(p, prefix_end(p)):
        yield UnbondingEntry.decode(k, v)


def next_unbonding_id(ctx: Ctx) -> int:
    return _int(ctx.kv(NAME).get(keys.NEXT_UNBONDING_ID))


def set_next_unbonding_id(ctx: Ctx, n: int) -> None:
    ctx.kv(NAME).set(keys.NEXT_UNBONDING_ID, n.to_bytes(8, "big"))


def put_unbonding(ctx: Ctx, e: UnbondingEntry) -> None:
    kv = ctx.kv(NAME)
    kv.set(keys.unbonding(e.role, e.address, e.id), e.encode())
    kv.set(keys.queue(e.completion_height, e.id), keys.role_byte(e.role) + e.address)


def delete_unbonding(ctx: Ctx, e: UnbondingEntry) -> None:
    kv = ctx.kv(NAME)
    kv.delete(keys.unbonding(e.role, e.address, e.id))
    kv.delete(keys.queue(e.completion_height, e.id))


def matured(ctx: Ctx, height: int) -> list[UnbondingEntry]:
    """Entries whose completion height is at or before ``height``, in queue order."""
    kv = ctx.kv(NAME)
    out = []
    for k, v in list(kv.iterate(keys.QUEUE_PREFIX, keys.queue_until(height))):
        entry_id = int.from_bytes(k[9:17], "big")
        role, addr = keys.role_of(v[0]), v[1:]
        raw = kv.get(keys.unbonding(role, addr, entry_id))
        if raw is not None:
            out.append(UnbondingEntry.decode(keys.unbonding(role, addr, entry_id), raw))
    return out


# -- jail, tombstone, oracle keys ------------------------------------------------------
def jailed_until(ctx: Ctx, addr: bytes, role: str) -> int:
    return _int(ctx.kv(NAME).get(keys.jail(role, addr)))


def set_jail(ctx: Ctx, addr: bytes, role: str, until: int) -> None:
    kv = ctx.kv(NAME)
    if until == 0:
        kv.delete(keys.jail(role, addr))
    else:
        kv.set(keys.jail(role, addr), until.to_bytes(8, "big"))


def iterate_jails(ctx: Ctx) -> Iterator[tuple[str, bytes, int]]:
    p = keys.JAIL_PREFIX
    for k, v in ctx.kv(NAME).iterate(p, prefix_end(p)):
        role, addr = keys.split_role_addr(k)
        yield role, addr, _int(v)


def is_tombstoned(ctx: Ctx, addr: bytes, role: str) -> bool:
    return ctx.kv(NAME).get(keys.tombstone(role, addr)) is not None


def set_tombstone(ctx: Ctx, addr: bytes, role: str) -> None:
    ctx.kv(NAME).set(keys.tombstone(role, addr), b"\x01")


def iterate_tombstones(ctx: Ctx) -> Iterator[tuple[str, bytes]]:
    p = keys.TOMBSTONE_PREFIX
    for k, _ in ctx.kv(NAME).iterate(p, prefix_end(p)):
        yield keys.split_role_addr(k)


def oracle_pubkey(ctx: Ctx, addr: bytes) -> bytes | None:
    return ctx.kv(NAME).get(keys.oracle_key(addr))


def set_oracle_pubkey(ctx: Ctx, addr: bytes, pubkey: bytes) -> None:
    ctx.kv(NAME).set(keys.oracle_key(addr), pubkey)


def iterate_oracle_keys(ctx: Ctx) -> Iterator[tuple[bytes, bytes]]:
    p = keys.ORACLE_KEY_PREFIX
    for k, v in ctx.kv(NAME).iterate(p, prefix_end(p)):
        yield k[1:], v


# -- validators' consensus keys and the set CometBFT knows ----------------------------
def consensus_key(ctx: Ctx, addr: bytes) -> bytes | None:
    return ctx.kv(NAME).get(keys.cons_key(addr))


def validator_of(ctx: Ctx, cons_address: bytes) -> bytes | None:
    """The address whose validator bond carries the key of ``cons_address``."""
    return ctx.kv(NAME).get(keys.cons_addr(cons_address))


def set_consensus_key(ctx: Ctx, addr: bytes, pubkey: bytes) -> None:
    kv = ctx.kv(NAME)
    kv.set(keys.cons_key(addr), pubkey)
    kv.set(keys.cons_addr(consensus_address(pubkey)), addr)


def iterate_consensus_keys(ctx: Ctx) -> Iterator[tuple[bytes, bytes]]:
    p = keys.CONS_KEY_PREFIX
    for k, v in ctx.kv(NAME).iterate(p, prefix_end(p)):
        yield k[1:], v


def last_powers(ctx: Ctx) -> dict[bytes, int]:
    p = keys.LAST_POWER_PREFIX
    return {k[1:]: _int(v) for k, v in ctx.kv(NAME).iterate(p, prefix_end(p))}


def set_last_power(ctx: Ctx, pubkey: bytes, power: int) -> None:
    if power == 0:
        ctx.kv(NAME).delete(keys.last_power(pubkey))
    else:
        ctx.kv(NAME).set(keys.last_power(pubkey), _enc(power))


def is_active(ctx: Ctx, addr: bytes, role: str) -> bool:
    return (
        bonded(ctx, addr, role) >= get_params(ctx).min_bond(role)
        and ctx.block.height >= jailed_until(ctx, addr, role)
        and not is_tombstoned(ctx, addr, role)
    )


def active_set(ctx: Ctx, role: str) -> list[bytes]:
    minimum = get_params(ctx).min_bond(role)
    h = ctx.block.height
    return [
        addr
        for _, addr, amount in iterate_bonds(ctx, role)
        if amount >= minimum
        and h >= jailed_until(ctx, addr, role)
        and not is_tombstoned(ctx, addr, role)
    ]
