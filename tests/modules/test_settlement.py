"""Settlement over a real App: the price is consumed in the verdict's block (10 % burned,
90 % to the treasury, the worker paid from the treasury), the unspent escrow comes
back, and a rejected result refunds the poster and punishes the worker."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.app import App
from chain.crypto import module_address
from chain.results import BlockResult
from tests.support.chain import PLATFORM, test_key
from tests.support.genesis import market_genesis
from tests.support.market import VCN, Market

W1 = test_key(0)
POSTER = test_key(10)
ORACLE = test_key(20)
FEE = 200_000 * 10**9


def events(b: BlockResult, type_: str) -> list[dict[str, str]]:
    evs = list(b.events) + [e for t in b.tx_results for e in t.events]
    return [dict(e.attributes) for e in evs if e.type == type_]


def make(make_app: Callable[..., App], **verification: int) -> Market:
    return Market(make_app(market_genesis(verification=verification)))


@pytest.fixture
def m(make_app: Callable[..., App]) -> Market:
    return make(make_app, base_sample_bps=0, low_rep_factor_bps=0, challenge_window_blocks=2)


def run_to_submission(m: Market, floor: int, max_price: int) -> int:
    m.setup_worker(W1, price_floor=floor)
    jid = m.post(POSTER, max_price=max_price)
    assert m.claim(W1, jid).code == 0
    assert m.submit(W1, jid, units=321).code == 0
    return jid


def test_success_burns_credits_the_treasury_pays_the_worker_and_refunds_the_rest(
    m: Market,
) -> None:
    jid = run_to_submission(m, floor=10 * VCN, max_price=12 * VCN)
    supply, treasury = m.supply(), m.module_balance("treasury")
    worker, poster = m.balance(W1), m.balance(POSTER)
    blocks = m.blocks_until(m.job(jid).submitted_height + 2)
    settle = blocks[-1]
    assert m.job(jid).state == "settled"
    assert events(settle, "VerdictReached")[0]["how"] == "unpicked"
    # All of it happens in the verdict's block.
    assert events(settle, "FeeBurned") == [{"job_id": str(jid), "amount": f"{VCN}avcn"}]
    assert events(settle, "TreasuryCredited") == [{"job_id": str(jid), "amount": f"{9 * VCN}avcn"}]
    paid = events(settle, "WorkerPaid")
    assert paid == [{"job_id": str(jid), "worker": W1.bech32, "amount": f"{8 * VCN}avcn"}]
    assert events(settle, "EscrowRefunded")[0]["amount"] == f"{2 * VCN}avcn"
    assert m.supply() == supply - VCN
    assert m.module_balance("treasury") == treasury + VCN
    assert m.balance(W1) == worker + 8 * VCN
    assert m.balance(POSTER) == poster + 2 * VCN
    assert m.module_balance("escrow") == 0
    j = m.job(jid)
    assert (j.paid, j.burned, j.refunded) == (8 * VCN, VCN, 2 * VCN)
    assert m.reputation.stats(m.ctx(), W1.address).successes == 1
    epoch = m.q("mint", "epoch")
    assert {"address": W1.bech32, "units": "321"} in epoch["workers"]


def test_odd_prices_round_down_in_the_treasurys_favour(m: Market) -> None:
    jid = run_to_submission(m, floor=12_345, max_price=12_345)
    treasury = m.module_balance("treasury")
    worker = m.balance(W1)
    m.blocks_until(m.job(jid).submitted_height + 2)
    j = m.job(jid)
    assert (j.burned, j.paid, j.refunded) == (1_234, 9_876, 0)
    assert m.module_balance("treasury") - treasury == 12_345 - 1_234 - 9_876
    assert m.balance(W1) - worker == 9_876


def test_payout_share_is_a_param(m: Market) -> None:
    assert m.update_params(PLATFORM, "jobs", {"payout_bps": 5000}).code == 0
    jid = run_to_submission(m, floor=10 * VCN, max_price=10 * VCN)
    m.blocks_until(m.job(jid).submitted_height + 2)
    assert m.job(jid).paid == 5 * VCN


def test_settlement_runs_in_the_block_of_the_quorum(make_app: Callable[..., App]) -> None:
    m = make(make_app, base_sample_bps=10_000, max_sample_bps=10_000)  # all checked
    m.bond_oracle(ORACLE, "o")
    jid = run_to_submission(m, floor=10 * VCN, max_price=10 * VCN)
    m.block([])  # the draw
    assert m.job(jid).state == "checking"
    b = m.run(ORACLE, m.attest_msg(ORACLE, jid, "pass"))
    assert b.tx_results[0].code == 0, b.tx_results[0].log
    assert "Attested" in [e.type for e in b.tx_results[0].events]
    types = [e.type for e in b.events]  # settled at the end of the same block
    for t in ("FeeBurned", "TreasuryCredited", "WorkerPaid", "JobSettled"):
        assert t in types
    assert types.index("VerdictReached") > types.index("WorkerPaid")
    assert m.job(jid).state == "settled"


def test_rejected_result_refunds_the_poster_and_punishes_the_worker(
    make_app: Callable[..., App],
) -> None:
    m = make(make_app, base_sample_bps=10_000, max_sample_bps=10_000)
    m.bond_oracle(ORACLE, "o")
    jid = run_to_submission(m, floor=10 * VCN, max_price=12 * VCN)
    m.block([])
    supply, treasury, poster = m.supply(), m.module_balance("treasury"), m.balance(POSTER)
    worker = m.balance(W1)
    b = m.run(ORACLE, m.attest_msg(ORACLE, jid, "fail"))
    assert b.tx_results[0].code == 0, b.tx_results[0].log
    j = m.job(jid)
    assert j.state == "rejected" and j.refunded == 12 * VCN and j.paid == 0
    assert m.balance(POSTER) == poster + 12 * VCN
    assert m.balance(W1) == worker  # unpaid
    assert m.supply() == supply and m.module_balance("treasury") == treasury
    assert m.module_balance("escrow") == 0
    types = [e.type for e in b.events]
    assert "CheatingPunished" in types and "JobRejected" in types and "FeeBurned" not in types
    stats = m.reputation.stats(m.ctx(), W1.address)
    assert stats.penalties_bps == 2_000
    assert m.staking.jailed_until(m.ctx(), W1.address, "worker") > m.height


def test_escrow_account_is_the_sum_of_open_escrows(m: Market) -> None:
    m.setup_worker(W1, price_floor=VCN)
    a = m.post(POSTER, max_price=3 * VCN)
    b = m.post(POSTER, max_price=5 * VCN)
    c = m.post(POSTER, max_price=7 * VCN)
    assert m.balance(module_address("escrow")) == 15 * VCN
    m.claim(W1, b)
    m.cancel(POSTER, a)
    assert m.balance(module_address("escrow")) == 12 * VCN
    m.submit(W1, b)
    m.blocks_until(m.job(b).submitted_height + 2)
    assert m.job(b).state == "settled"
    assert m.balance(module_address("escrow")) == 7 * VCN == m.job(c).escrow
