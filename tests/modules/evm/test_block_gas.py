"""A block holds at most the block gas limit of Ethereum txs: PrepareProposal reserves
each tx's gas limit and leaves the rest (and their senders' later nonces) in the
mempool for a later block; FinalizeBlock refuses a tx that would pass the limit."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.app import App
from chain.consensus.mempool import Mempool, MempoolConfig
from tests.support.chain import BOB, VCN, Chain, make_genesis
from tests.support.evm import Evm, eth_key

A, B = eth_key(41), eth_key(42)
LIMIT = 100_000


@pytest.fixture
def evm(make_app: Callable[..., App]) -> Evm:
    doc = make_genesis()
    doc["app_state"]["evm"] = {"params": {"block_gas_limit": str(LIMIT)}}
    e = Evm(Chain(make_app(doc)))
    e.fund(A, B, amount=10 * VCN)
    return e


def _to_bob() -> str:
    return "0x" + BOB.address.hex()


def test_the_proposal_fills_the_block_up_to_its_gas_limit_exactly(evm: Evm) -> None:
    full = [evm.tx(A, _to_bob(), value=1, gas=50_000), evm.tx(B, _to_bob(), value=1, gas=50_000)]
    assert evm.app.prepare_proposal(full, 10**6) == full  # 100,000: exactly the limit
    over = [evm.tx(A, _to_bob(), value=1, gas=50_000, nonce=0),
            evm.tx(B, _to_bob(), value=1, gas=50_001, nonce=0)]  # fmt: skip
    assert evm.app.prepare_proposal(over, 10**6) == over[:1]
    assert evm.app.deferred == frozenset(over[1:])


def test_a_senders_later_nonces_wait_with_its_deferred_tx(evm: Evm) -> None:
    a0 = evm.tx(A, _to_bob(), value=1, gas=60_000)
    a1 = evm.tx(A, _to_bob(), value=1, gas=21_000)  # would fit, but follows a0
    b0 = evm.tx(B, _to_bob(), value=1, gas=60_000)
    b1 = evm.tx(B, _to_bob(), value=1, gas=21_000)
    assert evm.app.prepare_proposal([a0, b0, a1, b1], 10**6) == [a0, a1]
    assert evm.app.deferred == {b0, b1}


def test_finalize_refuses_a_tx_past_the_block_gas_and_runs_the_rest(evm: Evm) -> None:
    txs = [evm.tx(A, _to_bob(), value=1, gas=60_000), evm.tx(B, _to_bob(), value=1, gas=60_000)]
    res = evm.block(txs)  # a proposer that ignored the limit
    first, second = res.tx_results
    assert first.code == 0, first.log
    # the first used 21,000: 21,000 + 60,000 fits; a third of 60,000 would not
    assert second.code == 0, second.log
    txs = [evm.tx(A, _to_bob(), value=1, gas=60_000), evm.tx(B, _to_bob(), value=1, gas=60_000),
           evm.tx(A, _to_bob(), value=1, gas=60_000)]  # fmt: skip
    res = evm.block(txs)
    codes = [(r.codespace, r.code) for r in res.tx_results]
    assert codes[:2] == [("", 0), ("", 0)]
    assert codes[2] == ("evm", 8) and "the block is full" in res.tx_results[2].log


def test_the_mempool_keeps_deferred_txs_for_the_next_block(evm: Evm) -> None:
    import threading

    pool = Mempool(evm.app, threading.RLock(), MempoolConfig())
    txs = [evm.tx(A, _to_bob(), value=1, gas=90_000), evm.tx(B, _to_bob(), value=1, gas=90_000)]
    for t in txs:
        assert pool.check_and_add(t).ok
    reaped = pool.reap(10**6, 100)
    proposal = evm.app.prepare_proposal(reaped, 10**6)
    assert proposal == txs[:1]
    evm.block(proposal)
    pool.update([r for r in reaped if r not in evm.app.deferred])
    assert pool.reap(10**6, 100) == txs[1:]  # still there, and still valid
    res = evm.block(evm.app.prepare_proposal(pool.reap(10**6, 100), 10**6))
    assert [r.code for r in res.tx_results] == [0]
