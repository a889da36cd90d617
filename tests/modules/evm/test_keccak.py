"""The EVM hashes with pysha3's keccak, and it gives keccak256's digests."""

from __future__ import annotations

from eth_hash.auto import keccak
from eth_hash.backends import pycryptodome

from modules.evm.keccak import EMPTY, use_fastest_keccak


def test_the_fast_keccak_is_in_use_and_agrees_with_pycryptodome() -> None:
    assert use_fastest_keccak() == "pysha3"
    assert "PySha3" in type(keccak.hasher.__self__).__name__  # type: ignore[attr-defined]
    assert keccak(b"") == EMPTY
    for data in (b"", b"abc", bytes(range(256)) * 9):
        assert keccak(data) == pycryptodome.keccak256(data)
    # the ERC-20 Transfer event's topic, as every wallet knows it
    topic = keccak(b"Transfer(address,address,uint256)").hex()
    assert topic == "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
