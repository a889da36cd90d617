"""Store keys of the mint module."""

from __future__ import annotations

NAME = "mint"
# The module account that mints (bank permission ``minter``); it holds new
# coins only within the end block that distributes them.
ACCOUNT = "mint"

PARAMS = b"\x00"
EPOCH = b"\x01"  # epoch number ‖ start height
UNITS_PREFIX = b"\x02"  # addr → verified compute units this epoch
TOTAL_UNITS = b"\x03"
TOTAL_MINTED = b"\x04"  # every avcn ever minted, for the supply invariant


def units(addr: bytes) -> bytes:
    return UNITS_PREFIX + addr
