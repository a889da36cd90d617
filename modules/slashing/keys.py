"""Store keys of the slashing module: only its params; the rest lives in staking
(bonds, jail, tombstone) and reputation (scores)."""

from __future__ import annotations

NAME = "slashing"

PARAMS = b"\x00"
