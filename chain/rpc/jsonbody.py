"""Untrusted JSON in, JSON out, for the RPC and REST servers.

``loads`` refuses a body that nests deeper than ``MAX_JSON_DEPTH`` before the
parser sees it (Python's parser recurses once per level and would otherwise
raise ``RecursionError`` from deep inside a request), refuses NaN and
Infinity (not JSON), and reads a number too large for a float (``1e999``)
as ``Unrepresentable`` so that the parameter parsers can name it instead of
the encoder failing on ``inf`` when it echoes an id. ``dumps`` never fails on
a lone surrogate a client sent in a string.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# Deep enough for any request this node serves (a REST simulate body with a
# tx in JSON nests about 8 levels), far below the interpreter's recursion limit.
MAX_JSON_DEPTH = 32

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_RUNS = re.compile(rb"\(+|\)+")
_PARENS = bytes.maketrans(b"[{]}", b"(())")
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))


class JsonError(ValueError):
    """A body that is not JSON (``too_deep`` False) or nests too deeply (True)."""

    def __init__(self, message: str, too_deep: bool = False) -> None:
        super().__init__(message)
        self.too_deep = too_deep


class Unrepresentable:
    """A JSON number outside a float's range (``1e999``): kept as its text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _float(text: str) -> float | Unrepresentable:
    f = float(text)
    return f if math.isfinite(f) else Unrepresentable(text)


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value (JSON numbers are finite)")


def nesting_exceeds(raw: bytes, limit: int) -> bool:
    """Whether the brackets of ``raw`` nest deeper than ``limit``, without parsing.

    Only brackets outside strings count. Where the brackets stop matching, the
    parser stops too (with its own error), so the scan stops there as well.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    parens = _outside_strings(raw).translate(_PARENS, _NOT_BRACKETS)
    if b"(" * (limit + 1) in parens:
        return True
    # Each pass removes the innermost level everywhere at C speed, so that the
    # run-by-run scan below meets few runs even in a wide, shallow document.
    for _ in range(4):
        if not parens:
            return False
        parens = parens.replace(b"()", b"")
        limit -= 1
    depth = 0
    for run in _RUNS.findall(parens):
        if run[0] == 0x28:  # "("
            depth += len(run)
            if depth > limit:
                return True
        else:
            depth -= len(run)
            if depth < 0:
                return False
    return False


def _outside_strings(raw: bytes) -> bytes:
    if b'"' not in raw:
        return raw
    if b"\\" not in raw:  # no escaped quotes: strings are every other piece
        return b"".join(raw.split(b'"')[0::2])
    return _STRING.sub(b"", raw)


def loads(raw: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse untrusted JSON; raise JsonError saying what is wrong with it."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if nesting_exceeds(data, max_depth):
        raise JsonError(f"the JSON nests deeper than {max_depth} levels", too_deep=True)
    try:
        return json.loads(raw, parse_float=_float, parse_constant=_constant)
    except RecursionError:  # unreachable after the scan; kept as the last guard
        raise JsonError(f"the JSON nests deeper than {max_depth} levels", too_deep=True) from None
    except ValueError as e:
        raise JsonError(f"not JSON: {e}") from None


def dumps(obj: Any) -> bytes:
    """Compact JSON as UTF-8; strings a client sent with lone surrogates come back escaped."""
    try:
        return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:
        return json.dumps(obj, allow_nan=False, separators=(",", ":")).encode()


def describe(v: Any) -> str:
    """A short account of a JSON value for an error message (never a deep repr)."""
    if isinstance(v, bool) or v is None:
        return json.dumps(v)
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, list):
        return "an array"
    text = repr(v)
    return text if len(text) <= 48 else text[:45] + "..."
