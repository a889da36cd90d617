"""Bounded decoders: JSON, integers, bech32, decimal coins, params, query arguments.

Each refuses what passes its limits with a ValueError (``InputError``) or a
ChainError that says which limit, never anything else, whatever the input.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chain.bounded import (
    MAX_JSON_DEPTH,
    InputError,
    load_json,
    parse_uint,
    read_uint,
    scan_json,
)
from chain.coins import parse_coin_str
from chain.crypto import AddressError, PrivateKey, from_bech32, to_bech32
from chain.errors import ChainError
from compute.runtime import jsonlimits
from modules.jobs.params import Params as JobsParams
from modules.staking.params import Params as StakingParams
from tests.fuzzing import fuzz

BIG = 1 << 20


def nested(depth: int, open_: str = "[", close: str = "]") -> str:
    return open_ * depth + close * depth


@pytest.mark.parametrize(
    "text, says",
    [
        (nested(5000), "deeper than 32"),
        ('{"a":' * 40 + "1" + "}" * 40, "deeper than 32"),
        ("[" * 100_000, "deeper than 32"),
        ('{"n": ' + "9" * 5000 + "}", "longer than 100"),
        ('{"n": 1e' + "9" * 200 + "}", "longer than 100"),
        ('{"t": NaN}', "NaN is not JSON"),
        ("[Infinity]", "Infinity is not JSON"),
        ('{"a": 1, "a": 2}', "appears twice"),
        ('{"a": "unterminated', "not terminated"),
        ("{", "not JSON"),
        ("", "not JSON"),
    ],
)
def test_load_json_refuses(text: str, says: str) -> None:
    with pytest.raises(InputError) as e:
        load_json(text, "spec", max_bytes=BIG)
    assert says in str(e.value) and "spec" in str(e.value)


def test_load_json_checks_size_before_anything() -> None:
    with pytest.raises(InputError, match="at most 10"):
        load_json(nested(6), "x", max_bytes=10)
    assert load_json(nested(5), "x", max_bytes=10) == [[[[[]]]]]


def test_load_json_limits_are_exact() -> None:
    assert load_json(nested(MAX_JSON_DEPTH), "x", max_bytes=BIG) is not None
    with pytest.raises(InputError):
        load_json(nested(MAX_JSON_DEPTH + 1), "x", max_bytes=BIG)
    assert load_json("[" + "9" * 100 + "]", "x", max_bytes=BIG) == [int("9" * 100)]
    # brackets and quotes inside strings are text
    assert load_json('{"a": "[[[[\\"{{{"}', "x", max_bytes=BIG) == {"a": '[[[["{{{'}


def test_fractions_are_decimals_on_chain() -> None:
    assert load_json('{"t": 0.7}', "x", max_bytes=BIG) == {"t": Decimal("0.7")}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=40,
)


@fuzz(300)
@given(
    text=st.text(max_size=300) | st.text(alphabet='[]{}"\\,:0123456789e.-ntrufalsN ', max_size=300)
)
def test_load_json_raises_only_input_error(text: str) -> None:
    try:
        load_json(text, "x", max_bytes=BIG)
    except InputError:
        pass
    try:
        jsonlimits.loads(text, BIG)
    except jsonlimits.JSONLimitError:
        pass


@fuzz(300)
@given(value=json_values)
def test_load_json_reads_what_json_writes(value: Any) -> None:
    text = json.dumps(value)
    assert load_json(text, "x", max_bytes=BIG) == value
    assert jsonlimits.loads(text, BIG) == value


@fuzz(200)
@given(depth=st.integers(1, 3000), kind=st.sampled_from(["[]", "{}", "mixed"]))
def test_deep_json_is_refused_by_both_checkers(depth: int, kind: str) -> None:
    if kind == "mixed":
        text = '{"a":[' * (depth // 2) + "1" + "]}" * (depth // 2)
        levels = 2 * (depth // 2)
    elif kind == "{}":
        text = '{"a":' * depth + "1" + "}" * depth
        levels = depth
    else:
        text = nested(depth)
        levels = depth
    ok_chain = ok_worker = True
    try:
        load_json(text, "x", max_bytes=BIG)
    except InputError:
        ok_chain = False
    try:
        jsonlimits.loads(text, BIG)
    except jsonlimits.JSONLimitError:
        ok_worker = False
    assert ok_chain == ok_worker == (levels <= MAX_JSON_DEPTH)


def test_scan_is_linear_on_unterminated_strings() -> None:
    # a naive tokenizer retries the string from each quote: quadratic
    with pytest.raises(InputError):
        scan_json('"\\"' * 200_000, "x")


# -- integers -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["²", "١٢", " 7", "7 ", "1_000", "+7", "-7", "", "7\n", "0x10"])
def test_parse_uint_reads_ascii_digits_only(text: str) -> None:
    with pytest.raises(InputError):
        parse_uint(text, "n", 10**9)


def test_parse_uint_range() -> None:
    assert parse_uint("1000000000", "n", 10**9) == 10**9
    with pytest.raises(InputError, match="over"):
        parse_uint("1000000001", "n", 10**9)
    with pytest.raises(InputError, match="at most 10"):
        parse_uint("9" * 5000, "n", 10**9)


@pytest.mark.parametrize("value", [True, 1.5, None, [], {}, -1, 1 << 64, "²", "1e3"])
def test_read_uint_refuses(value: Any) -> None:
    with pytest.raises(InputError):
        read_uint(value, "height")


def test_read_uint_reads_ints_and_digit_strings() -> None:
    assert read_uint(7, "n") == read_uint("7", "n") == 7


@fuzz(300)
@given(value=st.one_of(st.text(max_size=30), st.integers(), st.floats(), st.booleans()))
def test_read_uint_raises_only_input_error(value: Any) -> None:
    try:
        n = read_uint(value, "n")
    except InputError:
        return
    assert isinstance(n, int) and 0 <= n < 1 << 64


# -- bech32, decimals, params ---------------------------------------------------------------


def test_bech32_is_bounded() -> None:
    good = PrivateKey.from_seed(b"b").bech32
    assert from_bech32(good)
    with pytest.raises(AddressError, match="90"):
        from_bech32("vcoin1" + "q" * 100_000)
    # a 32-byte address (64 characters) is within the bound: refused for its length only
    with pytest.raises(AddressError, match="must encode 20 bytes"):
        from_bech32(to_bech32(bytes(32)))


@fuzz(300)
@given(
    text=st.text(max_size=120)
    | st.text(alphabet="vcoin1qpzry9x8gf2tvdw0s3jn54khce6mua7l", max_size=120)
)
def test_bech32_raises_only_address_error(text: str) -> None:
    try:
        from_bech32(text)
    except AddressError:
        pass


@pytest.mark.parametrize("text", ["1" * 5000 + "avcn", "1." + "5" * 5000 + "VCN", "١٢avcn"])
def test_decimal_coins_are_bounded(text: str) -> None:
    with pytest.raises(ChainError):
        parse_coin_str(text)


@fuzz(300)
@given(text=st.text(max_size=60) | st.text(alphabet="0123456789.,VCNavcn ", max_size=60))
def test_decimal_coins_raise_only_chain_errors(text: str) -> None:
    try:
        parse_coin_str(text)
    except ChainError:
        pass


@pytest.mark.parametrize("value", ["²", "١٢", " 5", "5_0", "9" * 5000])
def test_params_read_integer_strings_strictly(value: str) -> None:
    with pytest.raises(ChainError):
        StakingParams.from_json({"unbonding_blocks": value})


def test_params_refuse_fractions() -> None:
    with pytest.raises(ChainError):
        JobsParams.from_json({"max_priority": Decimal("1.5")})


def test_digests_and_key_names_refuse_a_trailing_newline() -> None:
    from chain.artifacts import BadDigest, check_digest
    from chain.keystore import KeystoreError, check_name

    assert check_digest("ab" * 32) == "ab" * 32
    with pytest.raises(BadDigest):
        check_digest("ab" * 32 + "\n")
    assert check_name("alice") == "alice"
    with pytest.raises(KeystoreError):
        check_name("alice\n")
