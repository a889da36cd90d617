"""EVM determinism and crash safety.

* The same blocks (Cosmos sends, an OpenZeppelin ERC-20 deployed, transfers, a revert,
  a send to a 0x address, a legacy tx) replayed on a fresh App give the same app hash
  and the same tx results at every height; and EVM storage is in the app hash (one
  token amount changed gives another hash).
* A real ``vcoind start`` process SIGKILLed between FinalizeBlock and Commit of a block
  holding an EVM deploy and an ERC-20 transfer loses nothing: restarted, it replays the
  stored block, and the contract's code, token balances, nonces and receipts are there.
* SIGKILLed at random moments under a stream of ERC-20 transfers (as tests/chain/
  test_crash.py does with bank sends): every transfer seen committed is there after the
  restart, and the token balances and the nonce equal what the found txs add up to.
"""

from __future__ import annotations

import hashlib
import random
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import tests.support.nodes as nodes
from app.app import App
from chain.client import NodeClient, NodeError, RpcError
from chain.consensus.blockstore import BlockStore
from chain.crypto import to_bech32
from chain.results import BlockResult
from chain.store import Store
from tests.modules.evm.test_hostile import (
    ETH,
    ETH2,
    FUNDS,
    GWEI,
    SINK,
    artifact,
    deploying,
    erc20_transfer,
    eth_tx,
    ethereum_events,
    evm_genesis,
    oz_init,
    reverter,
    selector,
)
from tests.support.chain import ALICE, BOB, Chain, run_block
from tests.support.nodes import start_vcoind, vcoind, write_genesis
from tests.support.wait import wait_for

KILLS = 3
BLOCK_TIME = ("--block-time", "200ms")


def contract_of(r: Any) -> bytes:
    return bytes.fromhex(ethereum_events(r)["contract"][2:])


Outcome = tuple[bytes, list[tuple[int, int, str, Any]]]


def outcome(chain: Chain, b: BlockResult) -> Outcome:
    """The app hash after a block, and its txs' code, gas used, log and events."""
    return chain.app_hash, [(r.code, r.gas_used, r.log, r.events) for r in b.tx_results]


def build_history(chain: Chain, transfer_amount: int = 10) -> list[Outcome]:
    """Blocks of mixed Cosmos and EVM txs on ``chain``; what each gave."""
    hashes = []
    # 1: Cosmos sends, one to ETH's 0x account, and an OZ ERC-20 deploy
    b = chain.block(
        [
            chain.send(ALICE, BOB, 5),
            chain.send(ALICE, to_bech32(ETH.eth_address), 3 * GWEI),
            eth_tx(nonce=0, to=None, data=oz_init(10**6), gas=2_000_000, max_fee=2 * GWEI),
        ]
    )
    assert [r.code for r in b.tx_results] == [0, 0, 0], [r.log for r in b.tx_results]
    token = contract_of(b.tx_results[2])
    hashes.append(outcome(chain, b))
    # 2: ERC-20 transfers from two senders' points of view, and a reverter deployed
    b = chain.block(
        [
            eth_tx(nonce=1, to=token, data=erc20_transfer(SINK, transfer_amount), gas=100_000),
            eth_tx(nonce=2, to=token, data=erc20_transfer(ETH2.eth_address, 25), gas=100_000),
            eth_tx(ETH2, nonce=0, to=None, data=deploying(reverter("nope")), gas=200_000),
        ]
    )
    assert [r.code for r in b.tx_results] == [0, 0, 0], [r.log for r in b.tx_results]
    bad = contract_of(b.tx_results[2])
    hashes.append(outcome(chain, b))
    # 3: a revert, an ERC-20 transfer out of ETH2's tokens, a legacy tx, a Cosmos send
    b = chain.block(
        [
            eth_tx(ETH2, nonce=1, to=bad, value=9, gas=60_000, max_fee=3 * GWEI),
            eth_tx(ETH2, nonce=2, to=token, data=erc20_transfer(SINK, 1), gas=100_000),
            eth_tx(nonce=3, to=SINK, value=77, legacy=True, max_fee=5 * GWEI),
            chain.send(BOB, ALICE, 1),
        ]
    )
    assert [r.code for r in b.tx_results][1:] == [0, 0, 0], [r.log for r in b.tx_results]
    assert ethereum_events(b.tx_results[0])["status"] == "0"
    hashes.append(outcome(chain, b))
    # 4: an empty block (the base fee moves by itself)
    b = chain.block([])
    hashes.append(outcome(chain, b))
    return hashes


def test_the_same_blocks_on_a_fresh_app_give_the_same_app_hash_at_every_height(
    make_app: Callable[..., App],
) -> None:
    genesis = evm_genesis()
    chain = Chain(make_app(genesis))
    hashes = build_history(chain)
    fresh = make_app(genesis)
    assert fresh.info().last_block_app_hash == make_app(genesis).info().last_block_app_hash
    for i, (txs, t) in enumerate(chain.history):
        res = run_block(fresh, txs, t)
        again = (
            fresh.info().last_block_app_hash,
            [(r.code, r.gas_used, r.log, r.events) for r in res.tx_results],
        )
        assert again == hashes[i], f"height {i + 1}"
    assert fresh.check_invariants() == []


def test_evm_storage_is_part_of_the_app_hash(make_app: Callable[..., App]) -> None:
    genesis = evm_genesis()
    one = build_history(Chain(make_app(genesis)), transfer_amount=10)
    other = build_history(Chain(make_app(genesis)), transfer_amount=11)
    assert one[0] == other[0]  # the same first block
    assert one[1][0] != other[1][0]  # only an ERC-20 balance differs


# -- crash between FinalizeBlock and Commit ----------------------------------------------
WRAPPER = """#!{python}
# vcoind, with a fault point: SIGKILL itself in Commit of the block that holds a
# tx whose sha256 is listed in {trigger} (as the OOM killer or a power cut would).
import hashlib, os, signal, sys
from pathlib import Path
from app.app import App
from chain.results import BlockResult

TRIGGER = Path({trigger!r})
_finalize, _commit = App.finalize_block, App.commit
armed = []

def finalize_block(self, block, txs, *a, **kw):
    res = _finalize(self, block, txs, *a, **kw)
    want = TRIGGER.read_text().split() if TRIGGER.exists() else []
    if any(hashlib.sha256(t).hexdigest().upper() in want for t in txs):
        armed.append(block.height)
    return res

def commit(self, *a, **kw):
    if armed:
        os.kill(os.getpid(), signal.SIGKILL)
    return _commit(self, *a, **kw)

App.finalize_block, App.commit = finalize_block, commit
from app.cli.main import main
sys.exit(main())
"""


def call(nonce: int, to: bytes, data: bytes) -> bytes:
    return eth_tx(nonce=nonce, to=to, data=data, gas=100_000, max_fee=3 * GWEI)


def _sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest().upper()


def _eth_call(client: NodeClient, to: bytes, data: bytes) -> bytes:
    out = client.query("evm", "call", {"to": "0x" + to.hex(), "data": "0x" + data.hex()})
    assert out["success"], out
    return bytes.fromhex(out["output"][2:])


def _token_balance(client: NodeClient, token: bytes, who: bytes) -> int:
    return int.from_bytes(
        _eth_call(client, token, selector("balanceOf(address)") + who.rjust(32, b"\0")), "big"
    )


@pytest.mark.slow
def test_kill_9_between_finalize_block_and_commit_loses_no_evm_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    assert vcoind("init", home=home).returncode == 0
    write_genesis(home, evm_genesis())
    trigger = tmp_path / "crash-on"
    wrapper = tmp_path / "vcoind-crashing"
    wrapper.write_text(WRAPPER.format(python=sys.executable, trigger=str(trigger)))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)

    monkeypatch.setattr(nodes, "VCOIND", str(wrapper))
    node = start_vcoind(home, log_path=tmp_path / "node.log")
    monkeypatch.undo()
    try:
        client = NodeClient(node.rpc)
        first = eth_tx(nonce=0, to=None, data=oz_init(10**6), gas=2_000_000, max_fee=3 * GWEI)
        r = client.broadcast_tx_commit(first)
        assert int(r["tx_result"].get("code") or 0) == 0, r
        token = bytes.fromhex(
            next(
                a["value"]
                for e in r["tx_result"]["events"]
                if e["type"] == "ethereum_tx"
                for a in e["attributes"]
                if a["key"] == "contract"
            )[2:]
        )
        # the block to die in: a second deploy and an ERC-20 transfer
        deploy = eth_tx(nonce=1, to=None, data=oz_init(777), gas=2_000_000, max_fee=3 * GWEI)
        transfer = eth_tx(
            nonce=2, to=token, data=erc20_transfer(SINK, 4242), gas=100_000, max_fee=3 * GWEI
        )
        trigger.write_text(_sha(transfer))
        chk = client.broadcast_tx_sync(deploy)
        assert int(chk.get("code") or 0) == 0, chk
        try:  # the node may die before it answers: --instant makes the block at once
            chk = client.broadcast_tx_sync(transfer)
            assert int(chk.get("code") or 0) == 0, chk
        except RpcError:
            pass
        assert node.proc.wait(60) == -signal.SIGKILL
    finally:
        node.close()
    # what the crash left: the block stored, the state one block behind
    store, blocks = Store(home / "data" / "state"), BlockStore(home / "data" / "blocks")
    try:
        crashed = blocks.height()
        assert store.height() == crashed - 1
        stored = blocks.block(crashed)
        assert stored is not None and transfer in stored.txs
    finally:
        blocks.close()
        store.close()

    node = start_vcoind(home, log_path=tmp_path / "node.log")
    try:
        client = NodeClient(node.rpc)
        info = client.call("abci_info")["response"]
        h = int(info["last_block_height"])
        assert h >= crashed
        assert client.block_results(h)["app_hash"] == info["last_block_app_hash"]
        oz_code = "0x" + artifact("OZToken")["deployedBytecode"].removeprefix("0x")
        assert client.query("evm", "code", {"address": "0x" + token.hex()})["code"] == oz_code
        assert _token_balance(client, token, SINK) == 4242
        assert _token_balance(client, token, ETH.eth_address) == 10**6 - 4242
        acc = client.query("evm", "account", {"address": "0x" + ETH.eth_address.hex()})
        assert acc["nonce"] == "3"
        # every receipt is there, and the fees add up to what left the balance
        paid = 0
        for raw in (first, deploy, transfer):
            got = client.get_tx(_sha(raw))
            assert got is not None and got.code == 0 and got.height <= crashed, raw[:8]
            ev = {
                a["key"]: a["value"]
                for e in got.events
                if e["type"] == "ethereum_tx"
                for a in e["attributes"]
            }
            paid += int(ev["gas_used"]) * int(ev["effective_gas_price"])
            if raw is deploy:
                second = bytes.fromhex(ev["contract"][2:])
        assert int(acc["balance"]) == FUNDS - paid
        assert _token_balance(client, second, ETH.eth_address) == 777
        # and the chain goes on
        after = eth_tx(
            nonce=3, to=token, data=erc20_transfer(SINK, 1), gas=100_000, max_fee=3 * GWEI
        )
        r = client.broadcast_tx_commit(after)
        assert int(r["tx_result"].get("code") or 0) == 0, r
        assert _token_balance(client, token, SINK) == 4243
    finally:
        node.stop()


# -- kill -9 at random moments under EVM load ---------------------------------------------
@dataclass
class EvmLoad:
    """One thread sending ERC-20 transfers with broadcast_tx_commit to whichever node is up;
    it remembers every tx it sent and those it saw committed."""

    token: bytes
    url: str = ""
    sent: dict[str, int] = field(default_factory=dict)  # sha256 → amount
    committed: dict[str, int] = field(default_factory=dict)  # sha256 → height
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self.stop.is_set():
            if not self.url:
                time.sleep(0.05)
                continue
            client = NodeClient(self.url, timeout=10)
            try:
                acc = client.query("evm", "account", {"address": "0x" + ETH.eth_address.hex()})
                amount = rng.randrange(1, 1000)
                raw = call(int(acc["nonce"]), self.token, erc20_transfer(SINK, amount))
                with self.lock:
                    self.sent[_sha(raw)] = amount
                r = client.broadcast_tx_commit(raw)
                res = r.get("tx_result") or {}
                if int(r.get("height") or 0) > 0 and int(res.get("code") or 0) == 0:
                    with self.lock:
                        self.committed[_sha(raw)] = int(r["height"])
            except NodeError:
                time.sleep(0.1)
            finally:
                client.close()

    def grown(self, n: int) -> Callable[[], bool]:
        return lambda: len(self.snapshot()) > n

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return dict(self.committed)


@pytest.mark.slow
def test_kill_9_under_evm_load_loses_no_committed_transfer(tmp_path: Path) -> None:
    home, log = tmp_path / "home", tmp_path / "node.log"
    assert vcoind("init", home=home).returncode == 0
    write_genesis(home, evm_genesis())
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    node = start_vcoind(home, instant=False, extra=BLOCK_TIME, log_path=log)
    try:
        client = NodeClient(node.rpc)
        r = client.broadcast_tx_commit(
            eth_tx(nonce=0, to=None, data=oz_init(10**9), gas=2_000_000, max_fee=3 * GWEI)
        )
        token = bytes.fromhex(
            next(
                a["value"]
                for e in r["tx_result"]["events"]
                if e["type"] == "ethereum_tx"
                for a in e["attributes"]
                if a["key"] == "contract"
            )[2:]
        )
        load = EvmLoad(token, node.rpc)
        thread = threading.Thread(target=load.run, args=(seed,), daemon=True)
        thread.start()
        for round_ in range(KILLS):
            before = len(load.snapshot())
            time.sleep(rng.uniform(0.5, 2.0))
            wait_for(f"a transfer in round {round_} (seed {seed})", load.grown(before), 60)
            node.proc.send_signal(signal.SIGKILL)
            node.proc.wait(10)
            load.url = ""
            store, blocks = Store(home / "data" / "state"), BlockStore(home / "data" / "blocks")
            try:
                assert blocks.height() in (store.height(), store.height() + 1)
            finally:
                blocks.close()
                store.close()
            node = start_vcoind(home, instant=False, extra=BLOCK_TIME, log_path=log)
            load.url = node.rpc
        load.stop.set()
        thread.join(30)
        client = NodeClient(node.rpc)
        found: dict[str, Any] = {}
        for sha in load.sent:
            got = client.get_tx(sha)
            if got is not None:
                found[sha] = got
        for sha, height in load.snapshot().items():  # everything seen committed is there
            assert sha in found and found[sha].height == height and found[sha].code == 0
        moved = sum(load.sent[sha] for sha, got in found.items() if got.code == 0)
        assert _token_balance(client, token, SINK) == moved, f"seed {seed}"
        assert _token_balance(client, token, ETH.eth_address) == 10**9 - moved
        acc = client.query("evm", "account", {"address": "0x" + ETH.eth_address.hex()})
        assert int(acc["nonce"]) == 1 + len(found), f"seed {seed}"
    finally:
        node.close()
