"""Store keys of the bank module."""

from __future__ import annotations

NAME = "bank"

PARAMS = b"\x00"
SUPPLY_PREFIX = b"\x01"
BALANCE_PREFIX = b"\x02"


def supply(denom: str) -> bytes:
    return SUPPLY_PREFIX + denom.encode()


def balance(addr: bytes, denom: str) -> bytes:
    return BALANCE_PREFIX + addr + denom.encode()


def balances_of(addr: bytes) -> bytes:
    return BALANCE_PREFIX + addr


def split_balance_key(key: bytes) -> tuple[bytes, str]:
    return key[1:21], key[21:].decode()
