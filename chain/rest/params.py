"""Reading a REST request: path and query values, and the JSON body, checked before use.

A value is refused with a 400 naming it: whole numbers in ASCII digits within
64 bits (``int()`` also takes '٣', ' 7 ' and '1_000'), tx hashes as 64 hex
digits, bodies as JSON objects no deeper than ``jsonbody.MAX_JSON_DEPTH``.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from google.protobuf import json_format
from google.protobuf.message import Message

from chain.rest.errors import bad_request
from chain.rpc import jsonbody

INT64_MAX = 2**63 - 1
_WHOLE = re.compile(r"[0-9]{1,19}")
_HASH = re.compile(r"[0-9a-fA-F]{64}")


def is_tx_hash(text: str) -> bool:
    return _HASH.fullmatch(text) is not None


def event_condition(e: str) -> str:
    """``key=value`` as the SDK 0.47 ``events`` parameter allows it -> a query condition."""
    key, sep, value = e.partition("=")
    if not sep or not key:
        raise bad_request(f"event {jsonbody.describe(e)} must look like message.sender='vcoin1…'")
    value = value.strip()
    if not value.startswith("'"):
        value = f"'{value}'"
    return f"{key.strip()}={value}"


def parse_body(body: Any, msg: Message) -> Any:
    if not isinstance(body, dict):
        raise bad_request(f"the request body must be a JSON object, got {jsonbody.describe(body)}")
    try:
        return json_format.ParseDict(body, msg)
    # json_format raises ParseError for most bad input, but TypeError, ValueError
    # or KeyError for some shapes: all of them mean the body is not this message.
    except Exception as e:
        raise bad_request(f"cannot read the request body as {msg.DESCRIPTOR.full_name}: {e}") from e


def whole_number(name: str, v: str) -> int:
    """A non-negative 64-bit whole number from a path or query value, in ASCII digits."""
    if not _WHOLE.fullmatch(v) or int(v) > INT64_MAX:
        raise bad_request(
            f"{name} must be a whole number from 0 to {INT64_MAX}, got {jsonbody.describe(v)}"
        )
    return int(v)


def int_param(request: Request, *names: str, default: int = 0) -> int:
    for n in names:
        v = request.query_params.get(n)
        if v:
            return whole_number(n, v)
    return default


async def json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return jsonbody.loads(raw or b"{}")
    except jsonbody.JsonError as e:
        raise bad_request(f"the request body: {e}") from e
