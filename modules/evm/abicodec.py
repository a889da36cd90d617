"""The Solidity ABI for the precompiles' hot paths, without eth-abi's layers.

eth-abi builds and walks a codec per call; a VCoin transfer crosses the bank
precompile once and reports three native events as logs, so eth-abi's cost
was most of the precompile's. Here, by hand: arguments that are all static
words (address, bool, uintN), results of static words, and the logs' data
``abi.encode(string[] keys, string[] values)``. Anything else goes to eth-abi.
tests/modules/evm/test_abicodec.py checks each against eth-abi, also on
strings and numbers drawn by hypothesis, and on malformed input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode

_UINT_BITS = {f"uint{b}": b for b in range(8, 257, 8)}
_STATIC = {"address", "bool", *_UINT_BITS}


class ABIError(ValueError):
    """Call data that does not decode as the method's arguments."""


def decode(types: Sequence[str], data: bytes) -> tuple[Any, ...]:
    """Arguments of ``types`` from ``data`` (strict, as eth-abi is): a value out of
    its type's range, or data too short, is refused with ABIError."""
    if not all(t in _STATIC for t in types):
        try:
            return tuple(abi_decode(list(types), data))
        except Exception as e:  # noqa: BLE001 - any eth-abi failure is bad data
            raise ABIError(str(e)) from e
    if len(data) < 32 * len(types):
        raise ABIError(
            f"call data is {len(data)} bytes; {len(types)} arguments need {32 * len(types)}"
        )
    out: list[Any] = []
    for i, t in enumerate(types):
        word = data[32 * i : 32 * i + 32]
        n = int.from_bytes(word, "big")
        if t == "address":
            if n >> 160:
                raise ABIError(f"argument {i}: an address has 12 zero bytes before it")
            out.append("0x" + word[12:].hex())
        elif t == "bool":
            if n > 1:
                raise ABIError(f"argument {i}: a bool is 0 or 1")
            out.append(n == 1)
        else:
            if n >> _UINT_BITS[t]:
                raise ABIError(f"argument {i}: out of range for {t}")
            out.append(n)
    return tuple(out)


def encode(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """``values`` as ``types``; static words by hand, the rest by eth-abi."""
    if not all(t in _STATIC for t in types):
        return bytes(abi_encode(list(types), list(values)))
    out = bytearray()
    for t, v in zip(types, values, strict=True):
        if t == "address":
            raw = bytes.fromhex(str(v)[2:])
            if len(raw) != 20:
                raise ValueError(f"not a 20-byte address: {v!r}")
            out += bytes(12) + raw
        elif t == "bool":
            out += (1 if v else 0).to_bytes(32, "big")
        else:
            n = int(v)
            if n < 0 or n >> _UINT_BITS[t]:
                raise ValueError(f"{n} is out of range for {t}")
            out += n.to_bytes(32, "big")
    return bytes(out)


def _string_array(items: Sequence[str]) -> bytes:
    """The tail of a ``string[]``: its length, the offsets, then each string."""
    heads = bytearray()
    tails = bytearray()
    base = 32 * len(items)
    for s in items:
        raw = s.encode()
        heads += (base + len(tails)).to_bytes(32, "big")
        tails += len(raw).to_bytes(32, "big") + raw + bytes(-len(raw) % 32)
    return len(items).to_bytes(32, "big") + bytes(heads) + bytes(tails)


def encode_string_arrays(keys: Sequence[str], values: Sequence[str]) -> bytes:
    """``abi.encode(string[] keys, string[] values)``."""
    first = _string_array(keys)
    return (
        (64).to_bytes(32, "big")
        + (64 + len(first)).to_bytes(32, "big")
        + first
        + _string_array(values)
    )
