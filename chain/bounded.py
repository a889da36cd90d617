"""Decoders for untrusted text with their limits checked before any parsing.

Python's parsers are not made for hostile input: ``json.loads`` recurses once
per nesting level (a few thousand brackets raise RecursionError, whose depth
depends on the interpreter's stack), ``int()`` of a long digit string costs
quadratic time and its refusal depends on ``sys.set_int_max_str_digits``,
``int()`` also reads Unicode digits (``'١٢'``) and surrounding whitespace.
What enters the chain, or a worker, goes through these instead; each raises
``InputError`` (a ValueError) saying which limit was passed.

| limit | value |
| --- | --- |
| JSON nesting | ``MAX_JSON_DEPTH`` (32 levels) |
| JSON number | ``MAX_NUMBER_CHARS`` (100 characters) |
| JSON text | given by the caller (``max_bytes``) |
| integer text | ASCII digits only, at most ``MAX_INT_DIGITS`` (78: 2^256) |
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

MAX_JSON_DEPTH = 32
MAX_NUMBER_CHARS = 100
MAX_INT_DIGITS = 78


class InputError(ValueError):
    pass


# from a quote: a whole JSON string (every character matches one way, so linear)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NEXT = re.compile(r'["\[\]{}]')
_LONG_NUMBER = re.compile(rf"[-+0-9.eE]{{{MAX_NUMBER_CHARS + 1},}}")
_DIGITS = re.compile(r"[0-9]+")


def scan_json(text: str, what: str, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Check nesting and number lengths in one pass without recursion. It does not
    check that ``text`` is JSON: ``json.loads`` does that once this passed."""
    depth = 0
    pos = 0
    n = len(text)
    while pos < n:
        m = _NEXT.search(text, pos)
        end = n if m is None else m.start()
        if _LONG_NUMBER.search(text, pos, end):
            raise InputError(f"{what} has a number longer than {MAX_NUMBER_CHARS} characters")
        if m is None:
            break
        c = m.group()
        if c == '"':
            s = _STRING.match(text, end)
            if s is None:
                raise InputError(f"{what} is not JSON: a string is not terminated")
            pos = s.end()
            continue
        if c in "[{":
            depth += 1
            if depth > max_depth:
                raise InputError(f"{what} nests deeper than {max_depth} levels")
        else:
            depth -= 1
        pos = end + 1


def _no_constant(name: str) -> Any:
    raise InputError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise InputError(f"key {k[:64]!r} appears twice in one object")
            seen.add(k)
    return out


def load_json(
    data: str | bytes,
    what: str,
    *,
    max_bytes: int,
    max_depth: int = MAX_JSON_DEPTH,
    parse_float: Any = Decimal,
) -> Any:
    """Parse ``data`` as strict JSON (no NaN or Infinity, no repeated keys) after
    checking its size, nesting and numbers. Fractions become ``Decimal`` unless
    ``parse_float`` says otherwise: consensus code has no floats."""
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise InputError(f"{what} is {size} bytes; at most {max_bytes}")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"{what} is not UTF-8 text") from e
    scan_json(data, what, max_depth)
    try:
        return json.loads(
            data,
            parse_constant=_no_constant,
            parse_float=parse_float,
            object_pairs_hook=_unique_keys,
        )
    except InputError as e:
        raise InputError(f"{what}: {e}") from e
    except ValueError as e:
        raise InputError(f"{what} is not JSON: {e}") from e


def parse_uint(text: str, what: str, maximum: int) -> int:
    """A non-negative integer written in ASCII digits, at most ``maximum``."""
    digits = len(str(maximum))
    if not isinstance(text, str) or len(text) > digits or not _DIGITS.fullmatch(text):
        raise InputError(f"{what} must be a whole number of at most {digits} ASCII digits")
    n = int(text)
    if n > maximum:
        raise InputError(f"{what} is over {maximum}")
    return n


def read_uint(value: Any, what: str, maximum: int = (1 << 64) - 1) -> int:
    """A non-negative integer given as a JSON integer or as a string of ASCII
    digits (not a bool, a fraction or ``'²'``), at most ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InputError(f"{what} must be an integer, got {type(value).__name__}")
    n = parse_uint(value, what, maximum) if isinstance(value, str) else value
    if not 0 <= n <= maximum:
        raise InputError(f"{what} must be between 0 and {maximum}, got {n}")
    return n
