"""Events of the staking module: type names and constructors."""

from __future__ import annotations

from chain.crypto import to_bech32
from chain.events import Event

BONDED = "Bonded"
UNBONDING_STARTED = "UnbondingStarted"
UNBONDING_COMPLETED = "UnbondingCompleted"
JAILED = "Jailed"
UNJAILED = "Unjailed"
TOMBSTONED = "Tombstoned"
SLASHED = "Slashed"


def bonded(addr: bytes, role: str, amount: int, total: int) -> Event:
    return Event.of(BONDED, address=to_bech32(addr), role=role, amount=amount, bonded=total)


def unbonding_started(
    addr: bytes, role: str, amount: int, completion_height: int, entry_id: int
) -> Event:
    return Event.of(
        UNBONDING_STARTED,
        address=to_bech32(addr),
        role=role,
        amount=amount,
        completion_height=completion_height,
        entry_id=entry_id,
    )


def unbonding_completed(addr: bytes, role: str, amount: int, entry_id: int) -> Event:
    return Event.of(
        UNBONDING_COMPLETED, address=to_bech32(addr), role=role, amount=amount, entry_id=entry_id
    )


def jailed(addr: bytes, role: str, until_height: int) -> Event:
    return Event.of(JAILED, address=to_bech32(addr), role=role, until_height=until_height)


def unjailed(addr: bytes, role: str) -> Event:
    return Event.of(UNJAILED, address=to_bech32(addr), role=role)


def tombstoned(addr: bytes, role: str) -> Event:
    return Event.of(TOMBSTONED, address=to_bech32(addr), role=role)


def slashed(
    addr: bytes,
    role: str,
    bps: int,
    amount: int,
    to_treasury: int,
    rewards: list[tuple[bytes, int]],
) -> Event:
    return Event.of(
        SLASHED,
        address=to_bech32(addr),
        role=role,
        fraction_bps=bps,
        amount=amount,
        to_treasury=to_treasury,
        rewards=",".join(f"{to_bech32(a)}:{n}" for a, n in rewards),
    )
