"""Strict JSON for job specs, inputs and manifests, with limits checked before parsing.

``json.loads`` recurses once per nesting level: a few thousand brackets (well
within the 4 KiB an inline input may hold) raise RecursionError, which would
look like a crash of this runtime rather than a bad input. The nesting and
number lengths are checked first in one pass without recursion; NaN,
Infinity and repeated keys are refused. The node has the same checks in
``chain/bounded.py``; this copy exists because the sandbox image carries only
``compute/runtime/``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 32
MAX_NUMBER_CHARS = 100

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NEXT = re.compile(r'["\[\]{}]')
_LONG_NUMBER = re.compile(rf"[-+0-9.eE]{{{MAX_NUMBER_CHARS + 1},}}")


class JSONLimitError(ValueError):
    pass


def _scan(text: str, max_depth: int) -> None:
    depth = pos = 0
    n = len(text)
    while pos < n:
        m = _NEXT.search(text, pos)
        end = n if m is None else m.start()
        if _LONG_NUMBER.search(text, pos, end):
            raise JSONLimitError(f"a number is longer than {MAX_NUMBER_CHARS} characters")
        if m is None:
            break
        c = m.group()
        if c == '"':
            s = _STRING.match(text, end)
            if s is None:
                raise JSONLimitError("a string is not terminated")
            pos = s.end()
            continue
        depth += 1 if c in "[{" else -1
        if depth > max_depth:
            raise JSONLimitError(f"it nests deeper than {max_depth} levels")
        pos = end + 1


def _no_constant(name: str) -> Any:
    raise JSONLimitError(f"{name} is not JSON")


def _finite(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):  # 1e999 reads as infinity
        raise JSONLimitError(f"number {text} is out of range")
    return v


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise JSONLimitError("a key appears twice in one object")
    return out


def loads(data: bytes | str, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """Parse strict JSON; JSONLimitError (a ValueError) saying what is wrong."""
    if len(data) > max_bytes:
        raise JSONLimitError(f"it is over {max_bytes} bytes")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise JSONLimitError("it is not UTF-8 text") from None
    _scan(data, max_depth)
    try:
        return json.loads(
            data, parse_constant=_no_constant, parse_float=_finite, object_pairs_hook=_unique_keys
        )
    except JSONLimitError:
        raise
    except (ValueError, RecursionError) as e:
        raise JSONLimitError(f"it is not JSON: {e}") from None
