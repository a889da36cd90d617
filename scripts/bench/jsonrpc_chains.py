"""The chain ``jsonrpc.py`` measures, made the same on a VCoin node and on a Hardhat 2 node:
one eth key deploys OZToken, then rounds of ``PER_ROUND`` ERC-20 transfers each followed
by ``BLOCKS_PER_ROUND`` blocks. Here: the key, the signed txs (:func:`signed_txs`),
VCoin's chain built in process by the solo driver (:func:`build_vcoin`), the Hardhat
node's process (:func:`start_hardhat`, :func:`stop_hardhat`) and its chain
(:func:`build_hardhat`), and the one-request JSON-RPC helper :func:`rpc` both use.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount

from chain.config import NodeConfig, render_toml
from chain.crypto import to_bech32
from genesis.devnet import genesis_doc
from tests.support.chain import ALICE, VCN, msg_send, sign
from tests.support.nodes import write_genesis

REPO = Path(__file__).resolve().parents[2]
CLIENTS = REPO / "tests" / "app" / "ethclients"
OZ = json.loads((REPO / "contracts" / "build" / "OZToken.json").read_text())
VCOIN_CHAIN_ID = 0x5643
HARDHAT_CHAIN_ID = 31337
KEY: LocalAccount = Account.from_key((0xB5 << 248) + 1)
PER_ROUND = 5  # transfers in a round
BLOCKS_PER_ROUND = 100
SUPPLY = 10**6 * 10**18
GWEI = 10**9


def recipient(i: int) -> str:
    return "0x" + (0xBE00 + i).to_bytes(20, "big").hex()


def _word(x: int | str) -> str:
    return (int(x, 16) if isinstance(x, str) else x).to_bytes(32, "big").hex()


def balance_of_data(who: str) -> str:
    return "0x70a08231" + _word(who)


def signed_txs(chain_id: int, rounds: int) -> tuple[bytes, list[list[bytes]]]:
    """The deploy and each round's transfers, signed for ``chain_id`` (nonces from 0)."""
    fees = {"maxFeePerGas": 100 * GWEI, "maxPriorityFeePerGas": GWEI, "type": 2}

    def tx(nonce: int, to: str | None, data: str, gas: int) -> bytes:
        t: dict[str, Any] = {"chainId": chain_id, "nonce": nonce, "gas": gas, "value": 0}
        t.update(fees, data=data)
        if to is not None:
            t["to"] = to
        return bytes(KEY.sign_transaction(t).raw_transaction)

    deploy = tx(0, None, OZ["bytecode"] + _word(SUPPLY), 3_000_000)
    token = token_address()
    out = []
    for r in range(rounds):
        batch = []
        for j in range(PER_ROUND):
            i = r * PER_ROUND + j
            data = "0xa9059cbb" + _word(recipient(i)) + _word(i + 1)
            batch.append(tx(1 + i, token, data, 100_000))
        out.append(batch)
    return deploy, out


def token_address() -> str:
    """The CREATE address of KEY's nonce-0 deploy (the same on both chains)."""
    from eth_hash.auto import keccak
    from eth_utils.address import to_checksum_address

    sender = bytes.fromhex(KEY.address[2:])
    return str(to_checksum_address(keccak(b"\xd6\x94" + sender + b"\x80")[12:]))


# -- the VCoin node -------------------------------------------------------------------------
def build_vcoin(home: Path, rounds: int, log: Callable[[str], None]) -> list[int]:
    """The chain in ``home``: made here by the solo driver; the heights of the
    transfer blocks."""
    from app.node import Node
    from modules.auth import state as auth_state

    write_genesis(home, genesis_doc())
    (home / "config" / "config.toml").write_text(
        render_toml(NodeConfig(home=str(home), create_empty_blocks=False))
    )
    node = Node(NodeConfig(home=str(home), jsonrpc_laddr="", log_level="warning"))
    heights: list[int] = []
    try:
        node.init_or_resume()
        assert node.driver is not None
        produce = node.driver.produce_block

        def add(raw: bytes) -> None:
            res = node.mempool.check_and_add(raw)
            assert res.ok, res.log

        with node.lock:
            acc = auth_state.get_account(node.app.check_ctx(), ALICE.address)
        assert acc is not None
        to = to_bech32(bytes.fromhex(KEY.address[2:]))
        add(
            sign(
                ALICE,
                [msg_send(ALICE, to, 100 * VCN)],
                account_number=acc.number,
                sequence=acc.sequence,
            )
        )
        produce()
        deploy, batches = signed_txs(VCOIN_CHAIN_ID, rounds)
        add(deploy)
        res = produce()
        assert res.tx_results[0].code == 0, res.tx_results[0].log
        t0 = time.perf_counter()
        for r, batch in enumerate(batches):
            for raw in batch:
                add(raw)
            res = produce()
            assert all(x.code == 0 for x in res.tx_results), [x.log for x in res.tx_results]
            heights.append(res.height)
            for _ in range(BLOCKS_PER_ROUND - 1):
                produce()
            if (r + 1) % 20 == 0:
                took = time.perf_counter() - t0
                log(f"  vcoin: {(r + 1) * BLOCKS_PER_ROUND} blocks ({took:.0f} s)")
    finally:
        node.stop()
    return heights


# -- the Hardhat node -----------------------------------------------------------------------
def hardhat_env() -> dict[str, str]:
    return {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true", "NO_COLOR": "1"}


def start_hardhat(port: int, log_path: Path) -> subprocess.Popen[bytes]:
    # `npx hardhat node` as a user runs it, but the bin itself: npx's child outlived npx
    # when npx alone was stopped; a session of its own, so that stop_hardhat ends all
    argv = [str(CLIENTS / "node_modules" / ".bin" / "hardhat"), "node", "--hostname", "127.0.0.1"]
    argv += ["--port", str(port)]
    with log_path.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            cwd=CLIENTS,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=hardhat_env(),
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"npx hardhat node exited {proc.returncode}: {log_path.read_text()}")
        try:
            if rpc(url, "eth_chainId") == hex(HARDHAT_CHAIN_ID):
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_hardhat(proc)
    raise SystemExit(f"npx hardhat node did not answer in 90 s: {log_path.read_text()[-2000:]}")


def stop_hardhat(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to its process group, then SIGKILL after 20 s."""
    for sig, wait in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def build_hardhat(url: str, rounds: int, log: Callable[[str], None]) -> list[int]:
    rpc(url, "hardhat_setBalance", KEY.address, hex(100 * VCN))
    rpc(url, "evm_setAutomine", False)
    deploy, batches = signed_txs(HARDHAT_CHAIN_ID, rounds)
    h = rpc(url, "eth_sendRawTransaction", "0x" + deploy.hex())
    rpc(url, "hardhat_mine", "0x1")
    assert rpc(url, "eth_getTransactionReceipt", h)["status"] == "0x1"
    heights = []
    t0 = time.perf_counter()
    for r, batch in enumerate(batches):
        hashes = [rpc(url, "eth_sendRawTransaction", "0x" + raw.hex()) for raw in batch]
        rpc(url, "hardhat_mine", hex(BLOCKS_PER_ROUND))
        rcs = [rpc(url, "eth_getTransactionReceipt", x) for x in hashes]
        assert all(rc["status"] == "0x1" for rc in rcs), rcs
        assert len({rc["blockNumber"] for rc in rcs}) == 1, rcs
        heights.append(int(rcs[0]["blockNumber"], 16))
        if (r + 1) % 20 == 0:
            log(
                f"  hardhat: {(r + 1) * BLOCKS_PER_ROUND} blocks ({time.perf_counter() - t0:.0f} s)"
            )
    return heights


# -- one JSON-RPC request -----------------------------------------------------------------
_client = httpx.Client(timeout=60)


def rpc(url: str, method: str, *params: Any) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    out = _client.post(url, json=body).json()
    if "error" in out:
        raise RuntimeError(f"{method} {params}: {out['error']}")
    return out["result"]
