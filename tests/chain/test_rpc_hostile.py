"""The node RPC under hostile requests: every one gets a clear JSON-RPC error (4xx
where HTTP carries the status), never a 500 for a client's mistake, and the
client's keep-alive connection stays usable after each answer.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.node import Node
from chain.rpc.methods import METHODS
from tests.chain.keepalive import KeepAlive
from tests.support.nodes import inproc_node

DEEP = "[" * 5000 + "]" * 5000


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with inproc_node(tmp_path_factory.mktemp("rpc-hostile")) as n:
        yield n


@pytest.fixture
def conn(node: Node) -> Iterator[KeepAlive]:
    c = KeepAlive(node.cfg.rpc_laddr)
    yield c
    c.close()


def call(method: str, params: Any = None, rid: Any = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}}


def error_of(conn: KeepAlive, body: Any, status: int = 200) -> dict[str, Any]:
    a = conn.post("/", body)
    assert a.status == status, (a.status, a.body[:300])
    assert b"Traceback" not in a.body
    reply = a.json()
    assert "result" not in reply, reply
    err: dict[str, Any] = reply["error"]
    return err


# (what is sent, the JSON-RPC code, words the answer must contain, HTTP status)
BAD_CALLS: list[tuple[str, Any, int, str, int]] = [
    ("abci_query data: []", call("abci_query", {"data": []}), -32602, "'data'", 200),
    ("abci_query data not hex", call("abci_query", {"data": "zz"}), -32602, "'data'", 200),
    (
        "abci_query /custom data nesting 5,000 levels",
        call("abci_query", {"path": "/custom/auth/account", "data": DEEP.encode().hex()}),
        -32602,
        "deeper than 32",
        200,
    ),
    ("prove: 'yes'", call("abci_query", {"prove": "yes"}), -32602, "'prove'", 200),
    ("height '²'", call("block", {"height": "²"}), -32602, "'height'", 200),
    ("height '٣' (Arabic-Indic 3)", call("block", {"height": "٣"}), -32602, "'height'", 200),
    ("height '1_0'", call("block", {"height": "1_0"}), -32602, "'height'", 200),
    ("height ' 1'", call("block", {"height": " 1"}), -32602, "'height'", 200),
    ("height 2**64", call("block", {"height": 2**64}), -32602, "out of range", 200),
    ("height 1.5", call("block", {"height": 1.5}), -32602, "'height'", 200),
    ("height true", call("block", {"height": True}), -32602, "'height'", 200),
    ("height []", call("block", {"height": []}), -32602, "'height'", 200),
    ("page '²'", call("tx_search", {"query": "tx.height=1", "page": "²"}), -32602, "'page'", 200),
    ("query 5", call("tx_search", {"query": 5}), -32602, "'query'", 200),
    (
        "a query of 33 conditions",
        call("tx_search", {"query": " AND ".join(["a.b=1"] * 33)}),
        -32602,
        "more than 32 conditions",
        200,
    ),
    (
        "a query of 150,000 strings",
        call("tx_search", {"query": "a.b='" * 150_000}),
        -32602,
        "longer than 8192",
        200,
    ),
    (
        "a query number of 81 digits (900,000 once took 38 s to convert, holding the GIL)",
        call("tx_search", {"query": "tx.height > " + "9" * 81}),
        -32602,
        "more than 80 characters",
        200,
    ),
    ("query {}", call("tx_search", {"query": {}}), -32602, "'query'", 200),
    ("hash 5", call("tx", {"hash": 5}), -32602, "'hash'", 200),
    ("hash of 2 bytes", call("tx", {"hash": "0xABCD"}), -32602, "32 bytes", 200),
    ("tx not base64", call("broadcast_tx_sync", {"tx": "%%%"}), -32602, "'tx'", 200),
    ("params a string", call("status", "x"), -32602, "params must be", 200),
    ("too many positions", call("block", [1, 2, 3]), -32602, "at most 1", 200),
    ("unknown argument", call("block", {"hieght": 1}), -32602, "'hieght'", 200),
    ("id an object", call("health", rid={}), -32600, "id must be", 200),
    ("id true", call("health", rid=True), -32600, "id must be", 200),
    ("method 5", {"jsonrpc": "2.0", "id": 1, "method": 5}, -32600, "no method", 200),
    ("jsonrpc 1.0", {"jsonrpc": "1.0", "id": 1, "method": "health"}, -32600, "2.0", 200),
    ("no such method", call("nope"), -32601, "status", 200),
    ("a request that is a number", 5, -32600, "JSON object", 200),
    ("id 1e999", '{"jsonrpc":"2.0","id":1e999,"method":"health"}', -32600, "1e999", 200),
    ("id NaN", '{"jsonrpc":"2.0","id":NaN,"method":"health"}', -32700, "NaN", 400),
    ("id -Infinity", '{"jsonrpc":"2.0","id":-Infinity,"method":"health"}', -32700, "", 400),
    ("height 1e999", '{"id":1,"method":"block","params":{"height":1e999}}', -32602, "1e999", 200),
    ("not JSON", "{not json", -32700, "not JSON", 400),
    ("not UTF-8", b'{"id": "\xff"}', -32700, "", 400),
    ("5,000 nested arrays", DEEP, -32600, "deeper than 32", 400),
    ("5,000 nested objects", '{"a":' * 5000 + "1" + "}" * 5000, -32600, "deeper than 32", 400),
    (
        "params nesting 5,000 levels",
        '{"id":1,"method":"block","params":' + DEEP + "}",
        -32600,
        "",
        400,
    ),
    ("empty batch", [], -32600, "empty batch", 400),
]


@pytest.mark.parametrize("case", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_each_bad_call_is_a_clear_error(conn: KeepAlive, case: tuple[Any, ...]) -> None:
    _, body, code, words, status = case
    err = error_of(conn, body, status)
    assert err["code"] == code and words in err["data"], err
    assert conn.post("/", call("health")).json()["result"] == {}


def test_one_connection_survives_every_bad_call_in_turn(conn: KeepAlive) -> None:
    for _, body, code, _, status in BAD_CALLS:
        assert error_of(conn, body, status)["code"] == code
    batch = conn.post("/", [5, call("health", rid="a"), call("block", {"height": "²"}, rid=2)])
    assert batch.status == 200
    first, ok, bad = batch.json()
    assert first["error"]["code"] == -32600 and first["id"] is None
    assert ok == {"jsonrpc": "2.0", "id": "a", "result": {}}
    assert bad["error"]["code"] == -32602 and bad["id"] == 2
    assert conn.answers == len(BAD_CALLS) + 1


def test_tx_search_takes_only_ascii_digit_heights(conn: KeepAlive) -> None:
    for height in ("²", "٣", "1" * 5000):
        a = conn.post("/", call("tx_search", {"query": f"tx.height='{height}'"}))
        assert a.json()["result"] == {"txs": [], "total_count": "0"}
    bad_time = call("tx_search", {"query": "block.time < TIME 2020-13-45T99:99:99Z"})
    err = conn.post("/", bad_time).json()["error"]
    assert err["code"] == -32602 and "RFC 3339" in err["data"]


URI_CASES = [
    ("/block?height=%C2%B2", 400, -32602),
    ("/block?height=1e999", 400, -32602),
    ("/abci_query?data=%5B%5D", 400, -32602),
    ("/tx?hash=0x12", 400, -32602),
    ("/tx?hash=0x" + "00" * 32, 404, -32603),  # CometBFT's code for "not found"
    ("/nope", 404, -32601),
    ("/tx_search?query=%22tx.height%3D%27%C2%B2%27%22", 200, 0),
]


def test_uri_form_answers_4xx_for_client_mistakes(conn: KeepAlive) -> None:
    for path, status, code in URI_CASES:
        a = conn.get(path)
        assert a.status == status, (path, a.body[:200])
        if code:
            assert a.json()["error"]["code"] == code, path
    assert conn.get("/health").json()["result"] == {}


def test_a_bug_is_a_logged_500_with_a_request_id_and_no_traceback(
    conn: KeepAlive, node: Node, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(raw: bytes) -> Any:
        raise RuntimeError("secret detail of the bug")

    monkeypatch.setattr(node.mempool, "check_and_add", broken)
    tx = base64.b64encode(b"\x0a\x00").decode()
    with caplog.at_level(logging.ERROR):
        err = error_of(conn, call("broadcast_tx_sync", {"tx": tx}))
        assert err["code"] == -32603 and "request id" in err["data"]
        assert "secret" not in err["data"]
        rid = err["data"].split("request id ")[1].split(")")[0]
        # in a batch, the other calls are still answered
        commit = call("broadcast_tx_commit", {"tx": tx}, rid=1)
        failed, ok = conn.post("/", [commit, call("health", rid=2)]).json()
        assert failed["error"]["code"] == -32603 and "request id" in failed["error"]["data"]
        assert ok["result"] == {}
        uri = conn.get("/broadcast_tx_sync?tx=0x0a00")
        assert uri.status == 500 and b"secret" not in uri.body
        assert uri.headers["x-request-id"] in uri.json()["error"]["data"]

        # below the method layer: the server's last-resort answer
        def render() -> bytes:
            raise RuntimeError("secret detail of the bug")

        monkeypatch.setattr(node.metrics, "render", render)
        m = conn.get("/metrics")
        assert m.status == 500 and b"secret" not in m.body and b"Traceback" not in m.body
        assert m.headers["x-request-id"] in m.json()["error"]["data"]
    logged = {getattr(r, "request_id", None) for r in caplog.records if r.exc_info}
    assert {rid, uri.headers["x-request-id"], m.headers["x-request-id"]} <= logged
    assert conn.post("/", call("health")).json()["result"] == {}


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
NAMES = sorted({*METHODS, "broadcast_tx_async", "subscribe", "nope"} - {"broadcast_tx_commit"})
PARAM_NAMES = sorted({p.name for _, spec in METHODS.values() for p in spec} | {"x"})
HYPO = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _usable(conn: KeepAlive, a: Any) -> None:
    assert a.status < 500, a.body[:300]
    assert b"Traceback" not in a.body
    json.loads(a.body)
    assert conn.post("/", call("health")).status == 200


@HYPO
@given(body=JSON)
def test_any_json_body_is_answered_without_500(conn: KeepAlive, body: Any) -> None:
    _usable(conn, conn.post("/", json.dumps(body)))


@HYPO
@given(
    method=st.sampled_from(NAMES),
    params=st.dictionaries(st.sampled_from(PARAM_NAMES), JSON, max_size=4)
    | st.lists(JSON, max_size=6),
    rid=JSON,
)
def test_any_params_of_any_method_are_answered_without_500(
    conn: KeepAlive, method: str, params: Any, rid: Any
) -> None:
    _usable(conn, conn.post("/", {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}))


@HYPO
@given(raw=st.binary(max_size=200))
def test_any_bytes_are_answered_without_500(conn: KeepAlive, raw: bytes) -> None:
    _usable(conn, conn.post("/", raw))


@HYPO
@given(
    method=st.sampled_from(NAMES),
    query=st.dictionaries(st.sampled_from(PARAM_NAMES), st.text(max_size=30), max_size=3),
)
def test_any_uri_query_is_answered_without_500(
    conn: KeepAlive, method: str, query: dict[str, str]
) -> None:
    from urllib.parse import urlencode

    _usable(conn, conn.get(f"/{method}?{urlencode(query)}"))


@HYPO
@given(
    messages=st.lists(
        st.builds(
            lambda m, p, r: json.dumps({"jsonrpc": "2.0", "id": r, "method": m, "params": p}),
            st.sampled_from([*NAMES, "unsubscribe", "unsubscribe_all"]),
            st.dictionaries(st.sampled_from([*PARAM_NAMES, "query"]), JSON, max_size=3),
            st.integers(0, 1000),
        )
        | JSON.map(json.dumps),
        min_size=1,
        max_size=5,
    )
)
def test_any_websocket_message_gets_an_answer_and_the_socket_stays(
    node: Node, messages: list[str]
) -> None:
    from websockets.sync.client import connect

    with connect(f"ws://{node.cfg.rpc_laddr}/websocket") as ws:
        for text in messages:
            ws.send(text)
            reply = json.loads(ws.recv(timeout=10))
            assert "result" in reply or reply["error"]["code"] != -32603, reply
        ws.send(json.dumps(call("health", rid="last")))
        while (reply := json.loads(ws.recv(timeout=10))).get("id") != "last":
            pass  # events of a subscription a message may have made
        assert reply["result"] == {}
