"""The Ethereum JSON-RPC websocket (app/ethrpc/ws.py): web3.py's own subscription API
(``AsyncWeb3(WebSocketProvider)``) for newHeads, logs and pending txs, and the
``websockets`` client for the limits: subscriptions per connection, a client that
does not read, messages over the size limit.

One node in this process serves the module (solo, ``--instant`` and an empty
block every 300 ms); each test funds its own eth_account key.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import AsyncWeb3, Web3, WebSocketProvider

from app.ethrpc import ws as ethws
from app.node import Node
from chain.config import NodeConfig, load_config, render_toml
from chain.crypto import to_bech32
from chain.node import ListenError
from genesis.devnet import genesis_doc
from modules.auth import state as auth_state
from tests.support.chain import ALICE, VCN, msg_send, sign
from tests.support.nodes import free_port, inproc_node, write_genesis
from tests.support.wait import wait_for

CHAIN_ID = 0x5643
MAX_SUBS = 3
TOPIC = "0x" + "ab" * 32
# runtime: LOG1(0, 0, calldata[0:32]); init code: return that runtime
RUNTIME = bytes.fromhex("600035600060" + "00a100")
INIT = bytes([0x60, len(RUNTIME), 0x60, 12, 0x60, 0, 0x39, 0x60, len(RUNTIME), 0x60, 0, 0xF3])


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with inproc_node(
        tmp_path_factory.mktemp("ethws"),
        block_time_ms=300,
        jsonrpc_ws_laddr=f"127.0.0.1:{free_port()}",
        jsonrpc_ws_max_subscriptions=MAX_SUBS,
    ) as n:
        yield n


@pytest.fixture(scope="module")
def w3(node: Node) -> Web3:
    return Web3(
        Web3.HTTPProvider(f"http://{node.cfg.jsonrpc_laddr}", request_kwargs={"timeout": 30})
    )


def ws_url(node: Node) -> str:
    return f"ws://{node.cfg.jsonrpc_ws_laddr}"


def fund(node: Node, w3: Web3, to: str, amount: int) -> None:
    """A Cosmos bank send from alice to the 0x address ``to``; waits until web3 sees it."""
    before = w3.eth.get_balance(Web3.to_checksum_address(to))
    with node.lock:
        acc = auth_state.get_account(node.app.check_ctx(), ALICE.address)
    assert acc is not None
    raw = sign(
        ALICE,
        [msg_send(ALICE, to_bech32(bytes.fromhex(to[2:])), amount)],
        account_number=acc.number,
        sequence=acc.sequence,
    )
    res = node.mempool.check_and_add(raw)
    assert res.ok, res.log
    wait_for(
        "the funding",
        lambda: w3.eth.get_balance(Web3.to_checksum_address(to)) == before + amount,
        30,
        poll=0.1,
    )


def new_account(node: Node, w3: Web3) -> LocalAccount:
    a: LocalAccount = Account.create()
    fund(node, w3, a.address, 10 * VCN)
    return a


def signed_tx(w3: Web3, acct: LocalAccount, **tx: Any) -> bytes:
    base = w3.eth.get_block("latest")["baseFeePerGas"]
    full = {
        "type": 2,
        "chainId": CHAIN_ID,
        "nonce": w3.eth.get_transaction_count(acct.address, "pending"),
        "value": 0,
        "gas": 200_000,
        "maxFeePerGas": 2 * base,
        "maxPriorityFeePerGas": 0,
        **tx,
    }
    return bytes(acct.sign_transaction(full).raw_transaction)


def deploy_logger(w3: Web3, acct: LocalAccount) -> ChecksumAddress:
    """A contract that logs its calldata's first word as a topic; its address."""
    h = w3.eth.send_raw_transaction(signed_tx(w3, acct, data=INIT + RUNTIME))
    r = w3.eth.wait_for_transaction_receipt(h, timeout=30, poll_latency=0.1)
    assert r["status"] == 1 and r["contractAddress"] is not None
    return Web3.to_checksum_address(r["contractAddress"])


async def _next(w3a: Any, n: int, timeout: float = 20) -> list[Any]:
    """The next ``n`` subscription messages (web3.py's stream)."""
    out: list[Any] = []

    async def take() -> None:
        async for msg in w3a.socket.process_subscriptions():
            out.append(msg)
            if len(out) >= n:
                return

    await asyncio.wait_for(take(), timeout)
    return out


# -- web3.py's subscriptions -------------------------------------------------------------------
def test_web3_new_heads_are_the_blocks_http_serves(node: Node, w3: Web3) -> None:
    async def go() -> list[Any]:
        async with AsyncWeb3(WebSocketProvider(ws_url(node))) as w3a:
            assert await w3a.eth.chain_id == CHAIN_ID  # an HTTP method over the socket
            sid = await w3a.eth.subscribe("newHeads")
            assert isinstance(sid, str) and sid.startswith("0x")
            msgs = await _next(w3a, 3)
            assert all(m["subscription"] == sid for m in msgs)
            assert await w3a.eth.unsubscribe(sid) is True
            assert await w3a.eth.block_number >= msgs[-1]["result"]["number"]
            return [m["result"] for m in msgs]

    heads = asyncio.run(go())
    numbers = [h["number"] for h in heads]
    assert numbers == list(range(numbers[0], numbers[0] + 3))  # in order, none skipped
    for h in heads:
        blk = w3.eth.get_block(h["number"])
        assert h["hash"] == blk["hash"] and h["stateRoot"] == blk["stateRoot"]
        assert h["parentHash"] == blk["parentHash"]
        assert h["baseFeePerGas"] == blk["baseFeePerGas"]
        assert "transactions" not in h


def test_web3_logs_subscription_filters_by_address_and_topics(node: Node, w3: Web3) -> None:
    acct = new_account(node, w3)
    logger = deploy_logger(w3, acct)
    other = "0x" + "11" * 20

    async def go() -> tuple[list[Any], list[Any]]:  # the logs, the tx hashes
        async with AsyncWeb3(WebSocketProvider(ws_url(node))) as w3a:
            mine = await w3a.eth.subscribe("logs", {"address": logger, "topics": [TOPIC]})
            wrong_topic = await w3a.eth.subscribe("logs", {"topics": ["0x" + "cd" * 32]})
            wrong_addr = await w3a.eth.subscribe("logs", {"address": other})
            hashes = []
            for word in (TOPIC, "0x" + "ef" * 32, TOPIC):  # the middle one matches nothing
                raw = signed_tx(w3, acct, to=logger, data=word)
                hashes.append(w3.eth.send_raw_transaction(raw))
                w3.eth.wait_for_transaction_receipt(hashes[-1], timeout=30, poll_latency=0.1)
            msgs = await _next(w3a, 2)
            await asyncio.sleep(1.0)  # nothing else comes: the other filters match nothing
            with pytest.raises(TimeoutError):
                await _next(w3a, 1, timeout=0.5)
            assert {m["subscription"] for m in msgs} == {mine}
            assert wrong_topic != wrong_addr
            return msgs, hashes

    msgs, hashes = asyncio.run(go())
    logs = [m["result"] for m in msgs]
    assert [lg["transactionHash"] for lg in logs] == [hashes[0], hashes[2]]
    for lg in logs:
        assert lg["address"] == logger and [t.to_0x_hex() for t in lg["topics"]] == [TOPIC]
        # the same log as eth_getLogs has it
        same = w3.eth.get_logs({"blockHash": lg["blockHash"], "address": logger})
        assert same == [lg]


def test_web3_pending_transactions_and_http_methods_over_the_socket(node: Node, w3: Web3) -> None:
    acct = new_account(node, w3)

    async def go() -> tuple[Any, Any, Any]:
        async with AsyncWeb3(WebSocketProvider(ws_url(node))) as w3a:
            sid = await w3a.eth.subscribe("newPendingTransactions")
            raw = signed_tx(w3, acct, to="0x" + "22" * 20, value=5, gas=21_000)
            h = await w3a.eth.send_raw_transaction(raw)  # sent over the socket too
            (msg,) = await _next(w3a, 1)
            assert msg["subscription"] == sid
            receipt = await w3a.eth.wait_for_transaction_receipt(h, timeout=30, poll_latency=0.1)
            return msg["result"], receipt, h

    got, receipt, h = asyncio.run(go())
    assert got == h and receipt["status"] == 1


# -- limits and errors, with a plain websocket client ---------------------------------------------
async def _call(conn: Any, method: str, params: list[Any], rid: int = 1) -> dict[str, Any]:
    await conn.send(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}))
    while True:
        msg = json.loads(await asyncio.wait_for(conn.recv(), 10))
        if msg.get("id") == rid:
            return dict(msg)


def test_subscriptions_per_connection_under_at_and_over_the_limit(node: Node) -> None:
    async def go() -> None:
        async with websockets.connect(ws_url(node)) as conn:
            ids = []
            for i in range(MAX_SUBS):  # under, then at the limit
                r = await _call(conn, "eth_subscribe", ["newHeads"], i + 1)
                ids.append(r["result"])
            over = await _call(conn, "eth_subscribe", ["logs", {}], 99)
            assert over["error"]["code"] == -32005
            assert "jsonrpc_ws_max_subscriptions" in over["error"]["message"]
            assert (await _call(conn, "eth_unsubscribe", [ids[0]], 100))["result"] is True
            assert (await _call(conn, "eth_unsubscribe", [ids[0]], 101))["result"] is False
            again = await _call(conn, "eth_subscribe", ["newPendingTransactions"], 102)
            assert again["result"].startswith("0x")
            # the limit is per connection: another one has its own
            async with websockets.connect(ws_url(node)) as conn2:
                r = await _call(conn2, "eth_subscribe", ["newHeads"], 1)
                assert "result" in r

    asyncio.run(go())


def test_subscribe_errors_are_json_rpc_errors(node: Node) -> None:
    bad: list[list[Any]] = [
        [],
        ["syncingx"],
        [1],
        ["newHeads", {"x": 1}],
        ["logs", 5],
        ["logs", {"address": "0x12"}],
        ["logs", {"topics": ["0x12"]}],
        ["logs", {"blockHash": "0x" + "00" * 32}],
        ["newPendingTransactions", True],
        ["newHeads", None, None],
    ]

    async def go() -> None:
        async with websockets.connect(ws_url(node)) as conn:
            for i, params in enumerate(bad):
                r = await _call(conn, "eth_subscribe", params, i + 1)
                assert r["error"]["code"] == -32602, (params, r)
            r = await _call(conn, "eth_unsubscribe", [], 50)
            assert r["error"]["code"] == -32602
            # a batch mixing both kinds of methods
            batch = [
                {"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]},
                {"jsonrpc": "2.0", "id": 2, "method": "eth_chainId"},
                {"jsonrpc": "2.0", "method": "eth_subscribe", "params": ["newHeads"]},
            ]
            await conn.send(json.dumps(batch))
            while True:
                got = json.loads(await asyncio.wait_for(conn.recv(), 10))
                if isinstance(got, list):
                    break
            assert [x["id"] for x in got] == [1, 2]
            assert got[1]["result"] == hex(CHAIN_ID)

    asyncio.run(go())


def test_a_message_over_the_size_limit_is_refused_and_the_socket_stays_open(
    node: Node,
) -> None:
    most = node.cfg.jsonrpc_max_body_bytes

    async def go() -> None:
        async with websockets.connect(ws_url(node), max_size=None) as conn:
            pad = " " * most
            at = '{"jsonrpc":"2.0","id":7,"method":"eth_chainId"}'
            msg = at + pad[: most - len(at)]
            assert len(msg) == most
            await conn.send(msg)  # at the limit
            assert json.loads(await asyncio.wait_for(conn.recv(), 20))["result"] == hex(CHAIN_ID)
            await conn.send(msg + " ")  # over
            r = json.loads(await asyncio.wait_for(conn.recv(), 20))
            assert (
                r["error"]["code"] == -32600 and "jsonrpc_max_body_bytes" in r["error"]["message"]
            )
            assert (await _call(conn, "eth_chainId", [], 8))["result"] == hex(CHAIN_ID)

    asyncio.run(go())


def test_a_client_that_does_not_read_is_cut_off_and_others_go_on(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ethws, "MAX_QUEUED", 20)
    big_id = "x" * 100_000

    async def go() -> None:
        async with websockets.connect(
            ws_url(node), max_queue=4, max_size=None, compression=None
        ) as slow:
            await _call(slow, "eth_subscribe", ["newHeads"], 1)

            async def flood() -> None:
                for _ in range(300):  # 30 MB of answers it does not read
                    req = {"jsonrpc": "2.0", "id": big_id, "method": "eth_chainId"}
                    await slow.send(json.dumps(req))

            sending = asyncio.create_task(flood())
            await asyncio.wait_for(sending, 30)  # the node reads on: the sends go through
            async with websockets.connect(ws_url(node)) as other:
                # another client is answered meanwhile, and the node goes on
                h0 = int((await _call(other, "eth_blockNumber", []))["result"], 16)
                await asyncio.sleep(1.0)
                h1 = int((await _call(other, "eth_blockNumber", [], 2))["result"], 16)
                assert h1 > h0
            n = 0
            with pytest.raises(websockets.ConnectionClosed) as e:
                while True:
                    await asyncio.wait_for(slow.recv(), 20)
                    n += 1
            assert n < 300
            assert e.value.rcvd is not None and e.value.rcvd.code == 1008
            assert "not reading" in e.value.rcvd.reason

    asyncio.run(go())


def test_the_websocket_setting_in_config_env_and_flag(tmp_path: Any) -> None:
    from app.cli.main import build_parser
    from app.cli.start_cmd import overrides_of

    assert NodeConfig().jsonrpc_ws_laddr == "127.0.0.1:8546"
    assert NodeConfig().jsonrpc_ws_max_subscriptions == 100
    NodeConfig(jsonrpc_ws_laddr="").validate()  # off
    with pytest.raises(ValueError, match="jsonrpc_ws_laddr"):
        NodeConfig(jsonrpc_ws_laddr="8546").validate()
    with pytest.raises(ValueError, match="jsonrpc_ws_max_subscriptions"):
        NodeConfig(jsonrpc_ws_max_subscriptions=0).validate()
    assert 'jsonrpc_ws_laddr = "127.0.0.1:8546"' in render_toml()
    args = build_parser().parse_args(["start", "--jsonrpc-ws-laddr", ""])
    assert overrides_of(args)["jsonrpc_ws_laddr"] == ""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text('jsonrpc_ws_laddr = ""\n')
    assert load_config(tmp_path).jsonrpc_ws_laddr == ""
    monkey = pytest.MonkeyPatch()
    monkey.setenv("VCOIN_JSONRPC_WS_LADDR", "0.0.0.0:9546")
    try:
        assert load_config(tmp_path).jsonrpc_ws_laddr == "0.0.0.0:9546"
    finally:
        monkey.undo()


def test_a_held_websocket_port_stops_the_node_and_off_serves_none(tmp_path: Path) -> None:
    write_genesis(tmp_path, genesis_doc())
    rpc, rest, http = (f"127.0.0.1:{free_port()}" for _ in range(3))
    with socket.socket() as held:
        held.bind(("127.0.0.1", free_port()))
        held.listen()
        busy = f"127.0.0.1:{held.getsockname()[1]}"
        cfg = NodeConfig(
            home=str(tmp_path),
            rpc_laddr=rpc,
            rest_laddr=rest,
            jsonrpc_laddr=http,
            jsonrpc_ws_laddr=busy,
        )
        n = Node(cfg)
        with pytest.raises(
            ListenError, match=f"jsonrpc_ws: cannot listen on {busy}.*--jsonrpc-ws-laddr"
        ):
            n.start()
        n.stop()
    with socket.socket() as again:  # the JSON-RPC address it had bound is free again
        again.bind(("127.0.0.1", int(http.rpartition(":")[2])))
    with inproc_node(tmp_path / "off", jsonrpc_ws_laddr="") as off:
        assert "jsonrpc_ws" not in [t.name for t in off._threads]
