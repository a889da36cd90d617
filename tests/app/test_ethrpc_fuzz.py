"""Hostile input to the Ethereum JSON-RPC, over HTTP (``jsonrpc_laddr``) and the websocket
(``jsonrpc_ws_laddr``): malformed JSON, wrong types, huge numbers, deep nesting, 10 MB
bodies, unknown methods, and every method with garbage parameters, by hand and by
hypothesis.

Each gets a JSON-RPC error (or, for parameters that happen to be valid, a result):
never -32603 (the node's own bug), never an HTTP 500 or a traceback, never a hung
connection (every read has a client timeout). One node in this process serves the
module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from app.ethrpc.methods import EthApi
from app.node import Node
from tests.support.nodes import free_port, inproc_node

TIMEOUT = 30.0
CLIENT_ERRORS = {-32700, -32600, -32601, -32602, -32000, -32005, 3}
HYPO = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with inproc_node(
        tmp_path_factory.mktemp("ethfuzz"), jsonrpc_ws_laddr=f"127.0.0.1:{free_port()}"
    ) as n:
        yield n


@pytest.fixture(scope="module")
def http(node: Node) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{node.cfg.jsonrpc_laddr}", timeout=TIMEOUT) as c:
        yield c


@pytest.fixture(scope="module")
def ws(node: Node) -> Iterator[ClientConnection]:
    with connect(f"ws://{node.cfg.jsonrpc_ws_laddr}", max_size=None, open_timeout=TIMEOUT) as c:
        yield c


@pytest.fixture(scope="module")
def methods(node: Node) -> list[str]:
    return sorted(EthApi(node).methods)


def check_reply(r: Any) -> None:
    """One JSON-RPC reply: a result, or an error a client caused."""
    assert isinstance(r, dict) and r.get("jsonrpc") == "2.0", r
    if "error" in r:
        err = r["error"]
        assert err["code"] in CLIENT_ERRORS, r
        assert isinstance(err["message"], str) and "Traceback" not in err["message"], r
    else:
        assert "result" in r, r


def check_body(body: bytes) -> None:
    """An answer: a reply, a batch of replies, or nothing (notifications)."""
    if not body:
        return
    out = json.loads(body)
    for r in out if isinstance(out, list) else [out]:
        check_reply(r)


def post(http: httpx.Client, body: bytes) -> bytes:
    r = http.post("/", content=body, headers={"content-type": "application/json"})
    assert r.status_code in (200, 413), (r.status_code, r.text[:300])
    assert "Traceback" not in r.text
    if r.status_code == 413:
        check_reply(r.json())
    return r.content


def ws_send(ws: ClientConnection, body: bytes | str, expect_answer: bool = True) -> bytes:
    if isinstance(body, bytes):
        try:
            body = body.decode()  # a text message when it is UTF-8, else a binary one
        except UnicodeDecodeError:
            pass
    ws.send(body)
    if not expect_answer:
        # nothing comes for notifications: a ping round trip proves the socket lives
        ws.ping().wait(TIMEOUT)
        return b""
    got = ws.recv(timeout=TIMEOUT)
    return got.encode() if isinstance(got, str) else got


def both(http: httpx.Client, ws: ClientConnection, body: bytes, same: bool = False) -> None:
    """``body`` over HTTP and over the websocket; ``same``: both answer the same codes."""
    h = post(http, body)
    check_body(h)
    w = ws_send(ws, body, expect_answer=bool(h))
    check_body(w)
    if same and h and w:  # the websocket answers as HTTP does (ids and error codes)
        hj, wj = json.loads(h), json.loads(w)
        hs = hj if isinstance(hj, list) else [hj]
        wsr = wj if isinstance(wj, list) else [wj]
        assert [x.get("id") for x in hs] == [x.get("id") for x in wsr]
        codes = [x.get("error", {}).get("code") for x in hs]
        assert codes == [x.get("error", {}).get("code") for x in wsr]


def req(method: Any, params: Any = None, rid: Any = 1, **extra: Any) -> bytes:
    d: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method, **extra}
    if params is not None:
        d["params"] = params
    return json.dumps(d).encode()


# -- by hand ------------------------------------------------------------------------------------
MALFORMED = [
    b"",
    b"{",
    b"nul",
    b"[1,",
    b"\xff\xfe\x00",
    b'{"jsonrpc":"2.0"',
    b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId",}',
    b'{"jsonrpc":"2.0","id":NaN,"method":"eth_chainId"}',
    b'{"jsonrpc":"2.0","id":Infinity,"method":"eth_chainId"}',
    b'{"jsonrpc":"2.0","id":1e999,"method":"eth_chainId"}',
    b'{"jsonrpc":"2.0","id":1,"id":2,"method":"eth_chainId"}',
    b"123",
    b'"a string"',
    b"null",
    b"true",
    b"[]",
    b"[[]]",
    b"[1,2,3]",
    b'"\\ud800"',
    b'{"jsonrpc":"2.0","id":"\\ud800","method":"eth_chainId"}',
]
WRONG_TYPES = [
    req("eth_chainId", rid={"a": 1}),
    req("eth_chainId", rid=[1]),
    req("eth_chainId", rid=True),
    req(5),
    req(None),
    req(["eth_chainId"]),
    req("eth_chainId", params={"a": 1}),
    req("eth_chainId", params="x"),
    req("eth_chainId", params=5),
    json.dumps({"jsonrpc": "1.0", "id": 1, "method": "eth_chainId"}).encode(),
    json.dumps({"id": 1, "method": "eth_chainId"}).encode(),
    json.dumps({"jsonrpc": 2.0, "id": 1, "method": "eth_chainId"}).encode(),
]
HUGE = [
    req("eth_getBalance", ["0x" + "00" * 20, "0x" + "f" * 10_000]),
    req("eth_getBlockByNumber", [10**400, False]),
    req("eth_getBlockByNumber", ["0x" + "f" * 64, False]),
    req("eth_feeHistory", ["0x" + "f" * 100, "latest", [50]]),
    req("eth_feeHistory", [10**30, "latest", [1e308, 1e-308]]),
    req("eth_getStorageAt", ["0x" + "00" * 20, "0x" + "1" * 65, "latest"]),
    req("eth_chainId", rid=10**400),
    req("eth_chainId", rid="x" * 100_000),
    req("eth_getLogs", [{"fromBlock": "0x0", "toBlock": "0x" + "f" * 15}]),
    req("eth_call", [{"to": "0x" + "00" * 20, "value": "0x" + "f" * 64, "gas": "0x" + "f" * 16}]),
    req("eth_estimateGas", [{"data": "0x" + "00" * 200_000}]),
    req("eth_getProof", ["0x" + "00" * 20, ["0x" + "f" * 64] * 2000]),
    req("eth_getTransactionByBlockNumberAndIndex", ["latest", "0x" + "f" * 64]),
]
# bugs this test found (fixed in app/ethrpc/methods.py): an access list whose
# storageKeys is not an array crashed the intrinsic gas count (-32603)
FOUND = [
    req(m, [{"accessList": [{"storageKeys": k}]}])
    for m in ("eth_call", "eth_estimateGas")
    for k in (5, {"a": 1}, "0x00", True)
]
UNKNOWN = [
    req("eth_foo"),
    req(""),
    req("x" * 100_000),
    req("\u0000\uffff"),
    req("eth_subscribe_not"),
    req("rpc.discover"),
]


def _deep(n: int) -> bytes:
    return (
        b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[' + b"[" * n + b"]" * n + b"]}"
    )


def test_malformed_json_wrong_types_huge_numbers_and_unknown_methods(
    http: httpx.Client, ws: ClientConnection
) -> None:
    for body in MALFORMED + WRONG_TYPES + HUGE + UNKNOWN:
        both(http, ws, body, same=True)
    for body in FOUND:
        r = json.loads(post(http, body))
        assert r["error"]["code"] == -32602 and "storageKeys" in r["error"]["message"], r


def test_deep_nesting(http: httpx.Client, ws: ClientConnection) -> None:
    for n in (31, 32, 33, 1_000, 200_000):
        both(http, ws, _deep(n), same=True)
    for body in (b"[" * 100_000, b'{"a":' * 50_000, b"[" * 50_000 + b"]" * 50_000):
        both(http, ws, body, same=True)
    nested_params = req("eth_getLogs", [{"address": [[[[[[[["0x" + "00" * 20]]]]]]]]}])
    both(http, ws, nested_params)


def test_ten_megabyte_bodies_are_refused_and_the_connections_live_on(
    node: Node, http: httpx.Client, ws: ClientConnection
) -> None:
    limit = node.cfg.jsonrpc_max_body_bytes
    for body in (
        req("eth_chainId", ["x" * 10_000_000]),
        b"[" + b",".join([req("eth_chainId")] * 200_000) + b"]",
        b" " * 10_000_000,
    ):
        assert len(body) > limit
        r = http.post("/", content=body)
        assert r.status_code == 413 and r.json()["error"]["code"] == -32600
        got = json.loads(ws_send(ws, body))
        assert (
            got["error"]["code"] == -32600 and "jsonrpc_max_body_bytes" in got["error"]["message"]
        )
    # both still answer
    assert http.post("/", content=req("eth_chainId")).json()["result"] == "0x5643"
    assert json.loads(ws_send(ws, req("eth_chainId")))["result"] == "0x5643"


GARBAGE: list[Any] = [
    None,
    True,
    0,
    -1,
    2**256,
    1.5,
    1e308,
    "",
    "0x",
    "0x0",
    "0xzz",
    "latest",
    "pending",
    "earliest",
    "0x" + "00" * 20,
    "0x" + "ff" * 32,
    "0x" + "f" * 65,
    "\x00",
    "\ud800",
    [],
    [None],
    [[[]]],
    {},
    {"blockHash": "0x" + "00" * 32},
    {"blockNumber": "0x1"},
    {"to": "0x" + "00" * 20, "data": "0x00"},
    {"address": 5, "topics": [[None, 5]]},
    {"fromBlock": "earliest", "toBlock": "latest"},
]


def test_every_method_with_garbage_parameters(
    http: httpx.Client, ws: ClientConnection, methods: list[str]
) -> None:
    shapes: list[list[Any]] = [[]]
    shapes += [[g] for g in GARBAGE]
    shapes += [[g, g] for g in GARBAGE]
    shapes += [["0x" + "00" * 20, g] for g in GARBAGE]
    shapes += [[g, "latest", g] for g in GARBAGE[:12]]
    shapes += [[None] * 5]
    for m in [*methods, "eth_subscribe", "eth_unsubscribe"]:
        batch = [
            {"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, p in enumerate(shapes)
        ]
        for i in range(0, len(batch), 100):  # jsonrpc_max_batch_requests
            body = json.dumps(batch[i : i + 100]).encode()
            h = post(http, body)
            check_body(h)
            check_body(ws_send(ws, body))


# -- by hypothesis ------------------------------------------------------------------------------
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**300), max_value=2**300)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=80)
    | st.from_regex(r"0x[0-9a-fA-F]{0,70}", fullmatch=True)
    | st.sampled_from(["latest", "pending", "earliest", "safe", "finalized"]),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=4)
    ),
    max_leaves=12,
)
KEYS = st.sampled_from(
    [
        "address",
        "topics",
        "fromBlock",
        "toBlock",
        "blockHash",
        "to",
        "from",
        "data",
        "input",
        "value",
        "gas",
        "accessList",
        "blockNumber",
    ]
)
ACCESS = st.lists(
    st.dictionaries(st.sampled_from(["address", "storageKeys"]), JSON, max_size=2), max_size=3
)
OBJECTS = st.dictionaries(KEYS, JSON | ACCESS, max_size=5)


@st.composite
def requests(draw: st.DrawFn, methods: list[str]) -> bytes:
    method = draw(
        st.sampled_from([*methods, "eth_subscribe", "eth_unsubscribe"]) | st.text(max_size=20)
    )
    params = draw(st.lists(JSON | OBJECTS, max_size=4) | JSON)
    d: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
    if draw(st.booleans()):
        d["id"] = draw(st.integers(0, 2**64) | st.text(max_size=10) | st.none())
    if draw(st.integers(0, 9)) == 0:
        return json.dumps([d, d]).encode()
    return json.dumps(d).encode()


@HYPO
@given(data=st.data())
def test_random_requests_over_http_and_the_websocket(
    http: httpx.Client, ws: ClientConnection, methods: list[str], data: st.DataObject
) -> None:
    body = data.draw(requests(methods))
    both(http, ws, body)


@HYPO
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_random_bytes_over_http_and_the_websocket(
    http: httpx.Client, ws: ClientConnection, raw: bytes
) -> None:
    both(http, ws, raw)
