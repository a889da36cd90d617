"""Store keys of the slashing module: its params and each CometBFT validator's
missed blocks; the rest lives in staking (bonds, jail, tombstone) and
reputation (scores)."""

from __future__ import annotations

NAME = "slashing"

PARAMS = b"\x00"
MISSED_PREFIX = b"\x01"  # validator addr → blocks counted (8) ‖ missed-block bitmap


def missed(addr: bytes) -> bytes:
    return MISSED_PREFIX + addr
