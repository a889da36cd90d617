"""Cosmos SDK pagination over the modules' list queries.

A list route takes ``pagination.key`` (base64, the ``next_key`` of the page before),
``pagination.offset``, ``pagination.limit`` (default 100, at most 1000),
``pagination.count_total`` and ``pagination.reverse``, and answers
``"pagination": {"next_key": <base64 or null>, "total": "<n>"}`` (``total`` is "0"
unless ``count_total`` was asked; a page read by a cursor key leaves it "0", as the
SDK does for a key). ``next_key``
is null on the last page. A module may serve fewer per page than asked (jobs: its
``max_page`` param; verification: 500); ``next_key`` then leads on.

A key is opaque to clients. Forward pages over a list whose module query has a
cursor (``after`` / ``next_after``) go straight to that query, one page read per
request; ``reverse``, ``offset`` and ``count_total`` read the whole list (the lists
that have no cursor are small and always read whole) and the key names the first
item of the next page.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chain.rest.errors import bad_request
from chain.rest.params import whole_number
from chain.rpc import jsonbody

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# the most items a whole-list read gathers (reverse, offset, count_total)
MAX_WALK = 100_000
_CURSOR, _ITEM = "a:", "i:"

Item = dict[str, Any]
# (after cursor, limit) -> (items, the cursor after the last one or None at the end)
Fetch = Callable[[str, int], tuple[list[Item], str | None]]


@dataclass(frozen=True)
class PageRequest:
    key: str  # the decoded key ("a:…" or "i:…"), or ""
    offset: int
    limit: int
    count_total: bool
    reverse: bool


def _bool(name: str, v: str) -> bool:
    if v in ("", "false", "0", "False"):
        return False
    if v in ("true", "1", "True"):
        return True
    raise bad_request(f"{name} must be true or false, got {jsonbody.describe(v)}")


def page_request_of(
    raw_key: str, offset_s: str, limit_s: str, count_total: str, reverse: str
) -> PageRequest:
    """The ``pagination.*`` query values; a bad one is a 400 that names it."""
    key = ""
    if raw_key:
        bad = f"pagination.key {jsonbody.describe(raw_key)} is not a next_key of this API"
        try:
            padded = raw_key + "=" * (-len(raw_key) % 4)
            data = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
            key = data.decode()
        except (binascii.Error, ValueError, UnicodeDecodeError) as e:
            raise bad_request(bad) from e
        if not key.startswith((_CURSOR, _ITEM)) or len(key) < 3:
            raise bad_request(bad)
    offset = whole_number("pagination.offset", offset_s or "0")
    if key and offset:
        raise bad_request("give either pagination.key or pagination.offset, not both")
    limit = whole_number("pagination.limit", limit_s or "0")
    limit = DEFAULT_LIMIT if limit == 0 else min(limit, MAX_LIMIT)
    return PageRequest(
        key=key,
        offset=offset,
        limit=limit,
        count_total=_bool("pagination.count_total", count_total),
        reverse=_bool("pagination.reverse", reverse),
    )


def _encode(key: str) -> str:
    return base64.b64encode(key.encode()).decode()


def _page_json(next_key: str | None, total: int) -> dict[str, Any]:
    return {"next_key": None if next_key is None else _encode(next_key), "total": str(total)}


def walk(fetch: Fetch, step: int) -> list[Item]:
    """Every item of a cursor list, page by page."""
    out: list[Item] = []
    after = ""
    while True:
        items, nxt = fetch(after, step)
        out.extend(items)
        if nxt is None or not items:
            return out
        if len(out) > MAX_WALK:
            raise bad_request(
                f"the list has more than {MAX_WALK} items: page it forward with "
                "pagination.key instead of pagination.reverse, offset or count_total"
            )
        after = nxt


def paginate_all(
    items: list[Item], ident: Callable[[Item], str], page: PageRequest
) -> tuple[list[Item], dict[str, Any]]:
    """A page of a list read whole; the key names the first item of the next page."""
    seq = list(reversed(items)) if page.reverse else items
    start = page.offset
    if page.key:
        if not page.key.startswith(_ITEM):
            raise bad_request(
                "pagination.key came from a page read in the other order; start again without a key"
            )
        want = page.key[len(_ITEM) :]
        found = next((i for i, it in enumerate(seq) if ident(it) == want), None)
        if found is None:
            raise bad_request(
                "pagination.key names an item that is no longer in the list; start again "
                "without a key"
            )
        start = found
    chunk = seq[start : start + page.limit]
    rest = seq[start + page.limit :]
    next_key = _ITEM + ident(rest[0]) if rest else None
    return chunk, _page_json(next_key, len(seq) if page.count_total else 0)


def paginate_cursor(
    fetch: Fetch, ident: Callable[[Item], str], page: PageRequest, step: int
) -> tuple[list[Item], dict[str, Any]]:
    """A page of a list whose query has a cursor: forward pages read one page;
    ``reverse``, ``offset``, ``count_total`` and item keys read the whole list."""
    # as in the SDK, count_total is answered on the first page (a key's page ignores it)
    whole = page.reverse or page.offset or (page.count_total and not page.key)
    if whole or page.key.startswith(_ITEM):
        return paginate_all(walk(fetch, step), ident, page)
    after = page.key[len(_CURSOR) :] if page.key else ""
    items, nxt = fetch(after, page.limit)
    next_key = None
    if nxt is not None and items:
        more, _ = fetch(nxt, 1)  # the module says "maybe more" on a full page: look
        next_key = _CURSOR + nxt if more else None
    return items, _page_json(next_key, 0)
