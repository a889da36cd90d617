"""The node RPC as the worker, the oracle and the CLI use it: the solo driver's and a
real CometBFT node's (one validator with its VCoin app) answer alike.

Each test runs against both. Every difference found between the two is covered
here: a tx broadcast twice (CometBFT answers a JSON-RPC error, the solo mempool
a refused CheckTx; ``NodeClient`` turns both into the same refusal).
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.testnet import Testnet
from chain.client import NodeClient
from chain.client_ws import EventStream
from chain.errors import ErrTxInMempool
from genesis.devnet import dev_key
from tests.support.chain import msg_send
from tests.support.nodes import free_port_block, have_cometbft, inproc_node

ALICE, BOB = dev_key("alice"), dev_key("bob")


@pytest.fixture(scope="module", params=["solo", "cometbft"])
def rpc_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    home: Path = tmp_path_factory.mktemp(request.param)
    if request.param == "solo":
        # blocks on a timer, so a tx stays in the mempool for a while, as under CometBFT
        with inproc_node(home, instant=False, block_time_ms=1000) as node:
            yield f"http://{node.cfg.rpc_laddr}"
        return
    if not have_cometbft() and not os.environ.get("VCOIN_REQUIRE_COMETBFT"):
        pytest.skip("no cometbft binary (scripts/setup-cometbft installs it)")
    net = Testnet(home, 1, base_port=free_port_block(10), timeout_commit="200ms")
    try:
        net.start(wait_height=1)
        yield net.validators[0].rpc_url
    finally:
        net.stop()


def test_a_tx_reaches_a_block_and_every_read_finds_it(rpc_url: str) -> None:
    c = NodeClient(rpc_url, timeout=20)
    with EventStream(rpc_url) as stream:
        stream.subscribe("tm.event='NewBlock'")  # the worker's subscription
        r = c.send_tx(ALICE, [msg_send(ALICE, BOB.bech32, 7)], mode="sync")
        assert r.ok, r.log
        got = c.wait_tx(r.hash, timeout=30)
        assert got.ok and got.height > 0
        # the NewBlock event carries the block's txs and their results, as the worker reads them
        while True:
            ev = stream.next(timeout=30)
            assert ev is not None, "no NewBlock event"
            if ev.height == got.height:
                break
    txs = ev.data["block"]["data"]["txs"]
    hashes = [hashlib.sha256(base64.b64decode(t)).hexdigest().upper() for t in txs]
    assert r.hash.upper() in hashes
    results = ev.data["result_finalize_block"]["tx_results"]
    assert len(results) == len(txs)
    # block_results as the oracle's follower reads it
    br = c.block_results(got.height)
    assert len(br["txs_results"]) == len(txs)
    assert isinstance(br.get("finalize_block_events") or [], list)
    transfer = [
        e
        for e in br["txs_results"][hashes.index(r.hash.upper())]["events"]
        if e["type"] == "transfer"
    ]
    recipients = [a["value"] for e in transfer for a in e["attributes"] if a["key"] == "recipient"]
    assert BOB.bech32 in recipients  # after the fee's transfer
    # tx_search by hash and by event, block by height
    assert len(c.tx_search(f"tx.hash='{r.hash}'")["txs"]) == 1
    found = c.tx_search(f"transfer.recipient='{BOB.bech32}'")["txs"]
    assert r.hash.upper() in {t["hash"] for t in found}
    assert c.block(got.height)["block"]["header"]["height"] == str(got.height)
    # a query through abci_query
    assert c.balance(BOB.bech32) > 0


def test_a_tx_broadcast_twice_is_refused_the_same_way(rpc_url: str) -> None:
    c = NodeClient(rpc_url, timeout=20)
    acc = c.account(ALICE.bech32)
    assert acc is not None
    # a sequence from the future: CheckTx refuses it, and again the same way
    raw = c.build_tx(ALICE, [msg_send(ALICE, BOB.bech32, 3)], sequence=acc.sequence + 50)
    first = c.broadcast_tx_sync(raw)
    second = c.broadcast_tx_sync(raw)
    assert int(first["code"]) == int(second["code"]) == 32  # sdk/32: wrong sequence
    # a good tx sent twice: the second is sdk/19 (CometBFT: "already exists in cache",
    # a JSON-RPC error that NodeClient turns into the solo mempool's refusal)
    raw = c.build_tx(ALICE, [msg_send(ALICE, BOB.bech32, 4)])
    ok = c.broadcast_tx_sync(raw)
    assert int(ok["code"]) == 0
    again = c.broadcast_tx_sync(raw)
    assert (again["codespace"], int(again["code"])) == (ErrTxInMempool.codespace, 19)
    assert again["hash"].upper() == ok["hash"].upper()
    assert c.wait_tx(ok["hash"], timeout=30).ok
    assert len(c.tx_search(f"tx.hash='{ok['hash']}'")["txs"]) == 1  # included once
