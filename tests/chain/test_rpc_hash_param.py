"""A tx hash argument is taken as 0x-hex, bare hex or base64, and a base64 hash that
happens to begin with "0x" or "0X" (one hash in 2,048 or so) is read as base64, not
refused as bad hex: the crash test's random txs met one."""

from __future__ import annotations

import base64
import hashlib

import pytest

from chain.rpc.params import Param, convert

HASH = Param("hash", "hash")


def _base64_hash_starting_with(prefix: str) -> bytes:
    for i in range(1_000_000):
        h = hashlib.sha256(i.to_bytes(8, "big")).digest()
        if base64.b64encode(h).decode().startswith(prefix):
            return h
    raise AssertionError(f"no hash whose base64 starts with {prefix}")


@pytest.mark.parametrize("prefix", ["0x", "0X"])
@pytest.mark.parametrize("uri", [False, True])
def test_a_base64_hash_that_begins_like_hex_is_read_as_base64(prefix: str, uri: bool) -> None:
    h = _base64_hash_starting_with(prefix)
    text = base64.b64encode(h).decode()
    assert len(text) == 44 and text.startswith(prefix)
    assert convert(HASH, text, uri) == h


@pytest.mark.parametrize("uri", [False, True])
def test_hex_hashes_with_and_without_0x_still_read(uri: bool) -> None:
    h = hashlib.sha256(b"tx").digest()
    assert convert(HASH, "0x" + h.hex(), uri) == h
    assert convert(HASH, "0X" + h.hex().upper(), uri) == h
    assert convert(HASH, h.hex(), uri) == h
