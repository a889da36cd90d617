"""JSON-RPC 2.0 errors and the typed parameter parser every RPC method goes through.

A method names its arguments as ``Param``s in CometBFT's order; a request may
pass them by name, by position, or (URI form) as query-string values. Each
value is checked against its kind before the method runs, so a wrong value
is a -32602 naming the argument, never an exception inside the method.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from chain.rpc.jsonbody import Unrepresentable, describe

# JSON-RPC 2.0 error codes, as CometBFT uses them
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000  # the implementation-defined range: limits, slow subscribers
_MESSAGES = {
    PARSE_ERROR: "Parse error",
    INVALID_REQUEST: "Invalid Request",
    METHOD_NOT_FOUND: "Method not found",
    INVALID_PARAMS: "Invalid params",
    INTERNAL_ERROR: "Internal error",
}
# The HTTP status of each code where one call is the whole answer (the URI form)
_HTTP = {
    PARSE_ERROR: 400,
    INVALID_REQUEST: 400,
    METHOD_NOT_FOUND: 404,
    INVALID_PARAMS: 400,
    INTERNAL_ERROR: 500,
}

INT64_MAX = 2**63 - 1
_INT = re.compile(r"-?[0-9]{1,19}")  # ASCII digits only: int() also takes '٣' and '1_000'
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")


class RPCError(Exception):
    """A JSON-RPC error: ``code``, CometBFT's short ``message``, and ``data`` saying what to do.

    ``http_status`` is what the URI form answers with it: 4xx for what the
    client got wrong, 404 for what is not there, 500 only for a node bug.
    """

    def __init__(self, code: int, data: str, http_status: int | None = None) -> None:
        super().__init__(data)
        self.code = code
        self.message = _MESSAGES.get(code, "Server error")
        self.data = data
        self.http_status = http_status or _HTTP.get(code, 400)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": self.data}


def invalid(data: str) -> RPCError:
    return RPCError(INVALID_PARAMS, data)


def internal(data: str, http_status: int = 500) -> RPCError:
    """CometBFT's -32603 for an answer it gives that way (a tx not found, a timeout)."""
    return RPCError(INTERNAL_ERROR, data, http_status)


_REQUIRED = object()


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # int | str | bool | tx (base64 bytes) | hex (hex bytes) | hash (tx hash)
    default: Any = _REQUIRED


def _unquote(v: str) -> str:
    return v[1:-1] if len(v) >= 2 and v[0] == v[-1] == '"' else v


def convert(p: Param, v: Any, uri: bool) -> Any:
    """One argument from JSON (or a URI query string) to its Python value."""
    if v is None or (uri and v == ""):
        if p.default is _REQUIRED:
            raise invalid(f"missing argument {p.name!r}")
        return p.default
    try:
        if p.kind == "int":
            return _int(p, v)
        if p.kind == "bool":
            if isinstance(v, bool):
                return v
            s = _unquote(v).lower() if isinstance(v, str) else ""
            if s not in ("true", "false"):
                raise ValueError
            return s == "true"
        if not isinstance(v, str):
            raise ValueError
        if p.kind == "str":
            return _unquote(v) if uri else v
        return _bytes(p, v, uri)
    except (ValueError, binascii.Error) as e:
        raise invalid(f"argument {p.name!r}: {_expected(p.kind, uri)}, got {describe(v)}") from e


def _int(p: Param, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int | str | Unrepresentable):
        raise ValueError
    if isinstance(v, str):
        text = _unquote(v)
        if not _INT.fullmatch(text):
            if re.fullmatch(r"-?[0-9]+", text):
                raise invalid(f"argument {p.name!r}: {text} is out of range (64-bit)")
            raise ValueError
        n = int(text)
    elif isinstance(v, int):
        n = v
    else:
        n = INT64_MAX + 1  # Unrepresentable
    if not -INT64_MAX - 1 <= n <= INT64_MAX:
        raise invalid(f"argument {p.name!r}: {describe(v)} is out of range (64-bit)")
    return n


def _bytes(p: Param, v: str, uri: bool) -> bytes:
    # a tx hash in base64 is 44 characters and may itself begin with "0x" or "0X"
    if v[:2] in ("0x", "0X") and not (p.kind == "hash" and len(v) == 44):
        out = _hex(v[2:])
    elif uri and len(v) >= 2 and v[0] == v[-1] == '"':
        out = v[1:-1].encode()
    elif p.kind == "hex" or (p.kind == "hash" and len(v) == 64):
        out = _hex(v)
    else:
        out = base64.b64decode(v, validate=True)
    if p.kind == "hash" and len(out) != 32:
        raise invalid(f"argument {p.name!r}: a tx hash is 32 bytes, got {len(out)}")
    return out


def _hex(v: str) -> bytes:
    # bytes.fromhex also skips whitespace; a parameter is plain hex or wrong
    if not _HEX.fullmatch(v):
        raise ValueError
    return bytes.fromhex(v)


def _expected(kind: str, uri: bool) -> str:
    return {
        "int": "expected a whole number",
        "bool": "expected true or false",
        "str": "expected a string",
        "tx": "expected 0x-prefixed hex" if uri else "expected the tx bytes in base64",
        "hex": "expected hex bytes",
        "hash": "expected the hash as hex" + ("" if uri else " or base64"),
    }[kind]


def bind(params: tuple[Param, ...], given: Any, uri: bool, method: str) -> dict[str, Any]:
    """Arguments by name (object or query string) or by position (array)."""
    if given is None:
        given = {}
    if isinstance(given, list):
        if len(given) > len(params):
            raise invalid(f"{method} takes at most {len(params)} arguments, got {len(given)}")
        given = {p.name: v for p, v in zip(params, given, strict=False)}
    if not isinstance(given, dict):
        raise invalid(f"params must be an object or an array, got {describe(given)}")
    names = {p.name for p in params}
    unknown = sorted(set(given) - names)
    if unknown:
        takes = ", ".join(sorted(names)) or "no arguments"
        raise invalid(f"{method} has no argument {describe(unknown[0])}; it takes {takes}")
    return {p.name: convert(p, given.get(p.name), uri) for p in params}
