"""Crash safety: ``kill -9`` a real ``vcoind start`` process while it commits blocks under load.

After every kill the test opens the node's two RocksDB databases itself and
checks what a crash may leave: the block store at most one block ahead of the
committed state, the state's app hash equal to the stored results of its
height, and every tx that ``broadcast_tx_commit`` reported committed present
with its result. After every restart it checks over RPC that Info (height,
app hash) matches the block store, that those txs are still found, and that
the chain goes on making blocks and taking txs.
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app.app import App
from chain.client import NodeClient, NodeError
from chain.consensus.blockstore import BlockStore
from chain.crypto import PrivateKey
from chain.store import Store
from genesis.devnet import dev_key
from tests.support.chain import msg_send
from tests.support.nodes import NodeProc, start_vcoind, vcoind

KILLS = 5
SENDERS = ("bob", "worker1", "worker2", "worker3", "oracle1", "oracle2")
SINK = PrivateKey.from_seed(b"crash-test-sink")
BLOCK_TIME = ("--block-time", "200ms")

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Committed:
    hash: str
    height: int
    code: int


@dataclass
class Load:
    """Client threads sending signed txs with broadcast_tx_commit to whichever node is up."""

    url: str = ""
    committed: list[Committed] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sender(self, key: PrivateKey) -> None:
        client: NodeClient | None = None
        url = ""
        while not self.stop.is_set():
            if client is None or url != self.url:
                url = self.url
                client = NodeClient(url, timeout=15) if url else None
                if client is None:
                    time.sleep(0.1)
                    continue
            try:
                r = client.send_tx(key, [msg_send(key, SINK, 1)], mode="commit", check=False)
            except NodeError:
                client = None  # node down or our sequence went stale: start afresh
                time.sleep(0.1)
                continue
            if r.height > 0:
                with self.lock:
                    self.committed.append(Committed(r.hash, r.height, r.code))
            else:
                client = None  # refused in CheckTx (a stale sequence after a restart)

    def snapshot(self) -> list[Committed]:
        with self.lock:
            return list(self.committed)


def check_databases(home: Path, committed: list[Committed]) -> tuple[int, int]:
    """What the crash left on disk; returns (state height, block store height)."""
    store = Store(home / "data" / "state")
    blocks = BlockStore(home / "data" / "blocks")
    try:
        app_h, app_hash = store.height(), store.app_hash()
        blk_h = blocks.height()
        assert blk_h in (app_h, app_h + 1), f"block store at {blk_h}, state at {app_h}"
        if app_h >= 1:
            stored = blocks.results(app_h)
            assert stored is not None and bytes.fromhex(stored["app_hash"]) == app_hash
        for c in committed:
            loc = blocks.tx_location(bytes.fromhex(c.hash))
            assert loc is not None, f"committed tx {c.hash} (height {c.height}) lost"
            assert loc[0] == c.height <= app_h, (c, loc, app_h)
            res = blocks.results(c.height)
            assert res is not None and res["txs_results"][loc[1]]["code"] == c.code
        return app_h, blk_h
    finally:
        blocks.close()
        store.close()


def check_live(url: str, committed: list[Committed], resumed_from: int) -> None:
    client = NodeClient(url, timeout=15)
    deadline = time.monotonic() + 30
    while client.latest_height() < 1:  # a fresh chain: wait for its first block
        assert time.monotonic() < deadline, "no first block"
        time.sleep(0.1)
    info = client.call("abci_info")["response"]
    h = int(info["last_block_height"])
    assert h >= resumed_from, "the restarted node lost committed blocks"
    results = client.block_results(h)
    assert results["app_hash"] == info["last_block_app_hash"]
    status = client.status()["sync_info"]
    assert int(status["latest_block_height"]) >= h
    for c in committed:
        got = client.get_tx(c.hash)
        assert got is not None and (got.height, got.code) == (c.height, c.code), c
    # the chain goes on: new blocks, and txs of this round get committed
    deadline = time.monotonic() + 30
    while client.latest_height() < h + 3:
        assert time.monotonic() < deadline, "no new blocks after the restart"
        time.sleep(0.1)


def test_kill_9_under_load_loses_nothing_committed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    r = vcoind("init", home=home)
    assert r.returncode == 0, r.stderr
    log = tmp_path / "node.log"
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    load = Load()
    threads = [
        threading.Thread(target=load.sender, args=(dev_key(n),), daemon=True) for n in SENDERS
    ]
    for t in threads:
        t.start()
    replayed = 0
    node: NodeProc | None = None
    try:
        resumed_from = 0
        for round_ in range(KILLS):
            node = start_vcoind(home, extra=BLOCK_TIME, log_path=log)
            check_live(node.rpc, load.snapshot(), resumed_from)
            load.url = node.rpc
            before = len(load.snapshot())
            time.sleep(rng.uniform(1.0, 3.0))  # the kill lands anywhere in a block's life,
            # but only once this round committed a tx: a busy machine may need longer
            deadline = time.monotonic() + 60
            while len(load.snapshot()) <= before:
                assert time.monotonic() < deadline, f"round {round_}: no tx in 60 s (seed {seed})"
                time.sleep(0.1)
            node.proc.send_signal(signal.SIGKILL)
            node.proc.wait(10)
            load.url = ""
            app_h, blk_h = check_databases(home, load.snapshot())
            replayed += blk_h > app_h
            resumed_from = app_h
        node = start_vcoind(home, extra=BLOCK_TIME, log_path=log)
        check_live(node.rpc, load.snapshot(), resumed_from)
    finally:
        load.stop.set()
        if node is not None and node.proc.poll() is None:
            node.proc.send_signal(signal.SIGINT)
            try:
                node.proc.wait(30)
            except subprocess.TimeoutExpired:
                node.proc.kill()
                node.proc.wait()
        for t in threads:
            t.join(20)
    assert node is not None and node.proc.returncode == 0, log.read_text()[-4000:]
    committed = load.snapshot()
    app_h, blk_h = check_databases(home, committed)
    assert app_h == blk_h, "a clean stop leaves state and block store level"
    app = App(home / "data" / "state")
    try:
        assert app.check_invariants() == []
    finally:
        app.close()
    print(
        f"seed {seed}: {KILLS} kills, {len(committed)} committed txs checked, "
        f"{replayed} restarts replayed a stored block, final height {app_h}"
    )
