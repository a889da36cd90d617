"""Four validators on real ``cometbft`` processes (loopback), each with its VCoin app.

The network is ``app.testnet.Testnet``, the one ``scripts/testnet`` runs. The
clients are the real ones: ``chain.client.NodeClient`` (what the worker, the
oracle and the CLI use) against CometBFT's own RPC, and cosmpy's
``LedgerClient`` against a validator's Cosmos REST API.
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cosmpy.aerial.client import LedgerClient, NetworkConfig
from cosmpy.aerial.wallet import LocalWallet
from cosmpy.crypto.keypairs import PrivateKey as CosmpyKey
from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin

from app.testnet import CHAIN_ID, Testnet, TestnetError, rpc
from chain.client import NodeClient, TxFailed, tx_hash
from chain.coins import DENOM
from chain.crypto import PrivateKey
from genesis.devnet import dev_key
from modules.auth.params import Params as AuthParams
from modules.staking.tx_pb2 import MsgBond, MsgUnbond
from tests.support.chain import msg_send
from tests.support.nodes import free_port_block, needs_cometbft

VCN = 10**18
ALICE, BOB = dev_key("alice"), dev_key("bob")


pytestmark = needs_cometbft


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testnet]:
    n = Testnet(
        tmp_path_factory.mktemp("testnet"), 4, base_port=free_port_block(80), snapshot_interval=10
    )
    try:
        n.start(wait_height=2)
        yield n
    finally:
        n.stop()


@pytest.fixture(autouse=True)
def _validators_back_up(net: Testnet) -> Iterator[None]:
    """After each test, a genesis validator a failed test left stopped is started
    again, so that one failure does not take the next tests' quorum with it."""
    yield
    for v in net.validators:
        down = [p for p in (v.app_proc, v.comet_proc) if p is None or p.poll() is not None]
        if down:
            net.stop_validator(v)
            net.start_validator(v)


def _client(net: Testnet, i: int) -> NodeClient:
    return NodeClient(net.node(i).rpc_url, timeout=20)


def _app_hashes(net: Testnet, i: int, upto: int) -> list[str]:
    """The app hash in each header 2..upto (the state after the block before)."""
    url = net.validators[i].rpc_url
    return [
        rpc(url, "block", {"height": str(h)})["block"]["header"]["app_hash"]
        for h in range(2, upto + 1)
    ]


def test_txs_sent_to_any_node_are_included_once_and_every_node_agrees(net: Testnet) -> None:
    to = PrivateKey.from_seed(b"cometbft-recipient")
    recipient = to.bech32
    hashes = []
    # a NodeClient through each CometBFT RPC, from its own key
    for i, key in enumerate((ALICE, BOB, dev_key("faucet"))):
        c = _client(net, i)
        r = c.send_tx(key, [msg_send(key, to.bech32, (i + 1) * VCN)], mode="sync")
        assert r.ok, r.log
        hashes.append(r.hash)
    # cosmpy through the fourth validator's REST
    ledger = LedgerClient(
        NetworkConfig(
            chain_id=CHAIN_ID,
            url="rest+" + net.validators[3].rest_url,
            fee_minimum_gas_price=AuthParams().min_gas_price,
            fee_denomination="avcn",
            staking_denomination="avcn",
        ),
        query_interval_secs=1,
    )
    wallet = LocalWallet(CosmpyKey(dev_key("platform").secret), prefix="vcoin")
    sub = ledger.send_tokens(recipient, 4 * VCN, "avcn", wallet)  # type: ignore[arg-type]
    sub.wait_to_complete(timeout=timedelta(seconds=60))
    hashes.append(sub.tx_hash.upper())
    for h in hashes:
        for i in range(4):
            c = _client(net, i)
            resp = c.wait_tx(h, timeout=60)
            assert resp.ok, resp.log
            assert len(c.tx_search(f"tx.hash='{h}'")["txs"]) == 1  # included once
    # the same balance on every validator's REST, and the same app hash at every height
    net.wait_height(max(_client(net, 0).latest_height() + 1, 3))
    for i in range(4):
        bal = LedgerClient(
            NetworkConfig(
                chain_id=CHAIN_ID,
                url="rest+" + net.validators[i].rest_url,
                fee_minimum_gas_price=AuthParams().min_gas_price,
                fee_denomination="avcn",
                staking_denomination="avcn",
            )
        ).query_bank_balance(recipient, "avcn")  # type: ignore[arg-type]
        assert bal == 10 * VCN
    top = min(v.height() for v in net.validators)
    first = _app_hashes(net, 0, top)
    for i in range(1, 4):
        assert _app_hashes(net, i, top) == first


def test_an_invalid_tx_is_refused_in_check_tx_and_never_included(net: Testnet) -> None:
    c = _client(net, 1)
    raw = bytearray(c.build_tx(ALICE, [msg_send(ALICE, BOB.bech32, VCN)]))
    raw[-5] ^= 0xFF  # inside the signature
    r = rpc(
        net.validators[1].rpc_url,
        "broadcast_tx_sync",
        {"tx": base64.b64encode(bytes(raw)).decode()},
    )
    assert int(r["code"]) != 0
    assert "signature" in r["log"].lower()
    h = tx_hash(bytes(raw))
    net.wait_height(net.validators[1].height() + 2)
    assert c.get_tx(h) is None
    # a fee under the minimum gas price is refused at CheckTx too, by NodeClient
    with pytest.raises(TxFailed) as e:
        c.send_tx(ALICE, [msg_send(ALICE, BOB.bech32, VCN)], mode="sync", fee=1)
    assert e.value.stage == "check"
    assert "fee" in str(e.value).lower()


def test_rest_broadcasts_through_cometbft_and_serves_metrics(net: Testnet) -> None:
    v = net.validators[2]
    c = _client(net, 2)
    raw = c.build_tx(BOB, [msg_send(BOB, ALICE.bech32, 5)])
    body = {"tx_bytes": base64.b64encode(raw).decode(), "mode": "BROADCAST_MODE_SYNC"}
    first = httpx.post(v.rest_url + "/cosmos/tx/v1beta1/txs", json=body, timeout=20).json()
    assert first["tx_response"]["code"] == 0, first
    again = httpx.post(v.rest_url + "/cosmos/tx/v1beta1/txs", json=body, timeout=20).json()
    assert (again["tx_response"]["codespace"], again["tx_response"]["code"]) == ("sdk", 19)
    landed = c.wait_tx(tx_hash(raw), timeout=60)
    assert landed.ok
    # REST finds it in the node's own block copy
    got = httpx.get(v.rest_url + f"/cosmos/tx/v1beta1/txs/{tx_hash(raw)}", timeout=20).json()
    assert int(got["tx_response"]["height"]) == landed.height
    text = httpx.get(v.rest_url + "/metrics", timeout=20).text
    height = [ln for ln in text.splitlines() if ln.startswith("vcoin_block_height ")]
    assert float(height[0].split()[1]) >= landed.height
    assert 'vcoin_checktx_total{result="ok"}' in text


def _load(net: Testnet, node: int, n: int, key: PrivateKey) -> list[str]:
    """``n`` sends from ``key`` through ``node``, broadcast without waiting.

    One client per call counts the key's sequences from the last commit, so each
    call takes a key of its own: a second call for a key whose txs are still
    pending would sign a sequence again (CometBFT's cache then holds the very
    same bytes, or CheckTx refuses the sequence)."""
    c = _client(net, node)
    out = []
    for _ in range(n):
        r = c.send_tx(key, [msg_send(key, BOB.bech32, 1)], mode="sync")
        assert r.ok, r.log
        out.append(r.hash)
    return out


def _same_hashes_as(net: Testnet, i: int, ref: int) -> None:
    top = min(net.validators[i].height(), net.validators[ref].height())
    assert _app_hashes(net, i, top) == _app_hashes(net, ref, top)


def test_a_killed_app_leaves_three_committing_and_catches_up_after_restart(net: Testnet) -> None:
    v = net.validators[3]
    sent = _load(net, 0, 3, dev_key("worker1"))
    net.kill_app(v)  # kill -9; its CometBFT node loses the app and stops
    h0 = net.validators[0].height()
    sent += _load(net, 1, 3, dev_key("worker2"))
    net.wait_height(h0 + 3, nodes=[0, 1, 2])  # the other three go on
    net.kill_comet(v)
    net.start_validator(v)  # CometBFT's handshake replays what the app missed
    target = net.validators[0].height()
    net.wait_height(target, nodes=[3], timeout=120)
    for h in sent:
        assert _client(net, 3).wait_tx(h, timeout=60).ok
    _same_hashes_as(net, 3, 0)


def test_a_killed_cometbft_node_comes_back_and_catches_up(net: Testnet) -> None:
    v = net.validators[2]
    net.kill_comet(v)
    h0 = net.validators[0].height()
    sent = _load(net, 0, 2, dev_key("worker3"))
    net.wait_height(h0 + 3, nodes=[0, 1, 3])
    net.start_comet(v)  # its app kept running
    net.wait_height(net.validators[0].height(), nodes=[2], timeout=120)
    for h in sent:
        assert _client(net, 2).wait_tx(h, timeout=60).ok
    _same_hashes_as(net, 2, 0)


def test_two_of_four_stopped_commit_nothing_and_the_chain_goes_on_after(net: Testnet) -> None:
    a, b = net.validators[2], net.validators[3]
    net.stop_validator(a)
    net.stop_validator(b)
    time.sleep(2)  # let a block in flight land
    stuck = net.validators[0].height()
    time.sleep(6)  # several block times
    assert net.validators[0].height() == stuck
    assert net.validators[1].height() == stuck
    net.start_validator(a)
    net.start_validator(b)
    net.wait_height(stuck + 2, timeout=120)
    for i in range(1, 4):
        _same_hashes_as(net, i, 0)


def test_an_app_one_block_ahead_of_cometbfts_state_is_handled_by_the_handshake(
    net: Testnet,
) -> None:
    """``cometbft rollback`` takes CometBFT's state one block back and leaves its
    block store and the app as they were: the app is then ahead of CometBFT's
    state, as after a crash between the app's Commit and CometBFT's state save."""
    v = net.validators[1]
    net.stop_validator(v)
    out = subprocess.run(
        [net.cometbft, "rollback", "--home", str(v.comet_home)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    rolled_to = int(re.search(r"to height (\d+)", out).group(1))  # type: ignore[union-attr]
    app_height = _app_height(v)
    assert app_height == rolled_to + 1  # the app is one block ahead of CometBFT's state
    net.start_validator(v)
    net.wait_height(net.validators[0].height() + 1, nodes=[1], timeout=120)
    _same_hashes_as(net, 1, 0)


def _app_height(v: Any) -> int:
    """The height the stopped app's database holds."""
    from app.app import App

    app = App(v.vcoin_home / "data" / "state")
    try:
        return app.info().last_block_height
    finally:
        app.close()


def test_the_validator_set_is_the_staking_bonds(net: Testnet) -> None:
    vals = rpc(net.validators[0].rpc_url, "validators", {})["validators"]
    keys = sorted(v["pub_key"]["value"] for v in vals)
    assert keys == sorted(v.consensus_pubkey() for v in net.validators)
    assert {int(v["voting_power"]) for v in vals} == {200_000}


def _comet_set(net: Testnet) -> dict[str, int]:
    vals = rpc(net.validators[0].rpc_url, "validators", {"per_page": "100"})["validators"]
    return {v["pub_key"]["value"]: int(v["voting_power"]) for v in vals}


def _wait_for(cond: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout:g}s: {what}")


def _signers(net: Testnet, height: int) -> set[str]:
    sigs = rpc(net.validators[0].rpc_url, "commit", {"height": str(height)})
    return {
        s["validator_address"]
        for s in sigs["signed_header"]["commit"]["signatures"]
        if s.get("validator_address")
    }


def test_a_new_account_bonds_as_validator_joins_the_set_and_leaves_on_unbond(
    net: Testnet,
) -> None:
    v = net.join(4)  # a full node: block-syncs from height 1
    net.wait_height(net.validators[0].height(), nodes=[4], timeout=120)
    key = dev_key("bob")
    pub = base64.b64decode(v.consensus_pubkey())
    c = _client(net, 0)
    bond = MsgBond(
        address=key.bech32,
        role="validator",
        amount=Coin(denom=DENOM, amount=str(100_000 * VCN)),
        consensus_pubkey=pub,
    )
    r = c.send_tx(key, [bond], mode="commit")
    assert r.ok, r.log
    _wait_for(lambda: _comet_set(net).get(v.consensus_pubkey()) == 100_000, 60, "joined")
    assert len(_comet_set(net)) == 5
    cons_addr = hashlib.sha256(pub).hexdigest()[:40].upper()
    h = net.validators[0].height()
    net.wait_height(h + 3)
    assert any(cons_addr in _signers(net, x) for x in range(h, h + 3))  # it votes
    on_chain = c.query("staking", "validator_set")
    assert key.bech32 in {e["address"] for e in on_chain["validators"]}
    unbond = MsgUnbond(
        address=key.bech32, role="validator", amount=Coin(denom=DENOM, amount=str(100_000 * VCN))
    )
    assert c.send_tx(key, [unbond], mode="commit").ok
    _wait_for(lambda: v.consensus_pubkey() not in _comet_set(net), 60, "left the set")
    assert len(_comet_set(net)) == 4


def test_a_new_node_joins_by_state_sync(net: Testnet) -> None:
    net.wait_height(25, timeout=120)  # validators have taken snapshots (every 10 blocks)
    v = net.join(5, state_sync=True)
    net.wait_height(net.validators[0].height(), nodes=[5], timeout=180)
    log = (v.root / "cometbft.log").read_text(errors="replace")
    assert "Snapshot restored" in log or "snapshot restored" in log.lower()
    # it never ran block 1: CometBFT's block store starts after the snapshot
    s = rpc(v.rpc_url, "status")["sync_info"]
    assert int(s["earliest_block_height"]) > 1
    _same_hashes_after(net, 5, int(s["earliest_block_height"]) + 1)
    # and its REST answers from the restored state
    assert _client(net, 5).balance(ALICE.bech32) == _client(net, 0).balance(ALICE.bech32)


def _same_hashes_after(net: Testnet, i: int, start: int) -> None:
    top = min(net.node(i).height(), net.validators[0].height())
    for h in range(start, top + 1):
        a = rpc(net.node(i).rpc_url, "block", {"height": str(h)})["block"]["header"]["app_hash"]
        b = rpc(net.validators[0].rpc_url, "block", {"height": str(h)})["block"]["header"]
        assert a == b["app_hash"], h


def test_a_double_signing_validator_is_slashed_and_leaves_the_set(net: Testnet) -> None:
    """Runs last: the network goes on with three validators."""
    victim = net.validators[3]
    key = victim.consensus_pubkey()
    owner = dev_key("validator3").bech32
    c = _client(net, 0)
    before = int(c.query("staking", "bond", {"address": owner, "role": "validator"})["bonded"])
    net.join(6, key_of=victim)  # the same consensus key on a second node
    _wait_for(lambda: key not in _comet_set(net), 240, "the double signer left the set")
    b = c.query("staking", "bond", {"address": owner, "role": "validator"})
    assert b["tombstoned"] is True
    assert int(b["bonded"]) == before - before * 500 // 10_000  # 5 % slashed
    h = net.validators[0].height()
    net.wait_height(h + 2, nodes=[0, 1, 2])  # three validators still commit
    seen = False  # the evidence is in a block, not a tx
    for x in range(max(1, h - 60), h + 1):
        ev = rpc(net.validators[0].rpc_url, "block", {"height": str(x)})["block"]["evidence"]
        if ev.get("evidence"):
            seen = True
            break
    assert seen, "no block carried the duplicate-vote evidence"


def test_testnet_refuses_a_half_made_home(tmp_path: Path) -> None:
    (tmp_path / "junk").write_text("x")
    with pytest.raises(TestnetError, match="half-made"):
        Testnet(tmp_path, 1).init()
