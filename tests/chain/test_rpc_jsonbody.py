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


ANSWERS = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)  # past 64 bits too: orjson refuses those
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),  # lone surrogates, control characters, U+2028 included
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=6) | st.integers(-9, 9), inner, max_size=4)
    ),
    max_leaves=40,
)


def _reference(obj: Any) -> bytes:
    """What dumps gave before orjson: the stdlib's compact UTF-8."""
    try:
        return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:
        return json.dumps(obj, allow_nan=False, separators=(",", ":")).encode()


@settings(max_examples=600, deadline=None)
@given(doc=ANSWERS)
def test_dumps_reads_back_as_the_stdlib_encoding_does(doc: Any) -> None:
    """Any answer encodes to JSON that parses to what the stdlib's encoding parses to,
    and byte for byte the same wherever no float is in it (orjson writes a float's
    shortest form, which can differ in the exponent: 1e16 and 1e+16)."""
    got, want = dumps(doc), _reference(doc)
    assert json.loads(got) == json.loads(want)
    if not _has_float(doc):
        assert got == want


def _has_float(v: Any) -> bool:
    if isinstance(v, float):
        return True
    if isinstance(v, (list, tuple)):
        return any(_has_float(x) for x in v)
    if isinstance(v, dict):
        return any(_has_float(x) for x in v.values())
    return False


def test_dumps_refuses_what_is_not_json_as_the_stdlib_does() -> None:
    from dataclasses import dataclass
    from datetime import datetime

    @dataclass
    class Job:
        id: int

    for obj in (Job(1), datetime(2026, 1, 1), {1, 2}, Unrepresentable("1e999"), b"bytes"):
        with pytest.raises(TypeError):
            dumps({"result": obj})


def test_a_logs_answer_encodes_as_before() -> None:
    """The eth_getLogs shape (the answer orjson was brought in for), exactly."""
    log = {
        "address": "0x" + "Ab" * 20,
        "topics": ["0x" + "11" * 32, "0x" + "22" * 32],
        "data": "0x" + "00" * 32,
        "blockNumber": "0x2a",
        "removed": False,
    }
    answer = {"jsonrpc": "2.0", "id": 7, "result": [log] * 3}
    assert dumps(answer) == _reference(answer)
    assert dumps({"id": 2**80}) == b'{"id":1208925819614629174706176}'
    assert dumps({"é": "\u2028\x1f"}) == '{"é":"\u2028\\u001f"}'.encode()
