"""The servers' JSON reader: the depth scan agrees with the parsed document, costs
linear time on any input, and batches are read only as far as their limit."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.rpc.jsonbody import JsonError, Unrepresentable, dumps, loads, nesting_exceeds

STRINGS = st.text(alphabet=st.sampled_from('ab[]{}"\\\n '), max_size=8)
DOCS = st.recursive(
    st.none() | st.integers() | STRINGS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(STRINGS, inner, max_size=3),
    max_leaves=60,
)


def depth(v: Any) -> int:
    if isinstance(v, list):
        return 1 + max((depth(x) for x in v), default=0)
    if isinstance(v, dict):
        return 1 + max((depth(x) for x in v.values()), default=0)
    return 0


@settings(max_examples=400, deadline=None)
@given(doc=DOCS, limit=st.integers(0, 12))
def test_the_depth_scan_agrees_with_the_parsed_document(doc: Any, limit: int) -> None:
    raw = json.dumps(doc).encode()
    assert nesting_exceeds(raw, limit) == (depth(doc) > limit)


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 40 + b'"' + b'\\"' * 450_000,  # one unterminated string of escaped quotes
        b"[" * 40 + b'"\\' * 450_000,
        b"[" * 500_000 + b"]" * 500_000,
        b"[" + b"[]," * 330_000 + b"[]]",
        b'["' + b"[" * 999_000 + b'"]',
    ],
    ids=["escaped quotes", "quote-backslash", "deep", "wide", "brackets in a string"],
)
def test_the_scan_is_fast_on_a_megabyte_of_anything(raw: bytes) -> None:
    t0 = time.perf_counter()
    nesting_exceeds(raw, 32)
    assert time.perf_counter() - t0 < 1.0


def test_numbers_and_errors() -> None:
    v = loads(b'{"id": 1e999, "n": 1.5}')
    assert isinstance(v["id"], Unrepresentable) and repr(v["id"]) == "1e999" and v["n"] == 1.5
    for bad, kind in [(b"NaN", "syntax"), (b"[1,]", "syntax"), (b"[" * 33 + b"]" * 33, "depth")]:
        with pytest.raises(JsonError) as e:
            loads(bad)
        assert e.value.kind == kind
    assert dumps({"s": "\ud800"}) == b'{"s":"\\ud800"}'


def test_a_batch_is_read_only_as_far_as_its_limit() -> None:
    assert loads(b" [ 1 , 2 ] ", max_items=2) == [1, 2]
    with pytest.raises(JsonError) as e:
        loads(b"[1, 2, 3, this is never read", max_items=2)
    assert e.value.kind == "length"
    for text in ("[1,]", "[1 2]", "[1] x", "[", "[1"):
        with pytest.raises(JsonError) as e:
            loads(text, max_items=5)
        with pytest.raises(ValueError) as ref:
            json.loads(text)
        assert str(ref.value) in str(e.value)
