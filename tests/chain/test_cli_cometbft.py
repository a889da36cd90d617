"""CometBFT mode without CometBFT: ``vcoind genesis cometbft``, the settings, and a
node in CometBFT mode serving ABCI and REST but no RPC of its own."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from cosmpy.protos.tendermint.abci import types_pb2 as abci

from app.cli.main import build_parser
from app.cli.start_cmd import overrides_of
from app.node import Node
from chain.abci.wire import frame, read_frame
from chain.config import NodeConfig
from chain.crypto import module_address, to_bech32
from genesis.devnet import dev_key, genesis_doc
from tests.chain.test_cli import run
from tests.support.nodes import free_port, write_genesis

VCN = 10**18


def _key(seed: str) -> str:
    return base64.b64encode(hashlib.sha256(seed.encode()).digest()).decode()


def _with_validators(*bonds: tuple[str, int, str]) -> dict[str, Any]:
    doc = genesis_doc()
    doc["app_state"]["staking"] = {
        "bonds": [
            {
                "address": dev_key(name).bech32,
                "role": "validator",
                "amount": str(amount),
                "consensus_pubkey": key,
            }
            for name, amount, key in bonds
        ]
    }
    total = sum(a for _, a, _ in bonds)
    balances = doc["app_state"]["bank"]["balances"]
    balances.append(
        {
            "address": to_bech32(module_address("staking")),
            "coins": [{"denom": "avcn", "amount": str(total)}],
        }
    )
    balances.sort(key=lambda b: str(b["address"]))
    return doc


def test_genesis_cometbft_takes_the_validators_from_staking(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = _with_validators(
        ("alice", 150_000 * VCN + 5, _key("a")), ("bob", 100_000 * VCN, _key("b"))
    )
    src = tmp_path / "genesis.json"
    src.write_text(json.dumps(doc))
    out = tmp_path / "cometbft-genesis.json"
    assert run(tmp_path, "genesis", "cometbft", str(src), "--out", str(out)) == 0
    assert "2 validators" in capsys.readouterr().out
    cmt = json.loads(out.read_text())
    assert cmt["app_state"] == doc["app_state"] and cmt["chain_id"] == doc["chain_id"]
    got = {v["pub_key"]["value"]: v for v in cmt["validators"]}
    assert set(got) == {_key("a"), _key("b")}
    a = got[_key("a")]
    assert a["power"] == "150000"  # whole VCN, the 5 avcn dropped
    assert a["pub_key"]["type"] == "tendermint/PubKeyEd25519"
    assert a["address"] == hashlib.sha256(base64.b64decode(_key("a"))).hexdigest()[:40].upper()
    assert got[_key("b")]["power"] == "100000"  # exactly the minimum bond counts
    # without --out it prints the same document
    assert run(tmp_path, "genesis", "cometbft", str(src)) == 0
    assert json.loads(capsys.readouterr().out) == cmt


@pytest.mark.parametrize(
    ("bonds", "message"),
    [
        ((), "has no validator"),
        ((("alice", 100_000 * VCN - 1, _key("a")),), "has no validator"),  # under the minimum
        ((("alice", 100_000 * VCN, "bm90IDMyIGJ5dGVz"),), "staking genesis is invalid"),
    ],
)
def test_genesis_cometbft_refuses_a_genesis_cometbft_cannot_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bonds: Any, message: str
) -> None:
    src = tmp_path / "genesis.json"
    src.write_text(json.dumps(_with_validators(*bonds)))
    assert run(tmp_path, "genesis", "cometbft", str(src)) == 1
    assert message in capsys.readouterr().err


def test_consensus_settings_are_checked_and_mapped_from_flags() -> None:
    with pytest.raises(ValueError, match="solo or cometbft"):
        NodeConfig(consensus="tendermint").validate()
    with pytest.raises(ValueError, match="http://"):
        NodeConfig(comet_rpc="127.0.0.1:26657").validate()
    NodeConfig(consensus="cometbft", comet_rpc="https://rpc.example:443").validate()
    args = build_parser().parse_args(
        [
            "start",
            "--consensus",
            "cometbft",
            "--abci-laddr",
            "127.0.0.1:5",
            "--comet-rpc",
            "http://127.0.0.1:6",
        ]
    )
    assert overrides_of(args) == {
        "consensus": "cometbft",
        "abci_laddr": "127.0.0.1:5",
        "comet_rpc": "http://127.0.0.1:6",
    }


def _bound(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_a_cometbft_mode_node_serves_abci_and_rest_and_no_rpc(tmp_path: Path) -> None:
    write_genesis(tmp_path, genesis_doc())
    rpc, rest, abci_port = free_port(), free_port(), free_port()
    node = Node(
        NodeConfig(
            home=str(tmp_path),
            consensus="cometbft",
            rpc_laddr=f"127.0.0.1:{rpc}",
            rest_laddr=f"127.0.0.1:{rest}",
            abci_laddr=f"127.0.0.1:{abci_port}",
            comet_rpc=f"http://127.0.0.1:{free_port()}",
            log_level="warning",
        )
    )
    node.start()
    try:
        assert node.producing
        assert not _bound(rpc)  # CometBFT's own RPC takes that role

        async def info() -> abci.Response:
            r, w = await asyncio.open_connection("127.0.0.1", abci_port)
            w.write(frame(abci.Request(info=abci.RequestInfo()).SerializeToString()))
            w.write(frame(abci.Request(flush=abci.RequestFlush()).SerializeToString()))
            await w.drain()
            resp = abci.Response()
            resp.ParseFromString(await read_frame(r))
            w.close()
            return resp

        resp = asyncio.run(info())
        # nothing initialised: the app waits for CometBFT's InitChain
        assert resp.info.last_block_height == 0 and resp.info.data == "vcoin"
        text = httpx.get(f"http://127.0.0.1:{rest}/metrics", timeout=10).text
        assert "vcoin_block_height" in text
        # a broadcast with no CometBFT node to take it is refused, and says where it went
        body = {"tx_bytes": base64.b64encode(b"\x0a\x00").decode(), "mode": "BROADCAST_MODE_SYNC"}
        r = httpx.post(f"http://127.0.0.1:{rest}/cosmos/tx/v1beta1/txs", json=body, timeout=20)
        tx = r.json()["tx_response"]
        assert tx["code"] != 0 and "CometBFT" in tx["raw_log"]
    finally:
        node.stop()
    assert not node.producing
    assert not _bound(abci_port)


def test_the_node_keeps_a_block_only_when_the_app_ran_it(tmp_path: Path) -> None:
    """CometAbciApp writes the node's copy of a block from FinalizeBlock's answer;
    a block the app fails answers an exception and leaves no copy behind."""
    import threading

    from google.protobuf.timestamp_pb2 import Timestamp

    from app.app import App
    from chain.consensus.blockstore import BlockStore
    from chain.consensus.cometbft import CometAbciApp

    g = genesis_doc()
    app = App(tmp_path / "state")
    blocks = BlockStore(tmp_path / "blocks")
    seen: list[int] = []
    h = CometAbciApp(app, blocks, threading.RLock(), on_block=lambda r, s: seen.append(r.height))
    try:
        init = abci.RequestInitChain(
            chain_id=g["chain_id"],
            app_state_bytes=json.dumps(g["app_state"]).encode(),
            initial_height=1,
            time=Timestamp(seconds=1_700_000_000),
        )
        assert h.handle(abci.Request(init_chain=init)).WhichOneof("value") == "init_chain"
        fb = abci.RequestFinalizeBlock(
            height=1,
            hash=b"\x11" * 32,
            time=Timestamp(seconds=1_700_000_001),
            proposer_address=b"\x22" * 20,
        )
        ok = h.handle(abci.Request(finalize_block=fb))
        assert ok.WhichOneof("value") == "finalize_block"
        stored = blocks.block(1)
        assert stored is not None and stored.hash == b"\x11" * 32
        assert stored.header.proposer == b"\x22" * 20
        h.handle(abci.Request(commit=abci.RequestCommit()))
        assert seen == [1]
        # a block at a height the app cannot run (it expects 2) fails, and is not kept
        bad = abci.RequestFinalizeBlock(
            height=5, hash=b"\x33" * 32, time=Timestamp(seconds=1_700_000_002)
        )
        resp = h.handle(abci.Request(finalize_block=bad))
        assert resp.WhichOneof("value") == "exception"
        assert blocks.block(5) is None and seen == [1]
    finally:
        blocks.close()
        app.close()
