"""Events of the reputation module: type names and constructors."""

from __future__ import annotations

from chain.crypto import to_bech32
from chain.events import Event

REPUTATION_CHANGED = "ReputationChanged"
HEARTBEAT = "Heartbeat"


def reputation_changed(addr: bytes, old_bps: int, new_bps: int, reason: str) -> Event:
    return Event.of(
        REPUTATION_CHANGED,
        address=to_bech32(addr),
        old_score_bps=old_bps,
        new_score_bps=new_bps,
        reason=reason,
    )


def heartbeat(addr: bytes, height: int, uptime_bps: int) -> Event:
    return Event.of(HEARTBEAT, address=to_bech32(addr), height=height, uptime_bps=uptime_bps)
