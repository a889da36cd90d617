"""The Ethereum JSON-RPC of a node in CometBFT mode: one validator on a real ``cometbft``
(``app.testnet.Testnet``), web3.py against its app's ``jsonrpc_laddr``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import AsyncWeb3, Web3, WebSocketProvider

from app.testnet import Testnet
from chain.client import NodeClient
from chain.crypto import to_bech32
from genesis.devnet import dev_key
from tests.support.chain import VCN, msg_send
from tests.support.nodes import free_port_block, needs_cometbft
from tests.support.wait import wait_for

pytestmark = needs_cometbft


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testnet]:
    n = Testnet(tmp_path_factory.mktemp("ethrpc-comet"), 1, base_port=free_port_block(10))
    try:
        n.start(wait_height=2)
        yield n
    finally:
        n.stop()


def test_web3_funds_sends_and_reads_blocks_on_a_cometbft_node(net: Testnet, tmp_path: Path) -> None:
    v = net.validators[0]
    w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{v.jsonrpc_port}"))
    assert w3.eth.chain_id == 0x5643
    acct = Account.create()
    alice = dev_key("alice")
    client = NodeClient(v.rpc_url, timeout=20)
    to = to_bech32(bytes.fromhex(acct.address[2:]))
    r = client.send_tx(alice, [msg_send(alice, to, 2 * VCN)], mode="sync")
    assert r.ok, r.log
    wait_for("the funding", lambda: w3.eth.get_balance(acct.address) == 2 * VCN, 60, poll=0.2)
    base = w3.eth.get_block("latest")["baseFeePerGas"]
    signed = acct.sign_transaction(
        {
            "type": 2,
            "chainId": 0x5643,
            "nonce": 0,
            "to": "0x" + "00" * 19 + "99",
            "value": 7,
            "gas": 21_000,
            "maxFeePerGas": 2 * base,
            "maxPriorityFeePerGas": 0,
        }
    )
    h = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(h, timeout=60, poll_latency=0.2)
    assert receipt["status"] == 1
    blk = w3.eth.get_block(receipt["blockHash"])
    assert blk["number"] == receipt["blockNumber"] and h in blk["transactions"]
    # the consensus block hash and the proposer, as CometBFT has them
    comet = client.block(receipt["blockNumber"])
    assert blk["hash"].hex().upper() == comet["block_id"]["hash"]
    proposer = comet["block"]["header"]["proposer_address"]
    assert blk["miner"].lower() == "0x" + proposer.lower()
    assert w3.eth.get_transaction_count(acct.address, "pending") == 1


def test_websocket_subscriptions_on_a_cometbft_node(net: Testnet) -> None:
    """newHeads are CometBFT's blocks, and a tx CometBFT takes is a pending tx."""
    v = net.validators[0]
    w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{v.jsonrpc_port}"))
    acct = Account.create()
    alice = dev_key("alice")
    client = NodeClient(v.rpc_url, timeout=20)
    r = client.send_tx(alice, [msg_send(alice, to_bech32(bytes.fromhex(acct.address[2:])), VCN)])
    assert r.ok, r.log
    wait_for("the funding", lambda: w3.eth.get_balance(acct.address) == VCN, 60, poll=0.2)

    async def go() -> tuple[list[Any], Any, Any]:
        url = f"ws://127.0.0.1:{v.jsonrpc_port + 1}"  # jsonrpc_ws_laddr
        async with AsyncWeb3(WebSocketProvider(url)) as w3a:
            heads = await w3a.eth.subscribe("newHeads")
            pending = await w3a.eth.subscribe("newPendingTransactions")
            base = (await w3a.eth.get_block("latest"))["baseFeePerGas"]
            tx = {
                "type": 2,
                "chainId": 0x5643,
                "nonce": 0,
                "to": "0x" + "00" * 19 + "98",
                "value": 1,
                "gas": 21_000,
                "maxFeePerGas": 2 * base,
                "maxPriorityFeePerGas": 0,
            }
            sent = await w3a.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
            got: list[Any] = []
            seen = None

            async def take() -> None:
                nonlocal seen
                async for msg in w3a.socket.process_subscriptions():
                    if msg["subscription"] == pending:
                        seen = msg["result"]
                    elif msg["subscription"] == heads:
                        got.append(msg["result"])
                    if seen is not None and len(got) >= 2:
                        return

            await asyncio.wait_for(take(), 60)
            return got, seen, sent

    got, seen, sent = asyncio.run(go())
    assert seen == sent
    comet = NodeClient(v.rpc_url, timeout=20)
    for h in got:
        blk = comet.block(h["number"])
        assert h["hash"].hex().upper() == blk["block_id"]["hash"]
    assert got[1]["number"] == got[0]["number"] + 1
