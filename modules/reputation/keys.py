"""Store keys of the reputation module."""

from __future__ import annotations

NAME = "reputation"

PARAMS = b"\x00"
STATS_PREFIX = b"\x01"  # addr → encoded Stats


def stats(addr: bytes) -> bytes:
    return STATS_PREFIX + addr
