"""The node RPC against a real in-process node: CometBFT v0.38 shapes, tx_search,
broadcast_tx_commit, websocket subscriptions, proofs and errors."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from app.node import Node
from chain.client import NodeClient, TxResponse
from chain.crypto import PrivateKey
from chain.rpc import methods as rpc_methods
from chain.rpc.query import QueryError, parse
from chain.store import StoreProof, verify_proof
from genesis.devnet import dev_key
from modules.bank import keys as bank_keys
from tests.support.chain import msg_send
from tests.support.nodes import inproc_node

ALICE, BOB = dev_key("alice"), dev_key("bob")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
HEX64 = re.compile(r"^[0-9A-F]{64}$")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with inproc_node(tmp_path_factory.mktemp("rpc")) as n:
        yield n


@pytest.fixture(scope="module")
def url(node: Node) -> str:
    return f"http://{node.cfg.rpc_laddr}"


@pytest.fixture(scope="module")
def client(url: str) -> Iterator[NodeClient]:
    with NodeClient(url) as c:
        yield c


def rpc(url: str, method: str, params: Any = None) -> dict[str, Any]:
    """A JSON-RPC call; returns the whole reply (result or error)."""
    body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": params or {}}
    r = httpx.post(url, json=body, timeout=30)
    assert r.status_code == 200, r.text
    reply: dict[str, Any] = r.json()
    assert reply["jsonrpc"] == "2.0" and reply["id"] == 7
    return reply


def result(url: str, method: str, params: Any = None) -> dict[str, Any]:
    reply = rpc(url, method, params)
    assert "error" not in reply, reply
    out: dict[str, Any] = reply["result"]
    return out


def error(url: str, method: str, params: Any = None) -> dict[str, Any]:
    reply = rpc(url, method, params)
    assert "result" not in reply, reply
    out: dict[str, Any] = reply["error"]
    return out


def send(client: NodeClient, frm: PrivateKey, to: PrivateKey | str, amount: int) -> TxResponse:
    return client.send_tx(frm, [msg_send(frm, to, amount)], mode="commit")


# -- info methods ------------------------------------------------------------------


def test_status_has_cometbft_shape_and_agrees_with_block(url: str) -> None:
    s = result(url, "status")
    assert s["node_info"]["network"] == "vcoin-devnet-1"
    assert s["node_info"]["version"].startswith("0.38.")
    sync = s["sync_info"]
    assert sync["catching_up"] is False
    height = sync["latest_block_height"]
    assert height.isdigit() and int(height) >= 1
    assert RFC3339.match(sync["latest_block_time"])
    assert HEX64.match(sync["latest_block_hash"]) and HEX64.match(sync["latest_app_hash"])
    blk = result(url, "block", {"height": height})
    assert blk["block_id"]["hash"] == sync["latest_block_hash"]
    assert blk["block"]["header"]["app_hash"] == sync["latest_app_hash"]
    assert blk["block"]["header"]["time"] == sync["latest_block_time"]
    assert s["validator_info"]["pub_key"]["type"] == "tendermint/PubKeyEd25519"
    assert s["validator_info"]["voting_power"].isdigit()


def test_small_info_methods(url: str, node: Node) -> None:
    assert result(url, "health") == {}
    assert result(url, "net_info")["n_peers"] == "0"
    assert result(url, "genesis")["genesis"]["chain_id"] == "vcoin-devnet-1"
    v = result(url, "validators")
    assert (
        v["count"] == "1"
        and v["validators"][0]["address"] == result(url, "status")["validator_info"]["address"]
    )
    n = result(url, "num_unconfirmed_txs")
    assert set(n) == {"n_txs", "total", "total_bytes", "txs"} and n["n_txs"].isdigit()
    info = result(url, "abci_info")["response"]
    assert info["data"] == "vcoin" and info["last_block_height"].isdigit()
    with node.lock:
        committed = node.app.info()
    assert int(info["last_block_height"]) >= committed.last_block_height - 1
    metrics = httpx.get(url + "/metrics").text
    assert "vcoin_block_height" in metrics and "vcoin_mempool_txs" in metrics


def test_uri_form_and_jsonrpc_forms_agree(url: str) -> None:
    by_name = result(url, "block", {"height": "1"})
    by_position = result(url, "block", ["1"])
    by_number = result(url, "block", {"height": 1})
    uri = httpx.get(url + "/block", params={"height": "1"}).json()
    assert uri["result"] == by_name == by_position == by_number
    assert by_name["block"]["header"]["height"] == "1"
    assert by_name["block"]["last_commit"]["height"] == "0"
    batch = httpx.post(
        url,
        json=[
            {"jsonrpc": "2.0", "id": 1, "method": "health"},
            {"jsonrpc": "2.0", "id": 2, "method": "nope"},
        ],
    ).json()
    assert batch[0]["result"] == {} and batch[1]["error"]["code"] == -32601


# -- txs -----------------------------------------------------------------------------


def test_broadcast_tx_commit_then_tx_block_and_results(url: str, client: NodeClient) -> None:
    to = PrivateKey.from_seed(b"rpc-commit-recipient")
    raw = client.build_tx(ALICE, [msg_send(ALICE, to, 1234)])
    r = result(url, "broadcast_tx_commit", {"tx": base64.b64encode(raw).decode()})
    txhash = hashlib.sha256(raw).hexdigest().upper()
    assert r["hash"] == txhash
    assert r["check_tx"]["code"] == 0 and r["tx_result"]["code"] == 0, r
    height = r["height"]
    assert height.isdigit() and int(height) > 0
    assert r["tx_result"]["gas_used"].isdigit()
    recipients = [
        a["value"]
        for e in r["tx_result"]["events"]
        if e["type"] == "transfer"
        for a in e["attributes"]
        if a["key"] == "recipient"
    ]
    assert to.bech32 in recipients

    t = result(url, "tx", {"hash": base64.b64encode(bytes.fromhex(txhash)).decode()})
    assert t["hash"] == txhash and t["height"] == height and isinstance(t["index"], int)
    assert base64.b64decode(t["tx"]) == raw
    assert t["tx_result"] == r["tx_result"]
    # the URI form takes the hash as 0x-hex
    assert httpx.get(url + "/tx", params={"hash": "0x" + txhash}).json()["result"] == t

    blk = result(url, "block", {"height": height})
    assert base64.b64encode(raw).decode() in blk["block"]["data"]["txs"]
    res = result(url, "block_results", {"height": height})
    assert res["height"] == height
    assert res["txs_results"][t["index"]] == r["tx_result"]
    # block_results' app hash is the state after the block; the next header carries it
    assert _wait_height(url, int(height) + 1)
    nxt = result(url, "block", {"height": str(int(height) + 1)})
    assert base64.b64decode(res["app_hash"]).hex().upper() == nxt["block"]["header"]["app_hash"]


def _wait_height(url: str, h: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if int(result(url, "status")["sync_info"]["latest_block_height"]) >= h:
            return True
        time.sleep(0.1)
    return False


def test_refused_tx_reports_check_tx_code_and_no_height(url: str, client: NodeClient) -> None:
    acc = client.account(ALICE.bech32)
    assert acc is not None
    stale = client.build_tx(ALICE, [msg_send(ALICE, BOB, 1)], sequence=acc.sequence + 5)
    r = result(url, "broadcast_tx_commit", {"tx": base64.b64encode(stale).decode()})
    assert r["check_tx"]["code"] == 32 and r["check_tx"]["codespace"] == "sdk"
    assert "sequence" in r["check_tx"]["log"]
    assert r["height"] == "0"
    sync = result(url, "broadcast_tx_sync", {"tx": base64.b64encode(b"\x0a\x01junk").decode()})
    assert sync["code"] != 0 and sync["log"] and HEX64.match(sync["hash"])


def test_broadcast_tx_sync_then_found_by_hash(url: str, client: NodeClient) -> None:
    raw = client.build_tx(BOB, [msg_send(BOB, ALICE, 77)])
    r = result(url, "broadcast_tx_sync", {"tx": base64.b64encode(raw).decode()})
    assert r["code"] == 0 and r["hash"] == hashlib.sha256(raw).hexdigest().upper()
    got = client.wait_tx(r["hash"], timeout=15)
    assert got.ok and got.height > 0


def test_broadcast_tx_async_returns_at_once_and_the_tx_lands(url: str, client: NodeClient) -> None:
    raw = client.build_tx(ALICE, [msg_send(ALICE, BOB, 3)])
    r = result(url, "broadcast_tx_async", {"tx": base64.b64encode(raw).decode()})
    assert r == {
        "code": 0,
        "data": "",
        "log": "",
        "codespace": "",
        "hash": hashlib.sha256(raw).hexdigest().upper(),
    }
    assert client.wait_tx(r["hash"], timeout=15).ok


def test_unconfirmed_txs_lists_the_mempool(url: str, node: Node, client: NodeClient) -> None:
    raw = client.build_tx(ALICE, [msg_send(ALICE, BOB, 4)])
    with node.lock:  # holds block production, so the tx stays in the mempool meanwhile
        assert node.mempool.check_and_add(raw).ok
        counted = result(url, "num_unconfirmed_txs")  # served without the node lock
        # unconfirmed_txs reads the mempool under the (reentrant) node lock: call it here
        listed = rpc_methods.unconfirmed_txs(node, 10)
    assert counted["n_txs"] == listed["n_txs"] == "1"
    assert counted["total_bytes"] == listed["total_bytes"] == str(len(raw))
    assert listed["txs"] == [base64.b64encode(raw).decode()]
    assert client.wait_tx(hashlib.sha256(raw).hexdigest(), timeout=15).ok
    assert result(url, "unconfirmed_txs")["n_txs"] == "0"


def test_tx_search_queries_paging_and_order(url: str, client: NodeClient) -> None:
    sender = PrivateKey.from_seed(b"rpc-search-sender")
    to = PrivateKey.from_seed(b"rpc-search-recipient")
    send(client, ALICE, sender, 10**18)
    sent = [send(client, sender, to, 1000 + i) for i in range(3)]
    heights = [s.height for s in sent]

    def search(query: str, **kw: Any) -> dict[str, Any]:
        return result(url, "tx_search", {"query": query, **kw})

    by_recipient = search(f"transfer.recipient='{to.bech32}'")
    assert by_recipient["total_count"] == "3"
    assert [t["hash"] for t in by_recipient["txs"]] == [s.hash for s in sent]
    by_sender = search(f"message.sender='{sender.bech32}'")
    assert by_sender["total_count"] == "3"
    one = search(f"tx.hash='{sent[1].hash}'")
    assert [t["hash"] for t in one["txs"]] == [sent[1].hash]
    at_height = search(f"tx.height={heights[0]}")
    assert sent[0].hash in [t["hash"] for t in at_height["txs"]]
    assert all(t["height"] == str(heights[0]) for t in at_height["txs"])
    # a height range alone (read block by block, empty blocks skipped): every tx in it
    span = search(f"tx.height>={heights[0] - 3} AND tx.height<={heights[-1]}", per_page="100")
    assert {s.hash for s in sent} <= {t["hash"] for t in span["txs"]}
    assert all(heights[0] - 3 <= int(t["height"]) <= heights[-1] for t in span["txs"])
    later = search(f"transfer.recipient='{to.bech32}' AND tx.height>{heights[0]}")
    assert [t["hash"] for t in later["txs"]] == [s.hash for s in sent if s.height > heights[0]]
    page2 = search(f"transfer.recipient='{to.bech32}'", page="2", per_page="1")
    assert page2["total_count"] == "3" and [t["hash"] for t in page2["txs"]] == [sent[1].hash]
    desc = search(f"transfer.recipient='{to.bech32}'", order_by="desc")
    assert [t["hash"] for t in desc["txs"]] == [s.hash for s in reversed(sent)]
    # a condition holds when any value does: "1000avcn" and "1001avcn" are <= 1001, the fees not
    small = search(f"transfer.recipient='{to.bech32}' AND transfer.amount<=1001")
    assert [t["hash"] for t in small["txs"]] == [sent[0].hash, sent[1].hash]
    assert search(f"transfer.recipient='{to.bech32}' AND tx.height<0")["total_count"] == "0"
    uri = httpx.get(url + "/tx_search", params={"query": f"\"tx.hash='{sent[2].hash}'\""})
    assert [t["hash"] for t in uri.json()["result"]["txs"]] == [sent[2].hash]

    err = error(url, "tx_search", {"query": f"transfer.recipient='{to.bech32}'", "page": "9"})
    assert err["code"] == -32602 and "page should be within [1, 1] range" in err["data"]


def test_bad_queries_are_explained(url: str) -> None:
    for bad, says in [
        ("tm.event=", "expected a 'quoted string', number, DATE or TIME"),
        ("tm.event='Tx' OR tx.height=5", "OR is not supported"),
        ("tx.height < 'five'", "needs a number"),
        ("tm.event='Tx", "no closing quote"),
        ("", "empty query"),
    ]:
        err = error(url, "tx_search", {"query": bad})
        assert err["code"] == -32602, err
        assert "failed to parse query" in err["data"] and says in err["data"], err
    with pytest.raises(QueryError, match="offset 9"):
        parse("tm.event $ 'Tx'")


def test_query_language_matches_as_cometbft_does() -> None:
    attrs = {
        "tm.event": ["Tx"],
        "transfer.amount": ["200000avcn", "5avcn"],
        "block.time": ["2026-03-04T05:06:07.5Z"],
        "coin_spent.spender": ["vcoin1abc"],
    }
    assert parse("transfer.amount < 6").matches(attrs)  # any value: "5avcn" reads as 5
    assert not parse("transfer.amount > 200000").matches(attrs)
    assert parse("transfer.amount = 5 AND tm.event = 'Tx'").matches(attrs)
    assert parse("block.time >= TIME 2026-03-04T05:06:07Z").matches(attrs)
    assert parse("block.time < DATE 2026-03-05").matches(attrs)
    assert parse("coin_spent EXISTS AND coin_spent.spender CONTAINS 'vcoin1'").matches(attrs)
    assert not parse("message.sender EXISTS").matches(attrs)
    assert not parse("tm.event='NewBlock'").matches(attrs)
    assert str(parse("a.b='x'AND c.d>=2")) == "a.b = 'x' AND c.d >= 2"


# -- queries and proofs --------------------------------------------------------------


def test_abci_query_balance_proof_verifies_against_the_app_hash(url: str) -> None:
    key = bank_keys.balance(BOB.address, "avcn")
    r = result(url, "abci_query", {"path": "/store/bank/key", "data": key.hex(), "prove": True})[
        "response"
    ]
    assert r["code"] == 0 and base64.b64decode(r["key"]) == key
    value = base64.b64decode(r["value"])
    (op,) = r["proofOps"]["ops"]
    assert op["type"] == "vcoin:smt" and base64.b64decode(op["key"]) == key
    proof = StoreProof.from_json(json.loads(base64.b64decode(op["data"])))
    app_hash = base64.b64decode(result(url, "block_results", {"height": r["height"]})["app_hash"])
    assert verify_proof(app_hash, proof, key, value)
    assert not verify_proof(app_hash, proof, key, value + b"\x01")
    assert int.from_bytes(value, "big") == NodeClient(url).balance(BOB.bech32)


def test_abci_query_custom_and_errors(url: str) -> None:
    data = json.dumps({"address": ALICE.bech32}).encode().hex()
    r = result(url, "abci_query", {"path": "/custom/auth/account", "data": data})["response"]
    assert r["code"] == 0 and r["proofOps"] is None
    assert json.loads(base64.b64decode(r["value"]))["address"] == ALICE.bech32
    bad = result(url, "abci_query", {"path": "/nowhere"})["response"]
    assert bad["code"] != 0 and bad["codespace"] == "sdk" and "unknown query path" in bad["log"]


def test_errors_have_jsonrpc_shape_and_say_what_to_do(url: str) -> None:
    e = error(url, "block", {"height": "999999"})
    assert e["code"] == -32602 and "current blockchain height" in e["data"]
    e = error(url, "block", {"height": "abc"})
    assert e["code"] == -32602 and "whole number" in e["data"]
    e = error(url, "block", {"hieght": "1"})
    assert "no argument 'hieght'" in e["data"]
    e = error(url, "nope")
    assert e["code"] == -32601 and "status" in e["data"]
    e = error(url, "tx", {"hash": "AA" * 32})
    assert e["code"] == -32603 and "not found" in e["data"]
    # a client's mistake is a 4xx; 500 is kept for a bug in the node
    r = httpx.post(url, content=b"{not json")
    assert r.status_code == 400 and r.json()["error"]["code"] == -32700
    r = httpx.get(url + "/block", params={"height": "999999"})
    assert r.status_code == 400 and r.json()["error"]["code"] == -32602


# -- websocket -------------------------------------------------------------------------


def ws_call(ws: ClientConnection, rid: int, method: str, params: Any) -> dict[str, Any]:
    ws.send(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}))
    reply: dict[str, Any] = json.loads(ws.recv(timeout=10))
    assert reply["id"] == rid
    return reply


def next_event(ws: ClientConnection, timeout: float) -> dict[str, Any] | None:
    try:
        out: dict[str, Any] = json.loads(ws.recv(timeout=timeout))
        return out
    except TimeoutError:
        return None


def test_websocket_tx_subscription_matches_only_its_query(url: str, client: NodeClient) -> None:
    r1 = PrivateKey.from_seed(b"ws-recipient-1")
    r2 = PrivateKey.from_seed(b"ws-recipient-2")
    ws_url = url.replace("http", "ws") + "/websocket"
    with connect(ws_url) as ws1, connect(ws_url) as ws2:
        q1 = f"tm.event='Tx' AND transfer.recipient='{r1.bech32}'"
        q2 = f"tm.event='Tx' AND transfer.recipient='{r2.bech32}'"
        assert ws_call(ws1, 1, "subscribe", {"query": q1})["result"] == {}
        assert ws_call(ws2, 2, "subscribe", {"query": q2})["result"] == {}
        sent = send(client, ALICE, r1, 500)

        ev = next_event(ws1, 10)
        assert ev is not None and ev["id"] == 1
        res = ev["result"]
        assert res["query"] == q1
        assert res["data"]["type"] == "tendermint/event/Tx"
        txr = res["data"]["value"]["TxResult"]
        assert txr["height"] == str(sent.height) and txr["result"]["code"] == 0
        assert res["events"]["tx.hash"] == [sent.hash]
        assert r1.bech32 in res["events"]["transfer.recipient"]
        # the other query saw nothing, yet its subscription is alive
        assert next_event(ws2, 1.5) is None
        sent2 = send(client, ALICE, r2, 600)
        ev2 = next_event(ws2, 10)
        assert ev2 is not None and ev2["result"]["events"]["tx.hash"] == [sent2.hash]
        assert next_event(ws1, 1.0) is None

        # other methods work on the socket too
        assert ws_call(ws1, 3, "health", {})["result"] == {}
        assert ws_call(ws1, 4, "unsubscribe", {"query": q1})["result"] == {}
        send(client, ALICE, r1, 1)
        assert next_event(ws1, 1.5) is None
        err = ws_call(ws1, 5, "unsubscribe", {"query": q1})["error"]
        assert "subscription not found" in err["data"]


def test_websocket_new_block_and_bad_query(url: str) -> None:
    ws_url = url.replace("http", "ws") + "/websocket"
    with connect(ws_url) as ws:
        err = ws_call(ws, 1, "subscribe", {"query": "tm.event = NewBlock"})["error"]
        assert err["code"] == -32602 and "failed to parse query" in err["data"]
        assert "quoted string" in err["data"]
        assert ws_call(ws, 2, "subscribe", {"query": "tm.event='NewBlock'"})["result"] == {}
        dup = ws_call(ws, 3, "subscribe", {"query": "tm.event = 'NewBlock'"})["error"]
        assert "already subscribed" in dup["data"]
        ev = next_event(ws, 10)
        assert ev is not None and ev["id"] == 2
        data = ev["result"]["data"]
        assert data["type"] == "tendermint/event/NewBlock"
        header = data["value"]["block"]["header"]
        assert header["height"] == ev["result"]["events"]["block.height"][0]
        assert (
            data["value"]["block_id"]["hash"]
            and "app_hash" in data["value"]["result_finalize_block"]
        )
        assert ws_call(ws, 4, "unsubscribe_all", {})["result"] == {}


def test_http_only_clients_get_told_where_subscribe_lives(url: str) -> None:
    e = error(url, "subscribe", {"query": "tm.event='Tx'"})
    assert e["code"] == -32601 and "/websocket" in e["data"]
