"""Store keys of the drip module."""

from __future__ import annotations

NAME = "drip"
POOL = "drip_pool"  # the module account that holds the pool

PARAMS = b"\x00"
DRIPPED_PREFIX = b"\x01"  # addr → height of its drip
BLOCK_COUNT = b"\x02"  # height (8 bytes) ‖ drips in that block (8 bytes)


def dripped(addr: bytes) -> bytes:
    return DRIPPED_PREFIX + addr
