"""The only code that touches the staking store: bonds, unbonding, jail, tombstone.

``StakingKeeper`` is what other modules get (through their ``expected.py``).
Amounts are avcn integers; roles are ``"worker"``, ``"oracle"``, ``"validator"``.

Reads
    ``bonded(ctx, addr, role) -> int``       the active bond (unbonding not counted)
    ``is_active(ctx, addr, role) -> bool``   bond ≥ the role minimum, not jailed at
                                             ``ctx.block.height``, not tombstoned
    ``jailed_until(ctx, addr, role) -> int`` first height the jail no longer
                                             applies; 0 if never jailed
    ``is_tombstoned(ctx, addr, role)``       permanent ban in that role
    ``total_bonded(ctx, role) -> int``       sum of active bonds of the role
    ``active_set(ctx, role) -> list[bytes]`` active addresses, sorted
    ``oracle_pubkey(ctx, addr)``             the 32-byte ed25519 key the oracle
                                             registered with its bond, or None
Writes
    ``jail(ctx, addr, role, until_height)``  jailed while height < until_height;
                                             never shortens an existing jail
    ``tombstone(ctx, addr, role)``           the address can never bond in the role
                                             again (its coins can still unbond)
    ``slash(ctx, addr, role, bps, rewards)`` cuts ``bps``/10000 of the bond and of
        every unbonding entry (slashable until released); the cut goes to the
        treasury, less ``slash_reward_share_bps`` of it split among ``rewards``
        (address, weight) pairs by weight; rounding dust goes to the treasury.
        Returns the amount cut and emits ``Slashed``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from chain.coins import DENOM
from chain.context import Ctx
from chain.crypto import to_bech32
from chain.kv import prefix_end
from chain.params import ParamsStore
from modules.staking import events, keys
from modules.staking.errors import (
    ErrBelowMinimum,
    ErrInsufficientBond,
    ErrInvalidPubKey,
    ErrJailNotExpired,
    ErrNotJailed,
    ErrTombstoned,
    ErrTooManyUnbonding,
)
from modules.staking.expected import BankKeeper
from modules.staking.keys import NAME, POOL
from modules.staking.params import Params

TREASURY = "treasury"
BPS = 10_000


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


def _coins(n: int) -> tuple[tuple[str, int], ...]:
    return ((DENOM, n),)


class StakingKeeper:
    """Bonds per (address, role), the unbonding queue, jail, tombstone, slash."""

    def __init__(self, bank: BankKeeper) -> None:
        self.bank = bank

    # -- reads (see the module docstring for the contract) ---------------------------
    def params(self, ctx: Ctx) -> Params:
        return get_params(ctx)

    def jail_blocks(self, ctx: Ctx) -> int:
        """How long a caught worker stays jailed (the ``jail_blocks`` param)."""
        return get_params(ctx).jail_blocks

    def bonded(self, ctx: Ctx, addr: bytes, role: str) -> int:
        return bonded(ctx, addr, role)

    def jailed_until(self, ctx: Ctx, addr: bytes, role: str) -> int:
        return jailed_until(ctx, addr, role)

    def is_tombstoned(self, ctx: Ctx, addr: bytes, role: str) -> bool:
        return is_tombstoned(ctx, addr, role)

    def is_active(self, ctx: Ctx, addr: bytes, role: str) -> bool:
        return is_active(ctx, addr, role)

    def total_bonded(self, ctx: Ctx, role: str) -> int:
        return total_bonded(ctx, role)

    def active_set(self, ctx: Ctx, role: str) -> list[bytes]:
        return active_set(ctx, role)

    def oracle_pubkey(self, ctx: Ctx, addr: bytes) -> bytes | None:
        return oracle_pubkey(ctx, addr)

    # -- message flows ------------------------------------------------------------
    def bond(self, ctx: Ctx, addr: bytes, role: str, amount: int, pubkey: bytes = b"") -> int:
        """Add ``amount`` to the bond from the address's balance; returns the new bond."""
        who = to_bech32(addr)
        if is_tombstoned(ctx, addr, role):
            raise ErrTombstoned(f"{who} is permanently banned as {role} and cannot bond again")
        have = bonded(ctx, addr, role)
        minimum = get_params(ctx).min_bond(role)
        if have + amount < minimum:
            raise ErrBelowMinimum(
                f"the {role} minimum bond is {minimum}{DENOM}; {who} would have "
                f"{have + amount}{DENOM}; bond at least {minimum - have}{DENOM}"
            )
        if role == "oracle" and not pubkey and oracle_pubkey(ctx, addr) is None:
            raise ErrInvalidPubKey("an oracle's first bond must register its ed25519_pubkey")
        self.bank.send_to_module(ctx, addr, POOL, _coins(amount))
        set_bond(ctx, addr, role, have + amount)
        if pubkey:
            set_oracle_pubkey(ctx, addr, pubkey)
        ctx.emit(events.bonded(addr, role, amount, have + amount))
        return have + amount

    def unbond(self, ctx: Ctx, addr: bytes, role: str, amount: int) -> UnbondingEntry:
        """Move ``amount`` of the bond to the unbonding queue."""
        have = bonded(ctx, addr, role)
        if amount > have:
            raise ErrInsufficientBond(
                f"{to_bech32(addr)} has {have}{DENOM} bonded as {role}; "
                f"cannot unbond {amount}{DENOM}"
            )
        p = get_params(ctx)
        if len(unbonding_entries(ctx, addr, role)) >= p.max_unbonding_entries:
            raise ErrTooManyUnbonding(
                f"{p.max_unbonding_entries} unbonding entries already pending for this {role}; "
                "wait for one to complete"
            )
        entry = UnbondingEntry(
            next_unbonding_id(ctx), addr, role, amount, ctx.block.height + p.unbonding_blocks
        )
        set_next_unbonding_id(ctx, entry.id + 1)
        set_bond(ctx, addr, role, have - amount)
        put_unbonding(ctx, entry)
        ctx.emit(events.unbonding_started(addr, role, amount, entry.completion_height, entry.id))
        return entry

    def unjail(self, ctx: Ctx, addr: bytes, role: str) -> None:
        who = to_bech32(addr)
        if is_tombstoned(ctx, addr, role):
            raise ErrTombstoned(f"{who} is permanently banned as {role}; it cannot be unjailed")
        until = jailed_until(ctx, addr, role)
        if until == 0:
            raise ErrNotJailed(f"{who} is not jailed as {role}")
        h = ctx.block.height
        if h < until:
            raise ErrJailNotExpired(
                f"{who} is jailed as {role} until height {until}; "
                f"the chain is at {h}: try again in {until - h} blocks"
            )
        set_jail(ctx, addr, role, 0)
        ctx.emit(events.unjailed(addr, role))

    def release_matured(self, ctx: Ctx) -> None:
        """End block: pay out unbonding entries whose period is over."""
        for e in matured(ctx, ctx.block.height):
            delete_unbonding(ctx, e)
            if e.amount:
                self.bank.send_from_module(ctx, POOL, e.address, _coins(e.amount))
            ctx.emit(events.unbonding_completed(e.address, e.role, e.amount, e.id))

    # -- punishments (called by slashing) -------------------------------------------
    def jail(self, ctx: Ctx, addr: bytes, role: str, until_height: int) -> None:
        until = max(until_height, jailed_until(ctx, addr, role))
        set_jail(ctx, addr, role, until)
        ctx.emit(events.jailed(addr, role, until))

    def tombstone(self, ctx: Ctx, addr: bytes, role: str) -> None:
        if is_tombstoned(ctx, addr, role):
            return
        set_tombstone(ctx, addr, role)
        ctx.emit(events.tombstoned(addr, role))

    def slash(
        self,
        ctx: Ctx,
        addr: bytes,
        role: str,
        bps: int,
        rewards: list[tuple[bytes, int]] | None = None,
    ) -> int:
        if not 0 <= bps <= BPS:
            raise ValueError(f"slash fraction {bps} bps is outside 0..10000")
        have = bonded(ctx, addr, role)
        cut = have * bps // BPS
        set_bond(ctx, addr, role, have - cut)
        for e in unbonding_entries(ctx, addr, role):
            c = e.amount * bps // BPS
            if c == 0:
                continue
            cut += c
            left = UnbondingEntry(e.id, e.address, e.role, e.amount - c, e.completion_height)
            if left.amount:
                put_unbonding(ctx, left)
            else:
                delete_unbonding(ctx, e)
        if cut == 0:
            return 0
        paid = self._pay_rewards(ctx, cut, rewards or [])
        to_treasury = cut - sum(n for _, n in paid)
        if to_treasury:
            self.bank.send_module_to_module(ctx, POOL, TREASURY, _coins(to_treasury))
        ctx.emit(events.slashed(addr, role, bps, cut, to_treasury, paid))
        return cut

    def _pay_rewards(
        self, ctx: Ctx, cut: int, rewards: list[tuple[bytes, int]]
    ) -> list[tuple[bytes, int]]:
        weights: dict[bytes, int] = {}
        for a, w in rewards:
            if w < 0:
                raise ValueError("reward weights are non-negative")
            weights[a] = weights.get(a, 0) + w
        total_w = sum(weights.values())
        if total_w == 0:
            return []
        share = cut * get_params(ctx).slash_reward_share_bps // BPS
        paid = []
        for a in sorted(weights):
            n = share * weights[a] // total_w
            if n:
                self.bank.send_from_module(ctx, POOL, a, _coins(n))
                paid.append((a, n))
        return paid
