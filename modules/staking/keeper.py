"""StakingKeeper: bonds per (address, role), the unbonding queue, jail, tombstone, slash.

It is what other modules get (through their ``expected.py``).
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
    ``consensus_key(ctx, addr)``             a validator's CometBFT ed25519 key, or None
    ``validator_of(ctx, cons_address)``      the address whose validator key has
                                             that CometBFT address, or None
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

from chain.coins import DENOM
from chain.context import Ctx
from chain.crypto import to_bech32
from chain.valset import consensus_address
from modules.staking import events, state
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
from modules.staking.keys import POOL
from modules.staking.params import Params

TREASURY = "treasury"
BPS = 10_000


def _coins(n: int) -> tuple[tuple[str, int], ...]:
    return ((DENOM, n),)


class StakingKeeper:
    """Bonds per (address, role), the unbonding queue, jail, tombstone, slash."""

    def __init__(self, bank: BankKeeper) -> None:
        self.bank = bank

    # -- reads (see the module docstring for the contract) ---------------------------
    def params(self, ctx: Ctx) -> Params:
        return state.get_params(ctx)

    def jail_blocks(self, ctx: Ctx) -> int:
        """How long a caught worker stays jailed (the ``jail_blocks`` param)."""
        return state.get_params(ctx).jail_blocks

    def bonded(self, ctx: Ctx, addr: bytes, role: str) -> int:
        return state.bonded(ctx, addr, role)

    def jailed_until(self, ctx: Ctx, addr: bytes, role: str) -> int:
        return state.jailed_until(ctx, addr, role)

    def is_tombstoned(self, ctx: Ctx, addr: bytes, role: str) -> bool:
        return state.is_tombstoned(ctx, addr, role)

    def is_active(self, ctx: Ctx, addr: bytes, role: str) -> bool:
        return state.is_active(ctx, addr, role)

    def total_bonded(self, ctx: Ctx, role: str) -> int:
        return state.total_bonded(ctx, role)

    def active_set(self, ctx: Ctx, role: str) -> list[bytes]:
        return state.active_set(ctx, role)

    def oracle_pubkey(self, ctx: Ctx, addr: bytes) -> bytes | None:
        return state.oracle_pubkey(ctx, addr)

    def consensus_key(self, ctx: Ctx, addr: bytes) -> bytes | None:
        return state.consensus_key(ctx, addr)

    def validator_of(self, ctx: Ctx, cons_address: bytes) -> bytes | None:
        return state.validator_of(ctx, cons_address)

    # -- message flows ------------------------------------------------------------
    def bond(
        self,
        ctx: Ctx,
        addr: bytes,
        role: str,
        amount: int,
        pubkey: bytes = b"",
        consensus_pubkey: bytes = b"",
    ) -> int:
        """Add ``amount`` to the bond from the address's balance; returns the new bond.
        A validator's first bond registers its ``consensus_pubkey``, which
        cannot change and no other validator may hold."""
        who = to_bech32(addr)
        if state.is_tombstoned(ctx, addr, role):
            raise ErrTombstoned(f"{who} is permanently banned as {role} and cannot bond again")
        have = state.bonded(ctx, addr, role)
        minimum = state.get_params(ctx).min_bond(role)
        if have + amount < minimum:
            raise ErrBelowMinimum(
                f"the {role} minimum bond is {minimum}{DENOM}; {who} would have "
                f"{have + amount}{DENOM}; bond at least {minimum - have}{DENOM}"
            )
        if role == "oracle" and not pubkey and state.oracle_pubkey(ctx, addr) is None:
            raise ErrInvalidPubKey("an oracle's first bond must register its ed25519_pubkey")
        if role == "validator":
            self._check_consensus_key(ctx, addr, consensus_pubkey)
        self.bank.send_to_module(ctx, addr, POOL, _coins(amount))
        state.set_bond(ctx, addr, role, have + amount)
        if pubkey:
            state.set_oracle_pubkey(ctx, addr, pubkey)
        if consensus_pubkey:
            state.set_consensus_key(ctx, addr, consensus_pubkey)
        ctx.emit(events.bonded(addr, role, amount, have + amount))
        return have + amount

    def _check_consensus_key(self, ctx: Ctx, addr: bytes, pubkey: bytes) -> None:
        have = state.consensus_key(ctx, addr)
        if have is None and not pubkey:
            raise ErrInvalidPubKey("a validator's first bond must register its consensus_pubkey")
        if have is not None and pubkey and pubkey != have:
            raise ErrInvalidPubKey(
                f"{to_bech32(addr)} already validates with consensus key {have.hex()}; "
                "it cannot change"
            )
        if have is None:
            owner = state.validator_of(ctx, consensus_address(pubkey))
            if owner is not None:
                raise ErrInvalidPubKey(
                    f"consensus key {pubkey.hex()} is already the key of {to_bech32(owner)}"
                )

    def unbond(self, ctx: Ctx, addr: bytes, role: str, amount: int) -> state.UnbondingEntry:
        """Move ``amount`` of the bond to the unbonding queue."""
        have = state.bonded(ctx, addr, role)
        if amount > have:
            raise ErrInsufficientBond(
                f"{to_bech32(addr)} has {have}{DENOM} bonded as {role}; "
                f"cannot unbond {amount}{DENOM}"
            )
        p = state.get_params(ctx)
        if len(state.unbonding_entries(ctx, addr, role)) >= p.max_unbonding_entries:
            raise ErrTooManyUnbonding(
                f"{p.max_unbonding_entries} unbonding entries already pending for this {role}; "
                "wait for one to complete"
            )
        entry = state.UnbondingEntry(
            state.next_unbonding_id(ctx), addr, role, amount, ctx.block.height + p.unbonding_blocks
        )
        state.set_next_unbonding_id(ctx, entry.id + 1)
        state.set_bond(ctx, addr, role, have - amount)
        state.put_unbonding(ctx, entry)
        ctx.emit(events.unbonding_started(addr, role, amount, entry.completion_height, entry.id))
        return entry

    def unjail(self, ctx: Ctx, addr: bytes, role: str) -> None:
        who = to_bech32(addr)
        if state.is_tombstoned(ctx, addr, role):
            raise ErrTombstoned(f"{who} is permanently banned as {role}; it cannot be unjailed")
        until = state.jailed_until(ctx, addr, role)
        if until == 0:
            raise ErrNotJailed(f"{who} is not jailed as {role}")
        h = ctx.block.height
        if h < until:
            raise ErrJailNotExpired(
                f"{who} is jailed as {role} until height {until}; "
                f"the chain is at {h}: try again in {until - h} blocks"
            )
        state.set_jail(ctx, addr, role, 0)
        ctx.emit(events.unjailed(addr, role))

    def release_matured(self, ctx: Ctx) -> None:
        """End block: pay out unbonding entries whose period is over."""
        for e in state.matured(ctx, ctx.block.height):
            state.delete_unbonding(ctx, e)
            if e.amount:
                self.bank.send_from_module(ctx, POOL, e.address, _coins(e.amount))
            ctx.emit(events.unbonding_completed(e.address, e.role, e.amount, e.id))

    # -- punishments (called by slashing) -------------------------------------------
    def jail(self, ctx: Ctx, addr: bytes, role: str, until_height: int) -> None:
        until = max(until_height, state.jailed_until(ctx, addr, role))
        state.set_jail(ctx, addr, role, until)
        ctx.emit(events.jailed(addr, role, until))

    def tombstone(self, ctx: Ctx, addr: bytes, role: str) -> None:
        if state.is_tombstoned(ctx, addr, role):
            return
        state.set_tombstone(ctx, addr, role)
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
        have = state.bonded(ctx, addr, role)
        cut = have * bps // BPS
        state.set_bond(ctx, addr, role, have - cut)
        for e in state.unbonding_entries(ctx, addr, role):
            c = e.amount * bps // BPS
            if c == 0:
                continue
            cut += c
            left = state.UnbondingEntry(e.id, e.address, e.role, e.amount - c, e.completion_height)
            if left.amount:
                state.put_unbonding(ctx, left)
            else:
                state.delete_unbonding(ctx, e)
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
        share = cut * state.get_params(ctx).slash_reward_share_bps // BPS
        paid = []
        for a in sorted(weights):
            n = share * weights[a] // total_w
            if n:
                self.bank.send_from_module(ctx, POOL, a, _coins(n))
                paid.append((a, n))
        return paid
