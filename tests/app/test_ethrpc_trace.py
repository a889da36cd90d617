"""debug_traceTransaction / debug_traceBlockBy* (geth's callTracer) on a node in process.

One node serves the module; ``activity`` sends the txs whose traces the tests read
(web3.py signs and sends them, as a wallet would): deploys, a plain transfer, a
contract that calls itself and the bank precompile (the inner frame reverting or
not), a STATICCALL, a CREATE2 that self-destructs, a value call and a revert.
The traces were recorded as the blocks ran (the node keeps no old state).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from app.node import Node
from chain.coins import DENOM
from modules.evm.tracing import TraceStore, to_json
from tests.app.test_ethrpc_web3 import CHAIN_ID, fees, fund, send
from tests.support.chain import VCN, Chain
from tests.support.evm import VCOIN, Evm, contract, eth_key
from tests.support.nodes import inproc_node

BUILD = Path(__file__).resolve().parents[2] / "contracts" / "build"
BANK = "0x0000000000000000000000000000000000000800"
SINK = "0x" + "51" * 20  # an account the probes pay
SINK_CS = Web3.to_checksum_address(SINK)


def artifact(name: str) -> dict[str, Any]:
    d: dict[str, Any] = json.loads((BUILD / f"{name}.json").read_text())
    return d


def rpc(node: Node, method: str, *params: Any) -> dict[str, Any]:
    """The whole JSON-RPC response (``result`` or ``error``)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    req = urllib.request.Request(
        f"http://{node.cfg.jsonrpc_laddr}",
        body.encode(),
        {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        out: dict[str, Any] = json.loads(r.read())
    return out


def result(node: Node, method: str, *params: Any) -> Any:
    out = rpc(node, method, *params)
    assert "error" not in out, out
    return out["result"]


CALL_TRACER = {"tracer": "callTracer"}


@dataclass
class Activity:
    acct: LocalAccount
    probe: Any  # BankProbe
    evm_probe: Any  # EvmProbe
    deploy: Any  # receipt of BankProbe's deploy
    transfer: Any  # plain value transfer to SINK
    inner_fail: Any  # sendInInnerFrame(fail=True): the inner frame reverts
    inner_ok: Any  # sendInInnerFrame(fail=False)
    static: Any  # staticBalanceOf: a STATICCALL of the precompile
    create2: Any  # createAndDestroy: CREATE2 + SELFDESTRUCT
    pay: Any  # pay: an internal value transfer
    revert: Any  # sendThenRevert: the top call reverts
    vcoin: Any  # VCoin.transfer: the bank precompile, then its Transfer event
    proxy: str  # a contract that DELEGATECALLs, then CALLCODEs, EvmProbe with its calldata
    proxied: Any  # a call of the proxy with EvmProbe.readTwice(1)'s calldata


def proxy_code(target: bytes) -> bytes:
    """Init code of a contract that DELEGATECALLs and then CALLCODEs ``target`` with its
    own calldata (the value of CALLCODE: 0) and stops."""
    copy = bytes.fromhex("36600060003" + "7")  # CALLDATACOPY(0, 0, CALLDATASIZE)
    args = bytes.fromhex("6000600036600" + "0")  # retSize, retOffset, argsSize, argsOffset
    to = b"\x73" + target + b"\x5a"  # PUSH20 target, GAS
    runtime = copy + args + to + b"\xf4\x50" + args + b"\x60\x00" + to + b"\xf2\x50\x00"
    r = len(runtime)
    # CODECOPY(0, 12, r); RETURN(0, r); then the runtime
    return bytes([0x60, r, 0x60, 12, 0x60, 0, 0x39, 0x60, r, 0x60, 0, 0xF3]) + runtime


def activity(node: Node, w3: Web3) -> Activity:
    acct: LocalAccount = Account.create()
    fund(node, w3, acct.address, 50 * VCN)

    def tx(extra: dict[str, Any]) -> Any:
        nonce = w3.eth.get_transaction_count(acct.address)
        return send(w3, acct, {"nonce": nonce, "chainId": CHAIN_ID, **fees(w3), **extra})

    def deployed(name: str) -> tuple[Any, Any]:
        a = artifact(name)
        r = tx({"data": a["bytecode"], "gas": 3_000_000})
        assert r["status"] == 1
        return w3.eth.contract(address=r["contractAddress"], abi=a["abi"]), r

    probe, deploy = deployed("BankProbe")
    evm_probe, _ = deployed("EvmProbe")
    sink = Web3.to_checksum_address(SINK)
    vcoin = w3.eth.contract(address=VCOIN, abi=artifact("VCoin")["abi"])

    def call(c: Any, fn: str, *args: Any, value: int = 0, gas: int = 400_000) -> Any:
        return tx(
            {"to": c.address, "data": c.encode_abi(fn, list(args)), "value": value, "gas": gas}
        )

    transfer = tx({"to": sink, "value": 12345, "gas": 21_000})
    fund_probe = tx({"to": probe.address, "value": 10**6, "gas": 100_000})
    assert fund_probe["status"] == 1
    made = tx(
        {"data": "0x" + proxy_code(bytes.fromhex(evm_probe.address[2:])).hex(), "gas": 200_000}
    )
    proxy = made["contractAddress"]
    read = evm_probe.encode_abi("readTwice", [1])
    return Activity(
        acct=acct,
        probe=probe,
        evm_probe=evm_probe,
        deploy=deploy,
        transfer=transfer,
        inner_fail=call(probe, "sendInInnerFrame", sink, 5, True),
        inner_ok=call(probe, "sendInInnerFrame", sink, 6, False),
        static=call(probe, "staticBalanceOf", sink),
        create2=call(evm_probe, "createAndDestroy", b"\x07" * 32, value=7),
        pay=call(evm_probe, "pay", sink, value=99),
        revert=call(probe, "sendThenRevert", sink, 1),
        vcoin=call(vcoin, "transfer", sink, 3),
        proxy=proxy,
        proxied=tx({"to": proxy, "data": read, "gas": 200_000}),
    )


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with inproc_node(tmp_path_factory.mktemp("trace")) as n:
        yield n


@pytest.fixture(scope="module")
def w3(node: Node) -> Web3:
    return Web3(
        Web3.HTTPProvider(f"http://{node.cfg.jsonrpc_laddr}", request_kwargs={"timeout": 30})
    )


@pytest.fixture(scope="module")
def act(node: Node, w3: Web3) -> Activity:
    return activity(node, w3)


def trace(node: Node, receipt: Any, **cfg: bool) -> dict[str, Any]:
    opts = {**CALL_TRACER, "tracerConfig": cfg} if cfg else CALL_TRACER
    out: dict[str, Any] = result(
        node, "debug_traceTransaction", receipt["transactionHash"].to_0x_hex(), opts
    )
    return out


def low(addr: str) -> str:
    return addr.lower()


def test_a_nested_call_into_the_precompile_whose_frame_reverts(node: Node, act: Activity) -> None:
    top = trace(node, act.inner_fail, withLog=True)
    assert top["type"] == "CALL"
    assert top["from"] == low(act.acct.address) and top["to"] == low(act.probe.address)
    assert top["value"] == "0x0" and "error" not in top
    assert int(top["gasUsed"], 16) == act.inner_fail["gasUsed"]  # the receipt's gas
    assert top["output"] == "0x" + "00" * 32  # sendInInnerFrame returned false
    (inner,) = top["calls"]
    assert inner["type"] == "CALL"
    assert inner["from"] == low(act.probe.address) and inner["to"] == low(act.probe.address)
    selector = act.probe.encode_abi("innerSend", [Web3.to_checksum_address(SINK), 5, True])
    assert inner["input"] == selector  # the whole calldata of the inner call
    assert inner["error"] == "execution reverted"
    assert inner["revertReason"] == "BankProbe: inner frame reverted"
    (bank,) = inner["calls"]
    assert bank["type"] == "CALL" and bank["to"] == BANK and bank["from"] == low(act.probe.address)
    assert "error" not in bank and bank["output"] == "0x" + "00" * 31 + "01"
    assert "logs" not in bank  # its frame's parent reverted: the bank's event is undone
    assert int(bank["gasUsed"], 16) > 0 and int(inner["gas"], 16) > int(bank["gas"], 16)


def test_logs_with_their_position_and_only_the_top_call(node: Node, act: Activity) -> None:
    full = trace(node, act.inner_ok, withLog=True)
    bank = full["calls"][0]["calls"][0]
    assert bank["to"] == BANK and "error" not in full["calls"][0]
    logs = bank["logs"]
    receipt = act.inner_ok["logs"]  # every log of the tx is the bank's, in this frame
    assert len(logs) == len(receipt) >= 1
    for log, r in zip(logs, receipt, strict=True):
        assert log["address"] == BANK and log["position"] == "0x0"  # before any call
        assert log["topics"] == [t.to_0x_hex() for t in r["topics"]]
        assert log["data"] == r["data"].to_0x_hex()
    vc = trace(node, act.vcoin, withLog=True)
    (transfer,) = vc["logs"]  # emitted by VCoin after its call to the bank: position 1
    assert transfer["address"] == VCOIN.lower() and transfer["position"] == "0x1"
    assert (
        transfer["topics"][0] == Web3.keccak(text="Transfer(address,address,uint256)").to_0x_hex()
    )
    assert vc["calls"][0]["to"] == BANK and len(vc["calls"]) == 1
    plain = trace(node, act.inner_ok)
    assert "logs" not in plain["calls"][0]["calls"][0]  # logs only with withLog
    top = trace(node, act.inner_ok, onlyTopCall=True)
    assert "calls" not in top and top["gasUsed"] == plain["gasUsed"]


def test_create_create2_selfdestruct_static_and_value_calls(
    node: Node, w3: Web3, act: Activity
) -> None:
    made = trace(node, act.deploy)
    assert made["type"] == "CREATE" and made["to"] == low(act.deploy["contractAddress"])
    assert made["input"] == artifact("BankProbe")["bytecode"]
    assert made["output"] == w3.eth.get_code(act.deploy["contractAddress"]).to_0x_hex()
    c2 = trace(node, act.create2)
    (child,) = c2["calls"]
    assert child["type"] == "CREATE2" and child["value"] == "0x7" and child["input"] == "0x33ff"
    assert child["from"] == low(act.evm_probe.address)
    (sd,) = child["calls"]
    assert sd["type"] == "SELFDESTRUCT" and sd["from"] == child["to"]
    assert sd["to"] == low(act.evm_probe.address) and sd["value"] == "0x7"
    static = trace(node, act.static)["calls"][0]
    assert static["type"] == "STATICCALL" and static["to"] == BANK and "value" not in static
    paid = trace(node, act.pay)["calls"][0]
    assert paid["type"] == "CALL" and paid["to"] == SINK and paid["value"] == hex(99)
    assert paid["input"] == "0x"
    plain = trace(node, act.transfer)
    assert plain["to"] == SINK and plain["value"] == hex(12345) and "calls" not in plain
    assert plain["gasUsed"] == hex(21_000) and plain["input"] == "0x"


def test_delegatecall_and_callcode(node: Node, act: Activity) -> None:
    top = trace(node, act.proxied)
    assert top["to"] == low(act.proxy) and top["value"] == "0x0"
    delegated, code_call = top["calls"]
    read = act.evm_probe.encode_abi("readTwice", [1])
    assert delegated["type"] == "DELEGATECALL" and code_call["type"] == "CALLCODE"
    for f in (delegated, code_call):
        assert f["from"] == low(act.proxy) and f["to"] == low(act.evm_probe.address)
        assert f["input"] == read and "error" not in f
        assert int(f["output"], 16) == 1  # readTwice(1) of an empty slot: 0 + 0 + 1
    assert delegated["value"] == code_call["value"] == "0x0"


def test_a_reverted_tx(node: Node, act: Activity) -> None:
    assert act.revert["status"] == 0
    top = trace(node, act.revert)
    assert top["error"] == "execution reverted"
    assert top["revertReason"] == "BankProbe: reverted after the bank send"
    assert top["calls"][0]["to"] == BANK  # the send ran, then the whole call reverted


def test_trace_block_by_number_and_hash(node: Node, act: Activity) -> None:
    r = act.inner_fail
    by_number = result(node, "debug_traceBlockByNumber", hex(r["blockNumber"]), CALL_TRACER)
    by_hash = result(node, "debug_traceBlockByHash", r["blockHash"].to_0x_hex(), CALL_TRACER)
    assert by_number == by_hash
    hashes = [t["txHash"] for t in by_number]
    assert r["transactionHash"].to_0x_hex() in hashes
    one = next(t for t in by_number if t["txHash"] == r["transactionHash"].to_0x_hex())
    assert one["result"] == trace(node, r)
    empty = result(node, "debug_traceBlockByNumber", "0x1", CALL_TRACER)
    assert empty == []  # block 1 has no Ethereum txs


def test_other_tracers_and_unknown_txs_are_clear_errors(node: Node, act: Activity) -> None:
    h = act.transfer["transactionHash"].to_0x_hex()
    for opts in ({"tracer": "prestateTracer"}, {}, None):
        params = [h] if opts is None else [h, opts]
        err = rpc(node, "debug_traceTransaction", *params)["error"]
        assert err["code"] == -32602 and "callTracer" in err["message"]
    err = rpc(node, "debug_traceBlockByNumber", "latest", {"tracer": "4byteTracer"})["error"]
    assert err["code"] == -32602 and "callTracer" in err["message"]
    missing = rpc(node, "debug_traceTransaction", "0x" + "ab" * 32, CALL_TRACER)["error"]
    assert missing["code"] == -32000 and "not found" in missing["message"]


def test_traces_do_not_change_the_app_hash_and_old_blocks_are_pruned(
    make_app: Any, tmp_path: Path
) -> None:
    traced, plain = make_app(), make_app()
    keeper = traced.wiring.keepers["evm"]
    keeper.traces = TraceStore(tmp_path / "traces", keep_blocks=2)
    try:
        e = Evm(Chain(traced))
        a = eth_key(7)
        e.fund(a, amount=10 * VCN)
        probe = e.deploy(a, "BankProbe")
        assert e.one(e.tx(a, probe, value=10**6, gas=100_000)).code == 0
        hashes = []
        for i in range(3):
            raw = e.invoke(
                a, contract("BankProbe", probe), "sendInInnerFrame", SINK_CS, i, i % 2 == 0
            )
            hashes.append(Web3.keccak(raw))
            assert e.one(raw).code == 0
        e.chain.replay(plain)
        assert plain.info().last_block_app_hash == traced.info().last_block_app_hash
        assert (
            plain.bank.balance(plain.query_ctx(), bytes.fromhex(SINK[2:]), DENOM) == 1
        )  # i = 1 stood
        top = e.chain.height
        assert keeper.traces.oldest() == top - 1  # the last two blocks only
        bank = bytes.fromhex(BANK[2:])
        assert keeper.traces.touched(bank) == [top - 1, top]  # its index is pruned too
        assert keeper.traces.touching(top, bank) == {0}
        assert keeper.traces.tx(bytes(hashes[0]), top - 2, 0) is None
        last = keeper.traces.tx(bytes(hashes[2]), top, 0)
        assert last is not None and to_json(last)["calls"][0]["error"] == "execution reverted"
        assert keeper.traces.tx(bytes(hashes[1]), top, 0) is None  # not that block's tx
        assert keeper.traces.creator(bytes.fromhex(probe[2:]))["creator"] == a.address.lower()
        keeper.traces.close()  # writes the last block's batch: a restarted node has it
        keeper.traces = TraceStore(tmp_path / "traces", keep_blocks=2)
        assert keeper.traces.tx(bytes(hashes[2]), top, 0) == last
        assert keeper.traces.oldest() == top - 1
    finally:
        keeper.traces.close()


def test_traces_outlive_a_restart(tmp_path: Path) -> None:
    home = tmp_path / "restart"
    with inproc_node(home) as first:
        w3 = Web3(Web3.HTTPProvider(f"http://{first.cfg.jsonrpc_laddr}"))
        acct: LocalAccount = Account.create()
        fund(first, w3, acct.address, 5 * VCN)
        vcoin = w3.eth.contract(address=VCOIN, abi=artifact("VCoin")["abi"])
        tx = {
            "to": VCOIN,
            "data": vcoin.encode_abi("transfer", [SINK_CS, 4]),
            "gas": 200_000,
            "nonce": 0,
            "chainId": CHAIN_ID,
            **fees(w3),
        }
        r = send(w3, acct, tx)  # its trace is not read here: the store holds it in memory
    # stopped cleanly: the last block's traces were written as the store closed
    with inproc_node(home) as again:
        top = trace(again, r, withLog=True)
    assert top["from"] == low(acct.address) and top["to"] == VCOIN.lower()
    assert top["calls"][0]["to"] == BANK and top["logs"][0]["position"] == "0x1"
