"""EventStream (chain/client_ws.py) against a real in-process node's /websocket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chain.client import NodeClient, RpcError
from chain.client_ws import EventStream, SubscriptionClosed, ws_url
from chain.crypto import PrivateKey
from genesis.devnet import dev_key
from tests.support.chain import msg_send
from tests.support.nodes import inproc_node

ALICE = dev_key("alice")


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with inproc_node(tmp_path_factory.mktemp("ws")) as n:
        yield f"http://{n.cfg.rpc_laddr}"


def test_ws_url_from_rpc_url() -> None:
    assert ws_url("http://127.0.0.1:26657") == "ws://127.0.0.1:26657/websocket"
    assert ws_url("https://node.example/") == "wss://node.example/websocket"
    assert ws_url("127.0.0.1:26657") == "ws://127.0.0.1:26657/websocket"


def test_subscribe_delivers_only_matching_tx_events_with_their_height(url: str) -> None:
    to = PrivateKey.from_seed(b"client-ws-recipient")
    other = PrivateKey.from_seed(b"client-ws-other")
    with EventStream(url) as s, NodeClient(url) as c:
        q = f"tm.event='Tx' AND transfer.recipient='{to.bech32}'"
        s.subscribe(q)
        c.send_tx(ALICE, [msg_send(ALICE, other, 5)])
        sent = c.send_tx(ALICE, [msg_send(ALICE, to, 7)])
        ev = s.next(timeout=10)
        assert ev is not None and ev.kind == "Tx" and ev.query == q
        assert ev.height == sent.height and ev.attr("tx.hash") == [sent.hash]
        assert to.bech32 in ev.attr("transfer.recipient")
        assert s.next(timeout=0.5) is None  # the transfer to `other` did not match


def test_calls_share_the_socket_and_events_are_kept_meanwhile(url: str) -> None:
    with EventStream(url) as s:
        s.subscribe("tm.event='NewBlock'")
        first = s.next(timeout=10)
        assert first is not None and first.kind == "NewBlock" and first.height > 0
        status = s.call("status")
        assert int(status["sync_info"]["latest_block_height"]) >= first.height
        nxt = s.next(timeout=10)
        assert nxt is not None and nxt.height == first.height + 1
        txs = nxt.data["block"]["data"]["txs"]
        assert isinstance(txs, list) and "tx_results" in nxt.data["result_finalize_block"]


def test_refusals_and_a_closed_stream_raise(url: str) -> None:
    with EventStream(url) as s:
        with pytest.raises(RpcError, match="failed to parse query"):
            s.subscribe("tm.event = = 'Tx'")
        s.subscribe("tm.event='NewBlock'")
        with pytest.raises(RpcError, match="already subscribed"):
            s.subscribe("tm.event='NewBlock'")
        s.close()
        with pytest.raises(SubscriptionClosed):
            s.next(timeout=1)
    with pytest.raises(RpcError, match="cannot open a websocket"):
        EventStream("http://127.0.0.1:1", open_timeout=2)
