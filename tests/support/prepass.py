"""Pre-pass functions for tests of chain/sigverify.py's app pre-pass: the helper
process imports them by name ("tests.support.prepass:reverse")."""

from __future__ import annotations


def reverse(items: list[bytes]) -> list[bytes | None]:
    """Each item reversed; None for an empty one."""
    return [x[::-1] if x else None for x in items]


def broken(items: list[bytes]) -> list[bytes | None]:
    raise RuntimeError("a pre-pass with a bug")


def short(items: list[bytes]) -> list[bytes | None]:
    return []
