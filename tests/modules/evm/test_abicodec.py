"""The precompiles' hand-written ABI codec agrees with eth-abi: the same bytes for
the same values, the same values from the same bytes, the same refusals."""

from __future__ import annotations

import pytest
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from hypothesis import given, settings
from hypothesis import strategies as st

from modules.evm.abicodec import ABIError, decode, encode, encode_string_arrays

addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
STATIC = [
    ("address", addresses),
    ("uint256", st.integers(0, 2**256 - 1)),
    ("uint64", st.integers(0, 2**64 - 1)),
    ("uint32", st.integers(0, 2**32 - 1)),
    ("bool", st.booleans()),
]


@st.composite
def static_args(draw: st.DrawFn) -> tuple[list[str], list[object]]:
    picks = draw(st.lists(st.sampled_from(range(len(STATIC))), min_size=0, max_size=5))
    return [STATIC[i][0] for i in picks], [draw(STATIC[i][1]) for i in picks]


@settings(max_examples=300, deadline=None)
@given(static_args())
def test_static_words_encode_and_decode_as_eth_abi_does(tv: tuple[list[str], list[object]]) -> None:
    types, values = tv
    raw = abi_encode(types, values)
    assert encode(types, values) == raw
    assert decode(types, raw) == tuple(abi_decode(types, raw))
    assert decode(types, raw + b"\x00" * 5) == decode(types, raw)  # trailing bytes: ignored


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=80)), st.lists(st.text(max_size=80)))
def test_string_arrays_encode_as_eth_abi_does(keys: list[str], values: list[str]) -> None:
    assert encode_string_arrays(keys, values) == abi_encode(
        ["string[]", "string[]"], [keys, values]
    )


@pytest.mark.parametrize(
    ("types", "data", "says"),
    [
        (["address"], b"\x01" + bytes(31), "12 zero bytes"),  # dirty upper bytes
        (["bool"], (2).to_bytes(32, "big"), "0 or 1"),
        (["uint64"], (2**64).to_bytes(32, "big"), "out of range"),
        (["uint32"], (2**32).to_bytes(32, "big"), "out of range"),
        (["address", "uint256"], bytes(63), "need 64"),  # short
    ],
)
def test_what_eth_abi_refuses_is_refused(types: list[str], data: bytes, says: str) -> None:
    with pytest.raises(Exception):  # noqa: B017,PT011 - eth-abi's own error classes
        abi_decode(types, data)
    with pytest.raises(ABIError, match=says):
        decode(types, data)


def test_exactly_at_each_types_limit_decodes() -> None:
    for t, top in (("uint64", 2**64 - 1), ("uint32", 2**32 - 1), ("uint256", 2**256 - 1)):
        assert decode([t], top.to_bytes(32, "big")) == (top,)
    assert decode(["bool"], (1).to_bytes(32, "big")) == (True,)


def test_dynamic_types_go_through_eth_abi() -> None:
    types = ["address", "string", "uint256"]
    values = ["0x" + "11" * 20, "worker", 5]
    raw = abi_encode(types, values)
    assert decode(types, raw) == tuple(abi_decode(types, raw))
    assert encode(types, values) == raw
    with pytest.raises(ABIError):
        decode(types, raw[:40])
