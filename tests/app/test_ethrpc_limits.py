"""The Ethereum JSON-RPC against hostile and wrong input, and its settings.

Every bad request gets a JSON-RPC error (never a traceback or a 500), and the
server keeps serving on the same connection afterwards.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.cli.main import build_parser
from app.cli.start_cmd import overrides_of
from app.node import Node
from chain.config import NodeConfig, load_config, render_toml
from chain.node import ListenError
from genesis.devnet import genesis_doc
from tests.support.nodes import free_port, inproc_node, running_node, write_genesis
from tests.support.wait import wait_for

LOGS_MAX_BLOCKS = 3
MAX_ANSWER = 20_000
CALL_GAS_CAP = 100_000


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    home = tmp_path_factory.mktemp("ethrpc-limits")
    limits = {
        "jsonrpc_logs_max_blocks": LOGS_MAX_BLOCKS,
        "jsonrpc_max_response_bytes": MAX_ANSWER,
        "jsonrpc_call_gas_cap": CALL_GAS_CAP,
    }
    with inproc_node(home, **limits) as n:
        wait_for("a few blocks", lambda: n.app_info().last_block_height >= 4, 30)
        yield n


@pytest.fixture(scope="module")
def client(node: Node) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{node.cfg.jsonrpc_laddr}", timeout=30) as c:
        yield c


def post(client: httpx.Client, body: Any, raw: bytes | None = None) -> tuple[int, Any]:
    r = client.post(
        "/",
        content=raw if raw is not None else json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    assert "Traceback" not in r.text
    return r.status_code, (r.json() if r.content else None)


def req(method: str, *params: Any, rid: Any = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": list(params)}


def error_of(client: httpx.Client, body: Any, raw: bytes | None = None) -> dict[str, Any]:
    status, out = post(client, body, raw)
    assert status == 200, out
    assert "result" not in out, out
    err: dict[str, Any] = out["error"]
    assert isinstance(err["code"], int) and err["message"]
    return err


def still_serves(client: httpx.Client) -> None:
    status, out = post(client, req("eth_chainId"))
    assert status == 200 and out["result"] == "0x5643"


def test_malformed_json_and_bad_envelopes(client: httpx.Client) -> None:
    for raw in (b"{", b"", b"nope", b'{"jsonrpc": "2.0", "id": 1, "method": NaN}', b"\xff\xfe"):
        assert error_of(client, None, raw)["code"] == -32700
    deep = b"[" * 5000 + b"]" * 5000
    assert "nests deeper" in error_of(client, None, deep)["message"]
    assert error_of(client, 5)["code"] == -32600
    assert error_of(client, {"id": 1, "method": "eth_chainId"})["code"] == -32600  # no jsonrpc
    assert error_of(client, {"jsonrpc": "2.0", "id": 1, "method": 7})["code"] == -32600
    assert error_of(client, {"jsonrpc": "2.0", "id": [1], "method": "eth_chainId"})["code"] == (
        -32600
    )
    bad_params = {"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": {"a": 1}}
    assert error_of(client, bad_params)["code"] == -32602
    still_serves(client)


def test_unknown_method_and_wrong_parameters(client: httpx.Client) -> None:
    err = error_of(client, req("eth_mineGold"))
    assert err["code"] == -32601 and "eth_mineGold" in err["message"]
    cases: list[tuple[str, list[Any], str]] = [
        ("eth_getBalance", [12, "latest"], "address"),
        ("eth_getBalance", ["0x1234", "latest"], "20 bytes"),
        ("eth_getBalance", ["0x" + "00" * 20, "yesterday"], "block"),
        ("eth_getBalance", ["0x" + "00" * 20, "0x" + "f" * 100], "block"),
        ("eth_getBalance", [], "takes 1 to 2 parameters"),
        ("eth_getBlockByNumber", ["latest", "yes"], "true or false"),
        ("eth_getBlockByNumber", [{"x": 1}, False], "blockNumber or blockHash"),
        ("eth_getTransactionReceipt", ["0x12"], "32 bytes"),
        ("eth_call", ["not an object", "latest"], "object"),
        ("eth_call", [{"to": "0x" + "00" * 20, "value": "0x" + "f" * 80}], "value"),
        ("eth_call", [{"to": "0x" + "00" * 20, "data": "0x123"}], "whole bytes"),
        ("eth_feeHistory", ["0x4", "latest", [90, 10]], "increasing"),
        ("eth_feeHistory", [-1, "latest"], "blockCount"),
        ("eth_feeHistory", [2**70, "latest"], "blockCount"),
        ("eth_getLogs", [{"topics": "0x12"}], "topics"),
        ("eth_getLogs", [{"address": ["0x12"]}], "filter.address"),
        ("eth_sendRawTransaction", ["0xzz"], "hex"),
        ("eth_getStorageAt", ["0x" + "00" * 20, "slot zero"], "slot"),
    ]
    for method, params, words in cases:
        err = error_of(client, req(method, *params))
        assert err["code"] == -32602, (method, params, err)
        assert words in err["message"], (method, params, err)
    huge = b'{"jsonrpc": "2.0", "id": 1, "method": "eth_feeHistory", "params": [1e999, "latest"]}'
    err = error_of(client, None, huge)
    assert err["code"] == -32602 and "blockCount" in err["message"]
    # state the node does not keep, a block that is not there
    err = error_of(client, req("eth_getBalance", "0x" + "00" * 20, "0x1"))
    assert err["code"] == -32000 and "not kept" in err["message"]
    assert error_of(client, req("eth_getBalance", "0x" + "00" * 20, "0xffffff"))["code"] == -32000
    assert post(client, req("eth_getBlockByNumber", "0xffffff", False))[1]["result"] is None
    still_serves(client)


def test_batches(client: httpx.Client) -> None:
    status, out = post(
        client, [req("eth_chainId", rid=1), req("eth_nope", rid="b"), req("net_version", rid=3)]
    )
    assert status == 200 and [r["id"] for r in out] == [1, "b", 3]
    assert out[0]["result"] == "0x5643" and out[1]["error"]["code"] == -32601
    assert out[2]["result"] == str(0x5643)
    # a notification gets no answer: alone, an empty body; in a batch, no entry
    assert post(client, {"jsonrpc": "2.0", "method": "eth_chainId"}) == (200, None)
    status, out = post(client, [{"jsonrpc": "2.0", "method": "eth_chainId"}, req("eth_chainId")])
    assert len(out) == 1
    # nor when it fails (bad params, an unknown method), as on the websocket
    bad = [
        {"jsonrpc": "2.0", "method": "eth_chainId", "params": {}},
        {"jsonrpc": "2.0", "method": "eth_nope"},
    ]
    assert post(client, bad[0]) == (200, None)
    assert post(client, bad) == (200, None)
    status, out = post(client, [*bad, req("eth_chainId", rid=7)])
    assert [r["id"] for r in out] == [7]
    assert error_of(client, [])["code"] == -32600
    err = error_of(client, [req("eth_chainId", rid=i) for i in range(101)])
    assert err["code"] == -32600 and "at most 100" in err["message"]
    status, out = post(client, [req("eth_blockNumber", rid=i) for i in range(100)])
    assert status == 200 and len(out) == 100
    status, out = post(client, [1, req("eth_chainId")])
    assert out[0]["error"]["code"] == -32600 and out[1]["result"] == "0x5643"
    still_serves(client)


def test_an_answer_over_the_limit_is_an_error_in_its_place(client: httpx.Client) -> None:
    status, out = post(
        client, [req("eth_getBlockByNumber", "latest", False, rid=i) for i in range(40)]
    )
    assert status == 200 and len(out) == 40 and out[0]["result"]["number"]
    assert "result" in out[1] and out[-1]["id"] == 39
    err = out[-1]["error"]
    assert err["code"] == -32005 and "jsonrpc_max_response_bytes" in err["message"]
    assert len(json.dumps(out)) < MAX_ANSWER + 40 * 300
    still_serves(client)


def test_calls_run_at_most_the_gas_cap(client: httpx.Client) -> None:
    forever = {"data": "0x5b600056"}  # init code: JUMPDEST PUSH1 0 JUMP
    for gas in (None, hex(30_000_000)):
        call = forever if gas is None else {**forever, "gas": gas}
        err = error_of(client, req("eth_call", call))
        assert err == {"code": -32000, "message": "out of gas"}
        err = error_of(client, req("eth_estimateGas", call))
        assert err["message"] == f"gas required exceeds allowance ({CALL_GAS_CAP})"
    err = error_of(client, req("eth_call", {**forever, "gas": "0x5208"}))
    assert "intrinsic gas too low" in err["message"]
    still_serves(client)


def test_oversized_body_is_refused_and_the_connection_kept(client: httpx.Client) -> None:
    big = json.dumps(req("eth_sendRawTransaction", "0x" + "00" * (3 * 1024 * 1024))).encode()
    r = client.post("/", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == -32600
    assert "jsonrpc_max_body_bytes" in r.json()["error"]["message"]
    assert "Traceback" not in r.text
    # a large raw tx under the body limit: refused by size, clearly
    err = error_of(client, req("eth_sendRawTransaction", "0x02" + "00" * (200 * 1024)))
    assert err["code"] == -32602 and "over 131072 bytes" in err["message"]
    r = client.get("/")
    assert r.status_code == 405 and r.json()["error"]["code"] == -32600
    still_serves(client)


def test_get_logs_range_and_filter_limits(client: httpx.Client, node: Node) -> None:
    top = node.app_info().last_block_height
    ok = post(client, req("eth_getLogs", {"fromBlock": hex(top - 2), "toBlock": hex(top)}))[1]
    assert ok["result"] == []
    err = error_of(client, req("eth_getLogs", {"fromBlock": hex(top - 3), "toBlock": hex(top)}))
    assert err["code"] == -32005 and f"limit of {LOGS_MAX_BLOCKS}" in err["message"]
    err = error_of(client, req("eth_getLogs", {"fromBlock": "earliest"}))
    assert err["code"] == -32005
    err = error_of(client, req("eth_getLogs", {"fromBlock": hex(top), "toBlock": hex(top - 1)}))
    assert err["code"] == -32602
    both = {"blockHash": "0x" + "11" * 32, "fromBlock": "0x1"}
    assert error_of(client, req("eth_getLogs", both))["code"] == -32602
    unknown = error_of(client, req("eth_getLogs", {"blockHash": "0x" + "11" * 32}))
    assert unknown["code"] == -32000
    still_serves(client)


def test_block_tags_hashes_and_fee_history(client: httpx.Client, node: Node) -> None:
    top = node.app_info().last_block_height
    blocks = {}
    for tag in ("earliest", "latest", "safe", "finalized", "pending", hex(top - 1)):
        blk = post(client, req("eth_getBlockByNumber", tag, False))[1]["result"]
        assert blk is not None and blk["baseFeePerGas"] == hex(1_000_000_000), tag
        blocks[tag] = blk
    assert blocks["earliest"]["number"] == "0x1"
    one = blocks[hex(top - 1)]
    by_hash = post(client, req("eth_getBlockByHash", one["hash"], True))[1]["result"]
    assert by_hash == one
    parent = post(client, req("eth_getBlockByHash", one["parentHash"], False))[1]["result"]
    assert int(parent["number"], 16) == top - 2
    assert post(client, req("eth_getBlockByHash", "0x" + "22" * 32, False))[1]["result"] is None
    hist = post(client, req("eth_feeHistory", 3, "latest", [50]))[1]["result"]
    assert len(hist["baseFeePerGas"]) == 4 and hist["reward"] == [["0x0"]] * 3
    hist = post(client, req("eth_feeHistory", "0x0", "latest"))[1]["result"]
    assert hist["baseFeePerGas"] == []


def test_config_flag_env_and_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert NodeConfig().jsonrpc_laddr == "127.0.0.1:8545"
    NodeConfig(jsonrpc_laddr="").validate()  # off
    with pytest.raises(ValueError, match="jsonrpc_laddr"):
        NodeConfig(jsonrpc_laddr="8545").validate()
    assert 'jsonrpc_laddr = "127.0.0.1:8545"' in render_toml()
    args = build_parser().parse_args(["start", "--jsonrpc-laddr", ""])
    assert overrides_of(args)["jsonrpc_laddr"] == ""
    monkeypatch.setenv("VCOIN_JSONRPC_LADDR", "0.0.0.0:9545")
    assert load_config(tmp_path).jsonrpc_laddr == "0.0.0.0:9545"
    monkeypatch.delenv("VCOIN_JSONRPC_LADDR")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text('jsonrpc_laddr = ""\n')
    assert load_config(tmp_path).jsonrpc_laddr == ""


def test_a_held_port_stops_the_node_before_it_starts(tmp_path: Path) -> None:
    write_genesis(tmp_path, genesis_doc())
    rpc, rest = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    with socket.socket() as held:
        held.bind(("127.0.0.1", free_port()))
        held.listen()
        busy = f"127.0.0.1:{held.getsockname()[1]}"
        cfg = NodeConfig(home=str(tmp_path), rpc_laddr=rpc, rest_laddr=rest, jsonrpc_laddr=busy)
        node = Node(cfg)
        with pytest.raises(ListenError, match=f"jsonrpc: cannot listen on {busy}.*--jsonrpc-laddr"):
            node.start()
        node.stop()
    with socket.socket() as again:  # nothing else was bound
        again.bind(("127.0.0.1", int(rpc.rpartition(":")[2])))


def test_off_serves_nothing(tmp_path: Path) -> None:
    with inproc_node(tmp_path, jsonrpc_laddr="") as n:
        assert [t.name for t in n._threads] == ["rpc", "rest"]


GARBAGE: list[list[Any]] = [
    [],
    [None],
    [1],
    [-1],
    [True],
    ["0x"],
    ["0x0"],
    ["latest"],
    [{}],
    [[]],
    [{"blockHash": None}],
    ["0x" + "00" * 20, "latest"],
    ["0x" + "00" * 20, {"blockNumber": "0x1"}],
    ["0x" + "00" * 20, {"blockHash": "0x" + "00" * 32}],
    ["0x" + "ff" * 32, True],
    ["0x" + "ff" * 32, "0xffffffff"],
    ["latest", "0x" + "f" * 64],
    [{"to": "0x" + "00" * 20, "value": "0x" + "f" * 64}],
    [{"from": "0x" + "11" * 20, "to": "0x" + "00" * 19 + "01", "data": "0x" + "ff" * 64}],
    [{"data": "0x" + "fe" * 100}],
    [{"data": "0x60006000f3", "gas": "0x1"}],
    [{"to": "0x" + "00" * 20, "gas": "0x" + "f" * 16}],
    [{"fromBlock": "0x0", "toBlock": "0x0", "address": [], "topics": [[], None, [None]]}],
    [{"fromBlock": "pending", "topics": [["0x" + "00" * 32, None]]}],
    ["0x1", "latest", [0, 100.0, 50]],
    ["0x" + "02c0", 1, 2],
    [["nested", ["deeper", {"x": [1, 2, 3]}]], {"a": {"b": {"c": None}}}],
    ["0x" + "00" * 20, "0x" + "f" * 64, "latest"],
]


def test_every_method_answers_garbage_without_a_bug(client: httpx.Client, node: Node) -> None:
    from app.ethrpc.methods import EthApi

    methods = sorted(EthApi(node).methods)
    assert len(methods) >= 35
    for method in methods:
        batch = [req(method, *params, rid=i) for i, params in enumerate(GARBAGE)]
        status, out = post(client, batch)
        assert status == 200 and len(out) == len(GARBAGE)
        for r, params in zip(out, GARBAGE, strict=True):
            if "error" in r:
                assert r["error"]["code"] in (-32602, -32000, -32005, 3), (method, params, r)
    still_serves(client)


def test_vcoind_start_serves_it_on_the_flag_address(tmp_path: Path) -> None:
    with running_node(tmp_path / "home") as n:
        assert n.jsonrpc
        with httpx.Client(base_url=n.jsonrpc, timeout=30) as c:
            status, out = post(c, [req("eth_chainId"), req("web3_clientVersion", rid=2)])
        assert status == 200 and out[0]["result"] == "0x5643"
        assert out[1]["result"].startswith("vcoin/v")
    assert "jsonrpc listening on http://127.0.0.1:" in n.log()


def test_filters_are_bounded_and_expire(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.ethrpc import filters

    monkeypatch.setattr(filters, "FILTER_TTL_S", 0.0)  # the next creation drops the others
    assert post(client, req("eth_uninstallFilter", "0x00"))[1]["result"] is False
    post(client, req("eth_newBlockFilter"))
    monkeypatch.setattr(filters, "FILTER_TTL_S", 300.0)
    monkeypatch.setattr(filters, "MAX_FILTERS", 2)
    ids = [post(client, req("eth_newBlockFilter"))[1]["result"] for _ in range(1)]
    err = error_of(client, req("eth_newBlockFilter"))
    assert err["code"] == -32005 and "uninstall" in err["message"]
    monkeypatch.setattr(filters, "FILTER_TTL_S", 0.0)
    assert error_of(client, req("eth_getFilterChanges", ids[0]))["message"] == "filter not found"
    assert post(client, req("eth_newBlockFilter"))[1]["result"].startswith("0x")
    bad = {"blockHash": "0x" + "00" * 32}
    assert error_of(client, req("eth_newFilter", bad))["code"] == -32602
    still_serves(client)
