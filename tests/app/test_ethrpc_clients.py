"""The Ethereum JSON-RPC (app/ethrpc) through JavaScript clients nobody here wrote:
ethers v6, viem 2 and Hardhat 2 (``tests/app/ethclients/``).

One node in this process (solo driver, ``--instant``, a block every 500 ms) serves
the module; each client gets its own eth key, funded by a Cosmos bank send, and runs
as a child process: ``node --test`` for ethers and viem, ``npx hardhat run --network
vcoin`` for Hardhat (a deploy and calls from the prebuilt ``contracts/build``
artifacts; no compile, which would download solc). A client's output is printed when
it fails.

``scripts/setup-ethclients`` installs the pinned packages first (``npm ci``, skipped
while ``node_modules`` matches ``package-lock.json``). Without Node.js and npm these
tests skip, saying so, unless ``VCOIN_REQUIRE_NODE`` is set (``scripts/test`` sets
it); then they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from app.ethrpc.methods import EthApi
from app.node import Node
from chain.crypto import to_bech32
from modules.auth import state as auth_state
from tests.support.chain import ALICE, VCN, msg_send, sign
from tests.support.nodes import inproc_node
from tests.support.tools import output_tail, require_tools
from tests.support.wait import wait_for

REPO = Path(__file__).resolve().parents[2]
CLIENTS = REPO / "tests" / "app" / "ethclients"
SETUP = REPO / "scripts" / "setup-ethclients"
CHAIN_ID = 0x5643
OZ_BYTECODE = json.loads((REPO / "contracts/build/OZToken.json").read_text())["bytecode"]
TIMEOUT = 180  # s for one client's run (Hardhat's start-up alone takes a few seconds)
TAIL = 12_000  # characters of a client's output in a failure message


def _require_npm() -> None:
    require_tools(
        ("node", "npm", "npx"), "the client tests need Node.js 20+ and npm", "VCOIN_REQUIRE_NODE"
    )


def _output(r: subprocess.CompletedProcess[str]) -> str:
    return output_tail(r)


@pytest.fixture(scope="module")
def npm_ready() -> None:
    _require_npm()
    r = subprocess.run([str(SETUP)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"scripts/setup-ethclients exited {r.returncode}:\n{_output(r)}"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with inproc_node(tmp_path_factory.mktemp("ethclients")) as n:
        yield n


def _balance(api: EthApi, address: str) -> int:
    return int(api.call("eth_getBalance", [address, "latest"]), 16)


def funded_key(node: Node, amount: int = 20 * VCN) -> LocalAccount:
    """A fresh eth key that a Cosmos bank send from alice funded (seen over the JSON-RPC)."""
    key: LocalAccount = Account.create()
    api = EthApi(node)
    with node.lock:
        acc = auth_state.get_account(node.app.check_ctx(), ALICE.address)
    assert acc is not None
    raw = sign(
        ALICE,
        [msg_send(ALICE, to_bech32(bytes.fromhex(key.address[2:])), amount)],
        account_number=acc.number,
        sequence=acc.sequence,
    )
    res = node.mempool.check_and_add(raw)
    assert res.ok, res.log
    wait_for("the funding send", lambda: _balance(api, key.address) == amount, 30, poll=0.1)
    return key


def run_client(node: Node, key: LocalAccount, argv: list[str]) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ETHCLIENTS_RPC_URL": f"http://{node.cfg.jsonrpc_laddr}",
        "ETHCLIENTS_CHAIN_ID": str(CHAIN_ID),
        "ETHCLIENTS_PRIVATE_KEY": "0x" + bytes(key.key).hex(),
        # Hardhat: no telemetry question, no colours in the failure output
        "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true",
        "NO_COLOR": "1",
    }
    try:
        return subprocess.run(
            argv, cwd=CLIENTS, env=env, capture_output=True, text=True, timeout=TIMEOUT
        )
    except subprocess.TimeoutExpired as e:
        raw = e.stdout or ""
        out = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        pytest.fail(f"{' '.join(argv)} ran past {TIMEOUT} s:\n{out[-TAIL:]}")


def _passes(r: subprocess.CompletedProcess[str], argv: list[str], tests: int) -> None:
    out = _output(r)
    assert r.returncode == 0, f"{' '.join(argv)} exited {r.returncode}:\n{out}"
    # node --test's summary: every test ran and passed, none skipped
    assert f"# pass {tests}\n" in r.stdout and "# fail 0\n" in r.stdout, out
    assert "# skipped 0\n" in r.stdout and "# todo 0\n" in r.stdout, out


def test_ethers_v6(npm_ready: None, node: Node) -> None:
    argv = ["node", "--test", "--test-reporter=tap", "test/ethers.test.mjs"]
    _passes(run_client(node, funded_key(node), argv), argv, 2)


def test_viem(npm_ready: None, node: Node) -> None:
    argv = ["node", "--test", "--test-reporter=tap", "test/viem.test.mjs"]
    _passes(run_client(node, funded_key(node), argv), argv, 3)


def test_hardhat_run_deploys_and_calls_a_prebuilt_contract(npm_ready: None, node: Node) -> None:
    key = funded_key(node)
    argv = ["npx", "--no-install", "hardhat", "run", "--no-compile", "--network", "vcoin"]
    argv.append("scripts/deploy.js")
    r = run_client(node, key, argv)
    out = _output(r)
    assert r.returncode == 0, f"{' '.join(argv)} exited {r.returncode}:\n{out}"
    assert "hardhat: OZToken at 0x" in r.stdout and f"chain {CHAIN_ID}" in r.stdout, out
    # the deploy and the transfer came from the configured account
    nonce = EthApi(node).call("eth_getTransactionCount", [key.address, "latest"])
    assert int(nonce, 16) == 2, out


def test_get_logs_from_block_zero_starts_at_the_first_block(node: Node) -> None:
    """ethers' and viem's ``fromBlock: 0`` (the chain starts at 1): once answered with
    nothing; a range that ends below block 1 holds nothing."""
    key = funded_key(node)
    api = EthApi(node)
    deploy = OZ_BYTECODE + (10**18).to_bytes(32, "big").hex()
    tx = {"chainId": CHAIN_ID, "nonce": 0, "gas": 2_000_000, "value": 0, "data": deploy}
    tx.update(type=2, maxFeePerGas=100 * 10**9, maxPriorityFeePerGas=10**9)
    raw = bytes(key.sign_transaction(tx).raw_transaction)
    h = api.call("eth_sendRawTransaction", ["0x" + raw.hex()])
    wait_for("the deploy", lambda: api.call("eth_getTransactionReceipt", [h]) is not None, 30)
    rc = api.call("eth_getTransactionReceipt", [h])
    assert rc["status"] == "0x1" and len(rc["logs"]) == 1  # the mint's Transfer
    token = rc["contractAddress"]

    def logs(frm: str, to: str) -> list[Any]:
        out: list[Any] = api.call(
            "eth_getLogs", [{"address": token, "fromBlock": frm, "toBlock": to}]
        )
        return out

    assert logs("0x0", "latest") == logs("earliest", "latest") == rc["logs"]
    assert logs("0x0", rc["blockNumber"]) == rc["logs"]
    assert logs("0x0", "0x0") == []
