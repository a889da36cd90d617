"""The Cosmos REST API under hostile requests: a gateway-shaped 4xx for every client
mistake, 413 over ``rest_max_body_bytes``, a logged 500 with a request id only
for a bug, and the keep-alive connection usable after each answer."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.node import Node
from chain.artifact_auth import artifact_token
from genesis.devnet import dev_key
from tests.chain.keepalive import Answer, KeepAlive
from tests.support.nodes import inproc_node

TX = "/cosmos/tx/v1beta1"
TM = "/cosmos/base/tendermint/v1beta1"
BANK = "/cosmos/bank/v1beta1"
DEEP = "[" * 5000 + "]" * 5000


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with inproc_node(tmp_path_factory.mktemp("rest-hostile"), rest_max_body_bytes=100_000) as n:
        yield n


@pytest.fixture
def conn(node: Node) -> Iterator[KeepAlive]:
    c = KeepAlive(node.cfg.rest_laddr)
    yield c
    c.close()


def gateway_error(a: Answer, status: int) -> str:
    assert a.status == status, (a.status, a.body[:300])
    assert b"Traceback" not in a.body
    err = a.json()
    assert set(err) == {"code", "message", "details"}, err
    message: str = err["message"]
    return message


# (what is asked, method, path, body, HTTP status, words the message must contain)
BAD: list[tuple[str, str, str, Any, int, str]] = [
    ("height '²'", "GET", f"{TM}/blocks/{quote('²')}", None, 400, "height"),
    ("height '٣'", "GET", f"{TM}/blocks/{quote('٣')}", None, 400, "height"),
    ("height 2**64", "GET", f"{TM}/blocks/{2**64}", None, 400, "height"),
    ("page '²'", "GET", f"{TX}/txs?query=a.b%3D1&page={quote('²')}", None, 400, "page"),
    ("limit 1e999", "GET", f"{TX}/txs?query=a.b%3D1&limit=1e999", None, 400, "limit"),
    ("tx hash '²'", "GET", f"{TX}/txs/{quote('²')}", None, 400, "64 hex digits"),
    ("tx hash with spaces", "GET", f"{TX}/txs/{'ab%20' * 16}", None, 400, "64 hex digits"),
    (
        "query with a bad time",
        "GET",
        f"{TX}/txs?query=a.b%3CTIME%202020-13-45T99:99:99Z",
        None,
        400,
        "RFC 3339",
    ),
    ("event without '='", "GET", f"{TX}/txs?events=nothing", None, 400, "must look like"),
    ("address '%00'", "GET", f"{BANK}/balances/%00", None, 400, "bech32"),
    ("body not JSON", "POST", f"{TX}/simulate", b"{not json", 400, "not JSON"),
    ("body NaN", "POST", f"{TX}/txs", b'{"mode": NaN}', 400, "NaN"),
    ("body 5,000 nested arrays", "POST", f"{TX}/simulate", DEEP, 400, "deeper than 32"),
    ("body an array", "POST", f"{TX}/txs", "[]", 400, "JSON object"),
    ("tx_bytes a number", "POST", f"{TX}/txs", {"tx_bytes": 5}, 400, "tx_bytes"),
    ("mode 1e999", "POST", f"{TX}/txs", b'{"tx_bytes": "AA==", "mode": 1e999}', 400, "mode"),
    (
        "a message of an unknown type",
        "POST",
        f"{TX}/simulate",
        {"tx": {"body": {"messages": [{"@type": "/x.Y"}]}}},
        400,
        "SimulateRequest",
    ),
    (
        "amount of the wrong type",
        "POST",
        f"{TX}/simulate",
        {"tx": {"body": {"messages": [{"@type": "/cosmos.bank.v1beta1.MsgSend", "amount": 5}]}}},
        400,
        "SimulateRequest",
    ),
    ("body over the limit", "POST", f"{TX}/txs", b" " * 200_000, 413, "rest_max_body_bytes"),
    ("no such route", "GET", "/cosmos/nothing", None, 404, "no route"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_each_bad_request_is_a_gateway_4xx(conn: KeepAlive, case: tuple[Any, ...]) -> None:
    _, method, path, body, status, words = case
    a = conn.post(path, body) if method == "POST" else conn.get(path)
    assert words in gateway_error(a, status)
    assert conn.get(f"{TM}/syncing").json() == {"syncing": False}


def test_one_connection_survives_every_bad_request_in_turn(conn: KeepAlive) -> None:
    for _, method, path, body, status, _ in BAD:
        a = conn.post(path, body) if method == "POST" else conn.get(path)
        gateway_error(a, status)
    found = conn.get(f"{TX}/txs?query=tx.height%3D%27{quote('²')}%27").json()
    assert found["total"] == "0" and found["txs"] == []


def test_artifact_uploads_keep_their_own_limit(conn: KeepAlive) -> None:
    blob = b"x" * 300_000  # over rest_max_body_bytes, under artifact_max_bytes
    digest = hashlib.sha256(blob).hexdigest()
    token = artifact_token(dev_key("alice"), "put", digest)
    headers = {
        "Content-Type": "application/octet-stream",
        "Authorization": f"VCoin-Artifact {token}",
    }
    a = conn.request("PUT", f"/artifacts/{digest}", blob, headers)
    assert a.status == 201, a.body
    read = artifact_token(dev_key("alice"), "get", digest)
    assert len(conn.get(f"/artifacts/{digest}?token={read}").body) == len(blob)


def test_a_bug_is_a_logged_500_with_a_request_id(
    conn: KeepAlive, node: Node, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(raw: bytes) -> Any:
        raise RuntimeError("secret detail of the bug")

    monkeypatch.setattr(node.mempool, "check_and_add", broken)
    with caplog.at_level(logging.ERROR):
        a = conn.post(f"{TX}/txs", {"tx_bytes": "CgA=", "mode": "BROADCAST_MODE_SYNC"})
    message = gateway_error(a, 500)
    assert a.json()["code"] == 13 and "secret" not in message
    rid = a.headers["x-request-id"]
    assert f"request id {rid}" in message
    assert any(getattr(r, "request_id", None) == rid and r.exc_info for r in caplog.records)
    assert conn.get(f"{TM}/syncing").status == 200


# -- properties ------------------------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = ["tx_bytes", "mode", "tx", "body", "messages", "@type", "auth_info", "signatures"]
HYPO = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
GETS = [
    f"{TM}/blocks/{{}}",
    f"{TX}/txs/{{}}",
    f"{TX}/txs?query={{}}",
    f"{TX}/txs?events={{}}&page={{}}",
    f"{BANK}/balances/{{}}",
    f"{BANK}/balances/{{}}/by_denom?denom={{}}",
    f"{BANK}/supply/{{}}",
    "/cosmos/auth/v1beta1/accounts/{}",
    "/cosmos/auth/v1beta1/account_info/{}",
]


def _usable(conn: KeepAlive, a: Answer) -> None:
    assert a.status < 500, a.body[:300]
    assert b"Traceback" not in a.body
    if a.status not in (307, 308):  # a trailing "/" (an encoded one too) is redirected
        json.loads(a.body)
    assert conn.get(f"{TM}/syncing").status == 200


@HYPO
@given(
    path=st.sampled_from([f"{TX}/simulate", f"{TX}/txs"]),
    body=JSON | st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=4),
)
def test_any_json_body_is_answered_without_500(conn: KeepAlive, path: str, body: Any) -> None:
    _usable(conn, conn.post(path, json.dumps(body)))


@HYPO
@given(
    route=st.sampled_from(GETS),
    values=st.lists(st.text(min_size=1, max_size=40), min_size=2, max_size=2),
)
def test_any_path_or_query_value_is_answered_without_500(
    conn: KeepAlive, route: str, values: list[str]
) -> None:
    path = route.format(*(quote(v, safe="") for v in values))
    _usable(conn, conn.get(path))
