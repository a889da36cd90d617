"""The mempool's limits, as a flood of txs meets them: a tx already waiting is refused,
the count and byte limits hold at, just under and just over, a block takes no more than
its limits, and after a block the txs that no longer pass are dropped.

The mempool runs CheckTx on a real App (``chain.consensus.mempool.Mempool``, the solo
driver's); blocks are delivered with ``tests.support.chain.run_block``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.app import App
from chain.consensus.mempool import Mempool, MempoolConfig
from chain.errors import ErrMempoolIsFull, ErrTxInMempool
from tests.support.chain import ALICE, BOB, Chain, make_genesis, new_app, run_block


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    c = Chain(new_app(tmp_path / "app", make_genesis()))
    yield c
    c.app.close()


def pool(app: App, **cfg: int) -> Mempool:
    return Mempool(app, threading.RLock(), MempoolConfig(**cfg))


def sends(chain: Chain, n: int) -> list[bytes]:
    return [chain.send(ALICE, BOB, i + 1) for i in range(n)]


def test_a_tx_already_waiting_is_refused_by_its_hash(chain: Chain) -> None:
    mp = pool(chain.app)
    (raw,) = sends(chain, 1)
    assert mp.check_and_add(raw).ok and len(mp) == 1
    r = mp.check_and_add(raw)
    assert (r.codespace, r.code) == ("sdk", ErrTxInMempool.code)
    assert "is already in the mempool" in r.log and len(mp) == 1


@pytest.mark.parametrize(("limit", "kept"), [(2, 2), (3, 3), (4, 3)])
def test_the_count_limit_holds_and_says_to_retry(chain: Chain, limit: int, kept: int) -> None:
    mp = pool(chain.app, max_txs=limit)
    results = [mp.check_and_add(raw) for raw in sends(chain, 3)]
    assert [r.ok for r in results] == [True] * kept + [False] * (3 - kept)
    for r in results[kept:]:
        assert (r.codespace, r.code) == ("sdk", ErrMempoolIsFull.code)
        assert f"(limit {limit}); retry after the next block" in r.log
    assert len(mp) == kept


@pytest.mark.parametrize(("spare", "kept"), [(-1, 1), (0, 2), (1, 2)])
def test_the_byte_limit_holds(chain: Chain, spare: int, kept: int) -> None:
    a, b = sends(chain, 2)
    mp = pool(chain.app, max_bytes=len(a) + len(b) + spare)
    assert [mp.check_and_add(raw).ok for raw in (a, b)] == [True, kept == 2]
    assert (len(mp), mp.size_bytes) == (kept, len(a) + (len(b) if kept == 2 else 0))


def test_a_block_takes_at_most_its_count_and_bytes_in_arrival_order(chain: Chain) -> None:
    mp = pool(chain.app)
    txs = sends(chain, 4)
    for raw in txs:
        assert mp.check_and_add(raw).ok
    assert mp.reap(max_bytes=10**9, max_txs=3) == txs[:3]
    assert mp.reap(max_bytes=len(txs[0]) + len(txs[1]), max_txs=10) == txs[:2]
    assert mp.reap(max_bytes=len(txs[0]) + len(txs[1]) - 1, max_txs=10) == txs[:1]


def test_after_a_block_committed_txs_leave_and_stale_ones_are_dropped(chain: Chain) -> None:
    mp = pool(chain.app)
    first, second = sends(chain, 2)
    assert mp.check_and_add(first).ok and mp.check_and_add(second).ok
    # Another tx of Alice's with the first one's sequence (sent through another node)
    # lands in a block: the first can never pass now and is dropped; the second has the
    # sequence the chain expects next and stays.
    rival = chain.send(ALICE, BOB, 99, sequence=0, count=False)
    run_block(chain.app, [rival])
    assert mp.update([rival]) == 1
    assert mp.reap(10**9, 10) == [second] and mp.size_bytes == len(second)
    run_block(chain.app, [second])
    assert mp.update([second]) == 0 and len(mp) == 0 and not mp.has_txs.is_set()
