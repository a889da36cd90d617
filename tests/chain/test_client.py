"""NodeClient: CometBFT request shapes, error mapping, signing; then against a real node."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin
from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import AuthInfo, SignDoc, TxRaw

from chain.client import (
    NodeClient,
    QueryFailed,
    RpcError,
    TxFailed,
    TxTimeout,
    tx_hash,
)
from chain.crypto import PrivateKey, verify_signature
from genesis.devnet import DEV_BALANCE, dev_key
from modules.bank.msgs import MsgSend
from tests.support.nodes import NodeProc, free_port, running_node

ALICE = dev_key("alice")
BOB = dev_key("bob")
VCN = 10**18
CHAIN = "vcoin-test-9"
GAS_PRICE = 1_000_000_000


def send(frm: PrivateKey, to: str, amount: int) -> MsgSend:
    return MsgSend(
        from_address=frm.bech32, to_address=to, amount=[Coin(denom="avcn", amount=str(amount))]
    )


def _ok(result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "result": result}


def _query_reply(code: int = 0, value: Any = None, codespace: str = "", log: str = "") -> Any:
    raw = b"" if value is None else json.dumps(value).encode()
    return _ok(
        {
            "response": {
                "code": code,
                "log": log,
                "info": "",
                "index": "0",
                "key": None,
                "value": base64.b64encode(raw).decode() if raw else None,
                "proofOps": None,
                "height": "7",
                "codespace": codespace,
            }
        }
    )


class CannedCometRPC:
    """A stand-in for the node that answers in CometBFT's documented JSON-RPC shapes.

    Used only where a test needs a reply the real chain cannot be made to give on
    cue: a JSON-RPC error, a tx failing in its block after passing CheckTx, a stale
    sequence. Tests against the real node are further down.
    """

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.account_seq = 3
        self.replies: dict[str, list[Any]] = {}  # method -> queued raw replies
        self.broadcasts: list[bytes] = []
        self.on_broadcast: Callable[[bytes], Any] | None = None

    def client(self) -> NodeClient:
        return NodeClient("http://canned", http=httpx.Client(transport=httpx.MockTransport(self)))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        method, params = body["method"], body["params"]
        if self.replies.get(method):
            reply = self.replies[method].pop(0)
            if isinstance(reply, httpx.Response):
                return reply
            return httpx.Response(200, json=reply)
        if method == "status":
            return httpx.Response(
                200,
                json=_ok(
                    {"node_info": {"network": CHAIN}, "sync_info": {"latest_block_height": "7"}}
                ),
            )
        if method == "abci_query":
            req = json.loads(bytes.fromhex(params["data"]) or b"{}")
            if params["path"] == "/custom/auth/params":
                return httpx.Response(200, json=_query_reply(value={"min_gas_price": GAS_PRICE}))
            if params["path"] == "/custom/auth/account":
                acc = {"address": req["address"], "account_number": "12"}
                acc["sequence"] = str(self.account_seq)
                return httpx.Response(200, json=_query_reply(value=acc))
        if method.startswith("broadcast_tx"):
            raw = base64.b64decode(params["tx"])
            self.broadcasts.append(raw)
            if self.on_broadcast is not None:
                return httpx.Response(200, json=self.on_broadcast(raw))
            ok = {"code": 0, "data": "", "log": "", "codespace": "", "hash": tx_hash(raw)}
            if method == "broadcast_tx_sync":
                return httpx.Response(200, json=_ok(ok))
            return httpx.Response(
                200,
                json=_ok(
                    {
                        "check_tx": {"code": 0, "gas_wanted": "200000"},
                        "tx_result": {"code": 0, "gas_wanted": "200000", "gas_used": "61000"},
                        "hash": tx_hash(raw),
                        "height": "8",
                    }
                ),
            )
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "error": {"code": -32601}})


@pytest.fixture
def canned() -> CannedCometRPC:
    return CannedCometRPC()


def test_requests_use_cometbft_shapes(canned: CannedCometRPC) -> None:
    c = canned.client()
    canned.replies = {m: [_ok({})] for m in ("broadcast_tx_sync", "tx", "block", "block_results")}
    canned.replies["abci_query"] = [_query_reply(value={})]
    c.broadcast_tx_sync(b"\x01\x02\xff")
    c.abci_query("/custom/bank/balance", b'{"a":1}', height=5, prove=True)
    c.tx("0xABCDEF")
    c.block(5)
    c.block_results()
    reqs = canned.requests
    assert all(r["jsonrpc"] == "2.0" for r in reqs)
    assert len({r["id"] for r in reqs}) == len(reqs)
    assert reqs[0]["params"] == {"tx": "AQL/"}
    assert reqs[1]["params"] == {
        "path": "/custom/bank/balance",
        "data": b'{"a":1}'.hex(),
        "height": "5",
        "prove": True,
    }
    assert reqs[2]["params"] == {
        "hash": base64.b64encode(bytes.fromhex("ABCDEF")).decode(),
        "prove": False,
    }
    assert reqs[3]["params"] == {"height": "5"}
    assert reqs[4]["params"] == {}


def test_jsonrpc_error_becomes_rpc_error(canned: CannedCometRPC) -> None:
    err = {"code": -32603, "message": "Internal error", "data": "mempool is full: 5000 txs"}
    canned.replies["broadcast_tx_sync"] = [{"jsonrpc": "2.0", "id": 1, "error": err}]
    with pytest.raises(RpcError, match="mempool is full") as e:
        canned.client().broadcast_tx_sync(b"x")
    assert e.value.code == -32603 and e.value.data == "mempool is full: 5000 txs"


def test_cometbfts_cache_error_becomes_the_solo_mempools_refusal(canned: CannedCometRPC) -> None:
    err = {"code": -32603, "message": "Internal error", "data": "tx already exists in cache"}
    canned.replies["broadcast_tx_sync"] = [{"jsonrpc": "2.0", "id": 1, "error": err}]
    r = canned.client().broadcast_tx_sync(b"x")
    assert (r["codespace"], r["code"]) == ("sdk", 19)
    assert r["hash"] == tx_hash(b"x") and "already in the mempool" in r["log"]
    canned.replies["broadcast_tx_commit"] = [{"jsonrpc": "2.0", "id": 1, "error": err}]
    c = canned.client().broadcast_tx_commit(b"x")
    assert c["height"] == "0" and c["check_tx"]["code"] == 19


def test_non_json_answer_becomes_rpc_error(canned: CannedCometRPC) -> None:
    canned.replies["status"] = [httpx.Response(502, text="<html>bad gateway</html>")]
    with pytest.raises(RpcError, match="HTTP 502 without JSON"):
        canned.client().status()


def test_unreachable_node_says_so() -> None:
    port = free_port()
    with (
        NodeClient(f"http://127.0.0.1:{port}", timeout=2) as c,
        pytest.raises(RpcError, match="cannot reach the node.*is it running"),
    ):
        c.status()


def test_check_tx_refusal_carries_codespace_code_log(canned: CannedCometRPC) -> None:
    log = "insufficient funds: 5avcn is smaller than 7avcn"
    canned.on_broadcast = lambda raw: _ok(
        {
            "check_tx": {"code": 5, "codespace": "sdk", "log": log, "gas_wanted": "200000"},
            "tx_result": {},
            "hash": tx_hash(raw),
            "height": "0",
        }
    )
    c = canned.client()
    with pytest.raises(TxFailed) as e:
        c.send_tx(ALICE, [send(ALICE, BOB.bech32, 7)])
    assert (e.value.stage, e.value.codespace, e.value.code, e.value.log) == ("check", "sdk", 5, log)
    assert e.value.height == 0 and e.value.hash == tx_hash(canned.broadcasts[-1])
    resp = c.send_tx(ALICE, [send(ALICE, BOB.bech32, 7)], check=False)
    assert (resp.ok, resp.code, resp.log) == (False, 5, log)


def test_failure_in_block_is_reported_with_height(canned: CannedCometRPC) -> None:
    canned.on_broadcast = lambda raw: _ok(
        {
            "check_tx": {"code": 0},
            "tx_result": {"code": 13, "codespace": "jobs", "log": "job 4 was claimed"},
            "hash": tx_hash(raw),
            "height": "21",
        }
    )
    with pytest.raises(TxFailed, match="jobs/13: job 4 was claimed") as e:
        canned.client().send_tx(ALICE, [send(ALICE, BOB.bech32, 7)])
    assert (e.value.stage, e.value.height) == ("deliver", 21)


def test_query_refusals(canned: CannedCometRPC) -> None:
    c = canned.client()
    canned.replies["abci_query"] = [
        _query_reply(38, codespace="sdk", log="not found: account vcoin1… not found"),
        _query_reply(7, codespace="sdk", log="invalid address: bad checksum"),
    ]
    assert c.account(BOB.bech32) is None
    with pytest.raises(QueryFailed) as e:
        c.balance("vcoin1bad")
    assert (e.value.codespace, e.value.code, e.value.log) == (
        "sdk",
        7,
        "invalid address: bad checksum",
    )


def test_send_tx_signs_for_the_chain_account_and_sequence(canned: CannedCometRPC) -> None:
    resp = canned.client().send_tx(ALICE, [send(ALICE, BOB.bech32, 7)], gas=150_000, memo="hi")
    assert resp.ok and resp.height == 8 and resp.gas_used == 61000
    raw = TxRaw.FromString(canned.broadcasts[0])
    auth = AuthInfo.FromString(raw.auth_info_bytes)
    assert auth.signer_infos[0].sequence == 3
    assert auth.fee.gas_limit == 150_000
    assert [(c.denom, int(c.amount)) for c in auth.fee.amount] == [("avcn", 150_000 * GAS_PRICE)]
    doc = SignDoc(
        body_bytes=raw.body_bytes,
        auth_info_bytes=raw.auth_info_bytes,
        chain_id=CHAIN,
        account_number=12,
    ).SerializeToString()
    assert verify_signature(ALICE.public_key, raw.signatures[0], doc)


def _sequences(canned: CannedCometRPC) -> list[int]:
    return [
        AuthInfo.FromString(TxRaw.FromString(b).auth_info_bytes).signer_infos[0].sequence
        for b in canned.broadcasts
    ]


def test_back_to_back_sync_sends_use_the_next_sequence(canned: CannedCometRPC) -> None:
    c = canned.client()
    for _ in range(3):
        assert c.send_tx(ALICE, [send(ALICE, BOB.bech32, 1)], mode="sync").height == 0
    assert _sequences(canned) == [3, 4, 5]


def test_stale_sequence_cache_is_retried_once(canned: CannedCometRPC) -> None:
    c = canned.client()
    c.send_tx(ALICE, [send(ALICE, BOB.bech32, 1)], mode="sync")  # caches 4
    # That tx was dropped from the mempool: the chain still expects 3.
    canned.on_broadcast = lambda raw: _ok(
        {
            "code": 0 if _sequences(canned)[-1] == 3 else 32,
            "codespace": "" if _sequences(canned)[-1] == 3 else "sdk",
            "log": "" if _sequences(canned)[-1] == 3 else "account sequence mismatch",
            "hash": tx_hash(raw),
        }
    )
    assert c.send_tx(ALICE, [send(ALICE, BOB.bech32, 1)], mode="sync").ok
    assert _sequences(canned) == [3, 4, 3]


def test_wait_tx_polls_until_indexed(canned: CannedCometRPC) -> None:
    not_found = {
        "jsonrpc": "2.0",
        "id": 1,
        "error": {"code": -32603, "message": "Internal error", "data": "tx (AB) not found"},
    }
    found = _ok({"hash": "AB", "height": "9", "index": 0, "tx_result": {"code": 0}, "tx": ""})
    canned.replies["tx"] = [not_found, not_found, found]
    resp = canned.client().wait_tx("AB", timeout=5, poll=0.01)
    assert (resp.hash, resp.height, resp.ok) == ("AB", 9, True)
    canned.replies["tx"] = [not_found] * 100
    with pytest.raises(TxTimeout, match="not in a block after"):
        canned.client().wait_tx("AB", timeout=0.05, poll=0.01)


# -- against a real node ------------------------------------------------------


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProc]:
    home: Path = tmp_path_factory.mktemp("client-node")
    with running_node(home) as n:
        yield n


@pytest.fixture
def client(node: NodeProc) -> Iterator[NodeClient]:
    with NodeClient(node.rpc) as c:
        yield c


@pytest.mark.slow
def test_real_node_send_balance_and_find_tx(client: NodeClient) -> None:
    to = PrivateKey.from_seed(b"client-test-recipient").bech32
    assert client.chain_id() == "vcoin-devnet-1"
    assert client.balance(to) == 0 and client.account(to) is None
    resp = client.send_tx(ALICE, [send(ALICE, to, 2 * VCN)])
    assert resp.ok and resp.height > 0 and resp.hash == resp.hash.upper()
    assert client.balance(to) == 2 * VCN
    assert client.account(to) is not None
    found = client.wait_tx(resp.hash, timeout=10)
    assert (found.height, found.code) == (resp.height, 0)
    assert to in found.attributes("transfer", "recipient")  # after the fee transfer
    hits = client.tx_search(f"tx.height={resp.height}")
    assert resp.hash in [t["hash"] for t in hits["txs"]]
    assert int(client.block(resp.height)["block"]["header"]["height"]) == resp.height


@pytest.mark.slow
def test_real_node_refusals_carry_codes(client: NodeClient) -> None:
    with pytest.raises(TxFailed) as e:
        client.send_tx(BOB, [send(BOB, ALICE.bech32, DEV_BALANCE * 2)])
    assert (e.value.stage, e.value.codespace, e.value.code) == ("check", "sdk", 5)
    assert "insufficient funds" in e.value.log
    with pytest.raises(QueryFailed) as q:
        client.balance("vcoin1notanaddress")
    assert (q.value.codespace, q.value.code) == ("sdk", 7)


@pytest.mark.slow
def test_real_node_gas_auto_and_sync_sends(client: NodeClient) -> None:
    to = PrivateKey.from_seed(b"client-test-sync").bech32
    w = dev_key("worker1")
    r1 = client.send_tx(w, [send(w, to, 1)], mode="sync", gas="auto")
    r2 = client.send_tx(w, [send(w, to, 2)], mode="sync")
    assert r1.ok and r2.ok and r1.hash != r2.hash
    d1, d2 = client.wait_tx(r1.hash), client.wait_tx(r2.hash)
    assert d1.ok and d2.ok
    assert d1.gas_wanted < 200_000 and d1.gas_used <= d1.gas_wanted
    assert client.balance(to) == 3
