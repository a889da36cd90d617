"""Jobs taken back from their worker, where scripts/mutation showed no test held the
rules: a requeued job is a clean queued job again (no price, no claim, a fresh claim
window, the reason and the timed-out worker recorded, as its ``JobRequeued`` event
says); a job out of attempts expires refunded to the avcn, with the last reason, and
only a worker whose deadline ran out is told so when it submits late."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.app import App
from tests.support.chain import block_events, test_key
from tests.support.genesis import market_genesis
from tests.support.market import VCN, Market, code

W1, W2 = test_key(0), test_key(1)
POSTER = test_key(10)
NO_SAMPLING = {"base_sample_bps": 0, "low_rep_factor_bps": 0, "challenge_window_blocks": 2}
CLAIM_BLOCKS, RESULT_BLOCKS = 5, 2
INVALID_JOB = 5  # ErrInvalidJob


@pytest.fixture
def m(make_app: Callable[..., App]) -> Market:
    m = Market(make_app(market_genesis(verification=NO_SAMPLING)))
    m.setup_worker(W1, price_floor=VCN)
    m.setup_worker(W2, price_floor=VCN // 2)
    return m


def post(m: Market) -> int:
    return m.post(POSTER, max_price=3 * VCN, claim_blocks=CLAIM_BLOCKS, result_blocks=RESULT_BLOCKS)


def view(m: Market, jid: int) -> dict[str, Any]:
    out: dict[str, Any] = m.q("jobs", "job", id=jid)
    return out


def test_a_timed_out_job_is_requeued_clean_with_a_fresh_claim_window(m: Market) -> None:
    jid = post(m)
    assert m.claim(W1, jid).code == 0
    claimed = m.height
    assert view(m, jid)["price"] == str(VCN)  # W1's floor
    deadline = claimed + RESULT_BLOCKS
    blocks = m.blocks_until(deadline)  # taken back at the end of the deadline's block
    reason = f"no result by the deadline at height {deadline}"
    assert block_events(blocks, "JobRequeued") == [
        {
            "job_id": str(jid),
            "worker": W1.bech32,
            "reason": reason,
            "attempts": "1",
            "claim_deadline": str(deadline + CLAIM_BLOCKS),
        }
    ]
    j = view(m, jid)
    assert {k: j[k] for k in ("state", "worker", "price", "claimed_height", "result_deadline")} == {
        "state": "queued",
        "worker": "",
        "price": "0",
        "claimed_height": 0,
        "result_deadline": 0,
    }
    assert (j["claim_deadline"], j["attempts"]) == (deadline + CLAIM_BLOCKS, 1)
    assert (j["last_timeout_worker"], j["last_error"]) == (W1.bech32, reason)
    r = m.submit(W1, jid)  # too late, and told why
    assert code(r) == ("jobs", 16) and "ran out at its result deadline" in r.log
    # the fresh claim window: queued up to its last block, expired at its end
    m.blocks_until(deadline + CLAIM_BLOCKS - 1)
    assert m.job(jid).state == "queued"
    poster = m.balance(POSTER)
    last = m.block([])
    assert m.job(jid).state == "expired"
    assert block_events([last], "JobExpired") == [
        {"job_id": str(jid), "reason": f"no worker claimed it by height {deadline + CLAIM_BLOCKS}"}
    ]
    assert m.balance(POSTER) == poster + 3 * VCN


def test_a_job_given_back_records_no_timed_out_worker(m: Market) -> None:
    jid = post(m)
    assert m.claim(W1, jid).code == 0
    r = m.release(W1, jid, retry=True, reason="shutting down")
    assert r.code == 0, r.log
    (ev,) = [dict(e.attributes) for e in r.events if e.type == "JobRequeued"]
    assert ev == {
        "job_id": str(jid),
        "worker": W1.bech32,
        "reason": "shutting down",
        "attempts": "1",
        "claim_deadline": str(m.height + CLAIM_BLOCKS),
    }
    j = view(m, jid)
    assert (j["state"], j["last_timeout_worker"], j["last_error"]) == (
        "queued",
        "",
        "shutting down",
    )
    assert m.claim(W2, jid).code == 0
    r = m.submit(W1, jid)  # it gave the job back: not its deadline, someone else's job
    assert code(r) == ("jobs", 15) and f"claimed by {W2.bech32}, not you" in r.log


def test_a_job_out_of_attempts_by_a_timeout_expires_refunded_with_the_last_reason(
    m: Market,
) -> None:
    jid = post(m)
    for i in (1, 2):  # two attempts given back by W2
        assert m.claim(W2, jid).code == 0
        assert m.release(W2, jid, retry=True, reason=f"attempt {i}").code == 0
    assert m.claim(W1, jid).code == 0  # the third times out
    deadline = m.height + RESULT_BLOCKS
    poster = m.balance(POSTER)
    blocks = m.blocks_until(deadline)
    reason = f"no result by the deadline at height {deadline}"
    assert block_events(blocks, "JobRequeued") == []
    assert block_events(blocks, "JobExpired") == [
        {"job_id": str(jid), "reason": f"3 attempts failed; last: {reason}"}
    ]
    assert block_events(blocks, "EscrowRefunded") == [
        {"job_id": str(jid), "poster": POSTER.bech32, "amount": f"{3 * VCN}avcn"}
    ]
    j = view(m, jid)
    assert (j["state"], j["attempts"], j["last_error"]) == ("expired", 3, reason)
    assert (j["finished_height"], j["refunded"], j["paid"]) == (deadline, str(3 * VCN), "0")
    assert j["last_timeout_worker"] == W1.bech32
    assert m.balance(POSTER) == poster + 3 * VCN
    r = m.submit(W1, jid)
    assert code(r) == ("jobs", 16) and "ran out at its result deadline" in r.log


def test_a_job_out_of_attempts_by_a_give_back_expires_with_that_reason(m: Market) -> None:
    jid = post(m)
    assert m.claim(W1, jid).code == 0
    m.blocks_until(m.height + RESULT_BLOCKS)  # attempt 1: W1 times out
    assert view(m, jid)["last_timeout_worker"] == W1.bech32
    assert m.claim(W2, jid).code == 0
    assert m.release(W2, jid, retry=True, reason="attempt 2").code == 0
    assert m.claim(W2, jid).code == 0
    poster = m.balance(POSTER)
    r = m.release(W2, jid, retry=True, reason="attempt 3")  # the last attempt, given back
    assert r.code == 0, r.log
    assert [dict(e.attributes) for e in r.events if e.type == "JobExpired"] == [
        {"job_id": str(jid), "reason": "3 attempts failed; last: attempt 3"}
    ]
    j = view(m, jid)
    assert (j["state"], j["attempts"], j["last_error"]) == ("expired", 3, "attempt 3")
    assert (j["finished_height"], j["refunded"]) == (m.height, str(3 * VCN))
    assert j["last_timeout_worker"] == ""  # given back, not timed out
    assert m.balance(POSTER) == poster + 3 * VCN
    r = m.submit(W2, jid)
    assert code(r) == ("jobs", 15) and "is expired; claim it before submitting" in r.log


def test_a_result_in_the_deadline_block_itself_is_accepted(m: Market) -> None:
    jid = post(m)
    assert m.claim(W1, jid).code == 0
    deadline = m.height + RESULT_BLOCKS
    m.blocks_until(deadline - 1)
    r = m.submit(W1, jid)  # lands at height == result_deadline
    assert m.height == deadline == view(m, jid)["result_deadline"]
    assert r.code == 0, r.log
    assert m.job(jid).state == "submitted"


def test_claim_and_result_windows_up_to_their_maximum_are_taken(
    make_app: Callable[..., App],
) -> None:
    m = Market(
        make_app(
            market_genesis(
                verification=NO_SAMPLING,
                jobs={
                    "max_claim_blocks": 40,
                    "max_result_blocks": 20,
                    "default_claim_blocks": 10,
                    "default_result_blocks": 5,
                },
            )
        )
    )
    r = m.tx(POSTER, m.post_msg(POSTER, max_price=VCN, claim_blocks=40, result_blocks=20))
    assert r.code == 0, r.log
    r = m.tx(POSTER, m.post_msg(POSTER, max_price=VCN, claim_blocks=41))
    assert code(r) == ("jobs", INVALID_JOB) and "claim_blocks is at most 40" in r.log
    r = m.tx(POSTER, m.post_msg(POSTER, max_price=VCN, result_blocks=21))
    assert code(r) == ("jobs", INVALID_JOB) and "result_blocks is at most 20" in r.log
