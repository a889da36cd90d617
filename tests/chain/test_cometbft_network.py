"""Four validators on real ``cometbft`` processes (loopback), each with its VCoin app.

The network is ``app.testnet.Testnet``, the one ``scripts/testnet`` runs. The
clients are the real ones: ``chain.client.NodeClient`` (what the worker, the
oracle and the CLI use) against CometBFT's own RPC, and cosmpy's
``LedgerClient`` against a validator's Cosmos REST API.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cosmpy.aerial.client import LedgerClient, NetworkConfig
from cosmpy.aerial.wallet import LocalWallet
from cosmpy.crypto.keypairs import PrivateKey as CosmpyKey

from app.testnet import CHAIN_ID, Testnet, TestnetError, find_cometbft, rpc
from chain.client import NodeClient, TxFailed, tx_hash
from chain.crypto import PrivateKey
from genesis.devnet import dev_key
from modules.auth.params import Params as AuthParams
from tests.support.chain import msg_send

VCN = 10**18
ALICE, BOB = dev_key("alice"), dev_key("bob")


def _have_cometbft() -> bool:
    try:
        find_cometbft()
    except TestnetError:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not _have_cometbft() and not os.environ.get("VCOIN_REQUIRE_COMETBFT"),
    reason="no cometbft binary (scripts/setup-cometbft installs it)",
)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testnet]:
    n = Testnet(tmp_path_factory.mktemp("testnet"), 4, base_port=46000)
    try:
        n.start(wait_height=2)
        yield n
    finally:
        n.stop()


def _client(net: Testnet, i: int) -> NodeClient:
    return NodeClient(net.validators[i].rpc_url, timeout=20)


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


def _load(net: Testnet, node: int, n: int) -> list[str]:
    c = _client(net, node)
    out = []
    for _ in range(n):
        r = c.send_tx(ALICE, [msg_send(ALICE, BOB.bech32, 1)], mode="sync")
        assert r.ok, r.log
        out.append(r.hash)
    return out


def _same_hashes_as(net: Testnet, i: int, ref: int) -> None:
    top = min(net.validators[i].height(), net.validators[ref].height())
    assert _app_hashes(net, i, top) == _app_hashes(net, ref, top)


def test_a_killed_app_leaves_three_committing_and_catches_up_after_restart(net: Testnet) -> None:
    v = net.validators[3]
    sent = _load(net, 0, 3)
    net.kill_app(v)  # kill -9; its CometBFT node loses the app and stops
    h0 = net.validators[0].height()
    sent += _load(net, 1, 3)
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
    sent = _load(net, 0, 2)
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


def test_the_validator_set_is_the_staking_bonds(net: Testnet) -> None:
    vals = rpc(net.validators[0].rpc_url, "validators", {})["validators"]
    keys = sorted(v["pub_key"]["value"] for v in vals)
    assert keys == sorted(v.consensus_pubkey() for v in net.validators)
    assert {int(v["voting_power"]) for v in vals} == {200_000}


def test_testnet_refuses_a_half_made_home(tmp_path: Path) -> None:
    (tmp_path / "junk").write_text("x")
    with pytest.raises(TestnetError, match="half-made"):
        Testnet(tmp_path, 1).init()
