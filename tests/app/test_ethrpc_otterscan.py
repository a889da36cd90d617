"""Probe of what two explorers ask of the node: every method of Otterscan's list
(``ots_*`` at API level 8, ``erigon_getHeaderByNumber``) and of Blockscout's, each
answer checked for its shape and its values, on a node in process with real
activity (tests/app/test_ethrpc_trace.py's ``activity``: deploys, a plain transfer,
a contract calling itself and the bank precompile, an inner revert, a STATICCALL, a
CREATE2 that self-destructs, an internal value transfer, a reverted tx, a VCoin
transfer) and one storage write.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_abi.abi import encode
from web3 import Web3

from app.node import Node
from tests.app.test_ethrpc_trace import (
    BANK,
    CALL_TRACER,
    CHAIN_ID,
    SINK,
    Activity,
    activity,
    fees,
    low,
    result,
    rpc,
    send,
)
from tests.support.evm import VCOIN
from tests.support.nodes import inproc_node

HEX32 = 66  # len("0x" + 64 hex digits)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with inproc_node(tmp_path_factory.mktemp("otterscan")) as n:
        yield n


@pytest.fixture(scope="module")
def w3(node: Node) -> Web3:
    return Web3(
        Web3.HTTPProvider(f"http://{node.cfg.jsonrpc_laddr}", request_kwargs={"timeout": 30})
    )


@pytest.fixture(scope="module")
def act(node: Node, w3: Web3) -> Activity:
    return activity(node, w3)


@pytest.fixture(scope="module")
def stored(w3: Web3, act: Activity) -> Any:
    """EvmProbe.storePattern(41): slots 0 (a) and 1 (b) hold 41."""
    c = act.evm_probe
    tx = {
        "to": c.address,
        "data": c.encode_abi("storePattern", [41]),
        "gas": 200_000,
        "nonce": w3.eth.get_transaction_count(act.acct.address),
        "chainId": CHAIN_ID,
        **fees(w3),
    }
    r = send(w3, act.acct, tx)
    assert r["status"] == 1
    return r


def h(x: Any) -> str:
    return x.to_0x_hex() if hasattr(x, "to_0x_hex") else str(x)


# -- Otterscan ------------------------------------------------------------------------------
def test_api_level_and_erigon_header(node: Node, act: Activity) -> None:
    assert result(node, "ots_getApiLevel") == 8
    n = hex(act.inner_fail["blockNumber"])
    header = result(node, "erigon_getHeaderByNumber", n)
    block = result(node, "eth_getBlockByNumber", n, False)
    assert header["hash"] == block["hash"] == h(act.inner_fail["blockHash"])
    assert "transactions" not in header and "uncles" not in header
    for k in ("parentHash", "stateRoot", "timestamp", "miner", "baseFeePerGas", "gasUsed"):
        assert header[k] == block[k]
    assert result(node, "erigon_getHeaderByNumber", act.inner_fail["blockNumber"]) == header
    assert result(node, "erigon_getHeaderByNumber", hex(10**9)) is None


def test_has_code(node: Node, act: Activity) -> None:
    assert result(node, "ots_hasCode", act.probe.address, "latest") is True
    assert result(node, "ots_hasCode", VCOIN, hex(act.deploy["blockNumber"])) is True
    assert result(node, "ots_hasCode", act.acct.address, "latest") is False
    assert result(node, "ots_hasCode", BANK, "latest") is False  # native, no EVM code


def test_internal_operations(node: Node, act: Activity) -> None:
    made = result(node, "ots_getInternalOperations", h(act.create2["transactionHash"]))
    assert [op["type"] for op in made] == [3, 1]  # CREATE2, then its SELFDESTRUCT
    child = made[0]["to"]
    assert made[0]["from"] == low(act.evm_probe.address) and made[0]["value"] == "0x7"
    assert made[1] == {
        "type": 1,
        "from": child,
        "to": low(act.evm_probe.address),
        "value": "0x7",
    }
    paid = result(node, "ots_getInternalOperations", h(act.pay["transactionHash"]))
    assert paid == [{"type": 0, "from": low(act.evm_probe.address), "to": SINK, "value": "0x63"}]
    assert result(node, "ots_getInternalOperations", h(act.transfer["transactionHash"])) == []


def test_transaction_error(node: Node, act: Activity) -> None:
    reason = "BankProbe: reverted after the bank send"
    want = "0x08c379a0" + encode(["string"], [reason]).hex()
    assert result(node, "ots_getTransactionError", h(act.revert["transactionHash"])) == want
    assert result(node, "ots_getTransactionError", h(act.inner_fail["transactionHash"])) == "0x"


def test_ots_trace_transaction(node: Node, act: Activity) -> None:
    steps = result(node, "ots_traceTransaction", h(act.inner_fail["transactionHash"]))
    assert [(s["type"], s["depth"]) for s in steps] == [("CALL", 0), ("CALL", 1), ("CALL", 2)]
    top, inner, bank = steps
    assert top["from"] == low(act.acct.address) and top["to"] == low(act.probe.address)
    assert inner["from"] == inner["to"] == low(act.probe.address)
    assert inner["input"][:10] == act.probe.encode_abi("innerSend", [SINK_CS, 5, True])[:10]
    assert bank["to"] == BANK and bank["value"] == "0x0"
    static = result(node, "ots_traceTransaction", h(act.static["transactionHash"]))
    assert static[1]["type"] == "STATICCALL" and static[1]["value"] is None


SINK_CS = Web3.to_checksum_address(SINK)


def test_block_details(node: Node, w3: Web3, act: Activity) -> None:
    r = act.inner_fail
    d = result(node, "ots_getBlockDetails", r["blockNumber"])
    assert d == result(node, "ots_getBlockDetailsByHash", h(r["blockHash"]))
    block = d["block"]
    full = result(node, "eth_getBlockByNumber", hex(r["blockNumber"]), False)
    assert block["hash"] == full["hash"] and block["number"] == full["number"]
    assert "transactions" not in block and block["logsBloom"] is None
    assert block["transactionCount"] == len(full["transactions"]) >= 1
    receipts = result(node, "eth_getBlockReceipts", hex(r["blockNumber"]))
    paid = sum(int(x["gasUsed"], 16) * int(x["effectiveGasPrice"], 16) for x in receipts)
    assert int(d["totalFees"], 16) == paid > 0
    assert set(d["issuance"]) == {"blockReward", "uncleReward", "issuance"}


def test_block_transactions(node: Node, act: Activity) -> None:
    n = act.inner_fail["blockNumber"]
    page = result(node, "ots_getBlockTransactions", n, 0, 25)
    full = result(node, "eth_getBlockByNumber", hex(n), True)
    txs = page["fullblock"]["transactions"]
    assert [t["hash"] for t in txs] == [t["hash"] for t in full["transactions"]]
    assert page["fullblock"]["transactionCount"] == len(txs)
    ours = next(t for t in txs if t["hash"] == h(act.inner_fail["transactionHash"]))
    assert ours["input"] == full["transactions"][txs.index(ours)]["input"][:10]  # selector
    assert [x["transactionHash"] for x in page["receipts"]] == [t["hash"] for t in txs]
    assert all(x["logs"] is None and x["logsBloom"] is None for x in page["receipts"])
    last = result(node, "ots_getBlockTransactions", n, 0, 1)  # pages count from the end
    assert [t["hash"] for t in last["fullblock"]["transactions"]] == [txs[-1]["hash"]]


def test_search_transactions_before_and_after(node: Node, w3: Web3, act: Activity) -> None:
    me = act.acct.address
    sent = w3.eth.get_transaction_count(me)
    everything = result(node, "ots_searchTransactionsBefore", me, 0, 100)
    assert everything["firstPage"] is True and everything["lastPage"] is True
    hashes = [t["hash"] for t in everything["txs"]]
    assert len(hashes) == sent  # every tx it sent (it received none)
    numbers = [int(t["blockNumber"], 16) for t in everything["txs"]]
    assert numbers == sorted(numbers, reverse=True)  # newest first
    assert h(act.deploy["transactionHash"]) == hashes[-1]
    assert [r["transactionHash"] for r in everything["receipts"]] == hashes
    assert all(int(r["timestamp"], 16) > 0 for r in everything["receipts"])
    # page by page, back in time, the same list
    pages: list[str] = []
    before = 0
    while True:
        page = result(node, "ots_searchTransactionsBefore", me, before, 2)
        assert page["firstPage"] is (before == 0)
        pages += [t["hash"] for t in page["txs"]]
        if page["lastPage"]:
            break
        before = int(page["txs"][-1]["blockNumber"], 16)
    assert pages == hashes
    after = result(node, "ots_searchTransactionsAfter", me, 0, 100)
    assert [t["hash"] for t in after["txs"]] == hashes
    assert after["firstPage"] is True and after["lastPage"] is True
    first = result(node, "ots_searchTransactionsAfter", me, 0, 1)
    assert first["txs"][-1]["hash"] == hashes[-1] and first["firstPage"] is False
    # the sink only received: at the top level (the transfer) and in an inner call (pay)
    sink = result(node, "ots_searchTransactionsBefore", SINK_CS, 0, 100)
    want = [h(act.pay["transactionHash"]), h(act.transfer["transactionHash"])]
    assert [t["hash"] for t in sink["txs"]] == want
    # the bank precompile is only ever called from inside txs
    bank = result(node, "ots_searchTransactionsBefore", BANK, 0, 100)
    calls_bank = [act.vcoin, act.revert, act.static, act.inner_ok, act.inner_fail]
    assert [t["hash"] for t in bank["txs"]] == [h(r["transactionHash"]) for r in calls_bank]
    later = result(node, "ots_searchTransactionsAfter", BANK, act.inner_ok["blockNumber"], 100)
    assert [t["hash"] for t in later["txs"]] == [h(r["transactionHash"]) for r in calls_bank[:3]]


def test_transaction_by_sender_and_nonce(node: Node, act: Activity) -> None:
    me = act.acct.address
    got = result(node, "ots_getTransactionBySenderAndNonce", me, 0)
    assert got == h(act.deploy["transactionHash"])
    nonce = int(
        result(node, "eth_getTransactionByHash", h(act.pay["transactionHash"]))["nonce"], 16
    )
    assert result(node, "ots_getTransactionBySenderAndNonce", me, nonce) == h(
        act.pay["transactionHash"]
    )
    assert result(node, "ots_getTransactionBySenderAndNonce", me, 10_000) is None


def test_contract_creator(node: Node, act: Activity) -> None:
    got = result(node, "ots_getContractCreator", act.probe.address)
    assert got == {"hash": h(act.deploy["transactionHash"]), "creator": act.acct.address}
    assert result(node, "ots_getContractCreator", act.acct.address) is None  # not a contract
    assert result(node, "ots_getContractCreator", VCOIN) is None  # made at genesis


# -- Blockscout -----------------------------------------------------------------------------
def test_blockscout_blocks_and_txs(node: Node, act: Activity) -> None:
    r = act.inner_fail
    tx_hash, n = h(r["transactionHash"]), hex(r["blockNumber"])
    assert int(result(node, "eth_blockNumber"), 16) >= r["blockNumber"]
    by_number = result(node, "eth_getBlockByNumber", n, True)
    by_hash = result(node, "eth_getBlockByHash", h(r["blockHash"]), True)
    assert by_number == by_hash
    hashes_only = result(node, "eth_getBlockByNumber", n, False)
    assert hashes_only["transactions"] == [t["hash"] for t in by_number["transactions"]]
    assert tx_hash in hashes_only["transactions"]
    for k in ("hash", "parentHash", "timestamp", "miner", "gasLimit", "gasUsed", "stateRoot"):
        assert isinstance(by_number[k], str) and by_number[k].startswith("0x")
    i = hex(r["transactionIndex"])
    tx = result(node, "eth_getTransactionByHash", tx_hash)
    assert tx == result(node, "eth_getTransactionByBlockHashAndIndex", h(r["blockHash"]), i)
    assert tx == result(node, "eth_getTransactionByBlockNumberAndIndex", n, i)
    assert tx["from"] == act.acct.address and tx["to"] == act.probe.address
    assert tx["input"] == act.probe.encode_abi("sendInInnerFrame", [SINK_CS, 5, True])
    receipt = result(node, "eth_getTransactionReceipt", tx_hash)
    assert receipt["status"] == "0x1" and receipt["blockHash"] == h(r["blockHash"])
    assert receipt in result(node, "eth_getBlockReceipts", n)
    assert result(node, "eth_getUncleByBlockHashAndIndex", h(r["blockHash"]), "0x0") is None


def test_blockscout_logs_and_storage(node: Node, act: Activity, stored: Any) -> None:
    r = act.vcoin
    logs = result(
        node,
        "eth_getLogs",
        {"fromBlock": hex(r["blockNumber"]), "toBlock": hex(r["blockNumber"]), "address": VCOIN},
    )
    (transfer,) = logs
    assert transfer["transactionHash"] == h(r["transactionHash"])
    assert (
        transfer["topics"][0] == Web3.keccak(text="Transfer(address,address,uint256)").to_0x_hex()
    )
    assert int(transfer["data"], 16) == 3
    probe = act.evm_probe.address
    for slot in ("0x0", "0x1"):  # a and b of EvmProbe after storePattern(41)
        value = result(node, "eth_getStorageAt", probe, slot, "latest")
        assert len(value) == HEX32 and int(value, 16) == 41
    assert int(result(node, "eth_getStorageAt", probe, "0x2", "latest"), 16) == 0


def test_blockscout_traces(node: Node, act: Activity) -> None:
    r = act.inner_fail
    top = result(node, "debug_traceTransaction", h(r["transactionHash"]), CALL_TRACER)
    (inner,) = top["calls"]
    assert inner["from"] == inner["to"] == low(act.probe.address) and inner["value"] == "0x0"
    assert inner["input"] == act.probe.encode_abi("innerSend", [SINK_CS, 5, True])
    assert inner["error"] == "execution reverted"
    assert inner["calls"][0]["to"] == BANK
    block = result(node, "debug_traceBlockByNumber", hex(r["blockNumber"]), CALL_TRACER)
    assert {"txHash": h(r["transactionHash"]), "result": top} in block
    assert len(block) == len(
        result(node, "eth_getBlockByNumber", hex(r["blockNumber"]), False)["transactions"]
    )
    bad = rpc(node, "debug_traceTransaction", h(r["transactionHash"]), {"tracer": "flatCallTracer"})
    assert bad["error"]["code"] == -32602
