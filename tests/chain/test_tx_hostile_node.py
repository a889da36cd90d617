"""The hostile tx classes against a running node, through its RPC: the sender gets
a clear refusal, the node keeps making blocks, and a re-encoded tx gets no hash
of its own on chain."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import TxRaw

from app.node import Node
from chain.client import NodeClient
from genesis.devnet import dev_key
from modules.auth.msgs import MsgUpdateParams
from modules.jobs.msgs import MsgPostJob
from tests.support.chain import msg_send
from tests.support.nodes import inproc_node

ALICE, BOB = dev_key("alice"), dev_key("bob")
DEEP = "[" * 5000 + "]" * 5000


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with inproc_node(tmp_path_factory.mktemp("hostile")) as n:
        yield n


@pytest.fixture(scope="module")
def client(node: Node) -> Iterator[NodeClient]:
    with NodeClient(f"http://{node.cfg.rpc_laddr}") as c:
        yield c


def _rpc(node: Node, method: str, params: dict[str, Any]) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    r = httpx.post(f"http://{node.cfg.rpc_laddr}", json=body, timeout=30)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _broadcast(node: Node, raw: bytes) -> dict[str, Any]:
    reply = _rpc(node, "broadcast_tx_sync", {"tx": base64.b64encode(raw).decode()})
    assert "result" in reply, reply
    out: dict[str, Any] = reply["result"]
    return out


def _still_makes_blocks(client: NodeClient) -> None:
    r = client.send_tx(BOB, [msg_send(BOB, ALICE, 1)], mode="commit")
    assert r.code == 0 and r.height > 0, r


@pytest.mark.parametrize(
    "msg",
    [
        lambda: MsgPostJob(
            poster=ALICE.bech32,
            task_type="text-generation",
            model="tiny-lm",
            inline_input=b"x",
            spec=DEEP,
            max_price="1000",
        ),
        lambda: MsgUpdateParams(authority=ALICE.bech32, module="jobs", params_json=DEEP),
    ],
    ids=["post job with a deep spec", "update params with deep JSON"],
)
def test_a_poison_tx_is_refused_and_the_node_goes_on(
    node: Node, client: NodeClient, msg: Any
) -> None:
    raw = client.build_tx(ALICE, [msg()], gas=1_000_000)
    r = _broadcast(node, raw)
    assert r["code"] != 0 and "deeper than 32" in r["log"], r
    _still_makes_blocks(client)


def test_a_reencoded_tx_is_refused_and_gets_no_hash_of_its_own(
    node: Node, client: NodeClient
) -> None:
    good = client.build_tx(ALICE, [msg_send(ALICE, BOB, 5)])
    t = TxRaw.FromString(good)
    # the same signed bytes with TxRaw's fields out of order
    again = (
        TxRaw(auth_info_bytes=t.auth_info_bytes).SerializeToString()
        + TxRaw(body_bytes=t.body_bytes).SerializeToString()
        + TxRaw(signatures=t.signatures).SerializeToString()
    )
    r = _broadcast(node, again)
    assert r["code"] == 2 and "comes after field 2" in r["log"], r
    assert _broadcast(node, good + b"\x20\x01")["code"] == 2  # an unknown field appended
    committed = client.broadcast_tx_commit(good)
    assert committed["tx_result"]["code"] == 0 and int(committed["height"]) > 0, committed
    found = _rpc(node, "tx", {"hash": hashlib.sha256(again).hexdigest().upper()})
    assert "error" in found
