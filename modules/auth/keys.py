"""Store keys of the auth module."""

from __future__ import annotations

NAME = "auth"

PARAMS = b"\x00"
NEXT_ACCOUNT_NUMBER = b"\x01"
_ACCOUNT = b"\x02"


def account(addr: bytes) -> bytes:
    return _ACCOUNT + addr


ACCOUNT_PREFIX = _ACCOUNT
