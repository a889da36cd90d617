"""No module route (app/rest) answers a 500 to bad input: each path and query
parameter of every ``/vcoin/…`` route in /openapi.json is given hostile values, and
each answer is a 200 or a 4xx in the gateway's ``{code, message, details}``."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.support.nodes import inproc_node

HOSTILE = [
    "%00",
    "x" * 3000,
    "0x",
    "0X" + "G" * 40,
    "-1",
    "1e9",
    "\u0661\u0662",
    "null",
    "..",
    "vcoin1",
    "9" * 90,
    "%F0%9F%92%A9",
    "'; DROP TABLE jobs; --",
]


@pytest.fixture(scope="module")
def rest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with inproc_node(tmp_path_factory.mktemp("hostile"), jsonrpc_laddr="") as node:
        with httpx.Client(base_url=f"http://{node.cfg.rest_laddr}", timeout=30) as c:
            yield c


def test_no_route_answers_a_500_to_hostile_values(rest: httpx.Client) -> None:
    seen = 0
    for template, item in rest.get("/openapi.json").json()["paths"].items():
        if not template.startswith("/vcoin/"):
            continue
        query = [p["name"] for p in item["get"].get("parameters", []) if p["in"] == "query"]
        plain = re.sub(r"{\w+}", "1", template)
        for value in HOSTILE:
            path = re.sub(r"{\w+}", "\x00", template).replace("\x00", value)
            for url in [path] + [f"{plain}?{q}={value}" for q in query]:
                r = rest.get(url)
                seen += 1
                assert r.status_code < 500, (url[:200], r.status_code, r.text[:300])
                if r.status_code >= 400:
                    assert set(r.json()) == {"code", "message", "details"}, url[:200]
    assert seen > 500
