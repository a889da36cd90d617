"""The window rule at a picked job's attestation deadline, where scripts/mutation showed
no test held it: the attesting stake counts from exactly ``window_min_stake_bps`` of
the oracle stake (one avcn under, the job lapses to a pass), and a window verdict for
the worker settles the job as passed, pays the worker and penalises the dissenter. An oracle
whose canary catches a cheat is paid its share of the slash."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from app.app import App
from chain.coins import DENOM
from chain.results import BlockResult
from tests.support.chain import block_events, block_hash, test_key
from tests.support.genesis import market_genesis
from tests.support.market import Market, output_of
from tests.support.stake import VCN

W1 = test_key(0)
POSTER = test_key(10)
O1, O2, O3 = test_key(20), test_key(21), test_key(22)
PENALTY = "500"  # oracle_penalty_bps, the slashing default: 5 points
ALWAYS = {"base_sample_bps": 10_000, "max_sample_bps": 10_000, "attest_window_blocks": 6}


def run_to_deadline(
    make_app: Callable[..., App],
    stakes: tuple[int, ...],
    votes: dict[Any, str],
    **verification: Any,
) -> tuple[Market, int, list[BlockResult]]:
    """A picked job of price 1 VCN (escrow 2 VCN), oracles of ``stakes`` (avcn) casting
    ``votes``; every block up to and including the attestation deadline."""
    m = Market(make_app(market_genesis(verification={**ALWAYS, **verification})))
    for i, (key, stake) in enumerate(zip((O1, O2, O3), stakes, strict=False)):
        assert m.bond_oracle(key, f"o{i}", stake).code == 0
    m.setup_worker(W1, price_floor=VCN)
    jid = m.post(POSTER, max_price=2 * VCN)
    assert m.claim(W1, jid).code == 0
    assert m.submit(W1, jid).code == 0
    m.block([])  # the draw
    assert m.job(jid).state == "checking"
    due = int(m.pending(jid)["due"])
    blocks = [m.run(key, m.attest_msg(key, jid, verdict)) for key, verdict in votes.items()]
    for b in blocks:
        assert b.tx_results[0].code == 0, b.tx_results[0].log
    assert m.job(jid).state == "checking"  # no quorum: it waits for the deadline
    blocks += m.blocks_until(due)
    return m, jid, blocks


# O1 holds exactly a quarter of the oracle stake; window_min_stake_bps 2500
@pytest.mark.parametrize(
    ("o3_stake", "how", "state"),
    [
        pytest.param(20_000 * VCN, "window", "rejected", id="exactly-the-window-minimum"),
        pytest.param(20_000 * VCN + 1, "lapsed", "settled", id="one-avcn-under-it"),
    ],
)
def test_the_window_rule_counts_from_exactly_its_minimum_share_of_stake(
    make_app: Callable[..., App], o3_stake: int, how: str, state: str
) -> None:
    stakes = (10_000 * VCN, 10_000 * VCN, o3_stake)
    m, jid, blocks = run_to_deadline(make_app, stakes, {O1: "fail"}, window_min_stake_bps=2_500)
    (v,) = block_events(blocks, "VerdictReached")
    verdict = "fail" if how == "window" else "pass"
    assert (v["verdict"], v["how"], v["fail_stake"]) == (verdict, how, str(10_000 * VCN))
    assert v["oracle_stake"] == str(sum(stakes))
    assert m.job(jid).state == state
    assert (block_events(blocks, "JobRejected") != []) is (how == "window")


def test_a_window_verdict_for_the_worker_pays_it_and_penalises_the_dissenter(
    make_app: Callable[..., App],
) -> None:
    # O2 (20k) says pass, O1 (10k) fail, O3 (30k) silent: 50 % attested, no side at 66.66 %
    stakes = (10_000 * VCN, 20_000 * VCN, 30_000 * VCN)
    m, jid, blocks = run_to_deadline(make_app, stakes, {O2: "pass", O1: "fail"})
    (v,) = block_events(blocks, "VerdictReached")
    assert {k: v[k] for k in ("verdict", "how", "pass_stake", "fail_stake")} == {
        "verdict": "pass",
        "how": "window",
        "pass_stake": str(20_000 * VCN),
        "fail_stake": str(10_000 * VCN),
    }
    j = m.q("jobs", "job", id=jid)
    assert (j["state"], j["finished_height"]) == ("settled", m.height)  # the deadline's block
    assert (j["paid"], j["burned"], j["refunded"]) == (str(8 * VCN // 10), str(VCN // 10), str(VCN))
    paid = block_events(blocks, "WorkerPaid")
    assert [e["amount"] for e in paid] == [f"{8 * VCN // 10}{DENOM}"]  # 80 % of 1 VCN
    assert block_events(blocks, "JobRejected") == []
    assert block_events(blocks, "CheatingPunished") == []
    penalised = block_events(blocks, "OraclePenalised")
    assert [(e["address"], e["points_bps"]) for e in penalised] == [(O1.bech32, PENALTY)]
    reasons = [e["reason"] for e in block_events(blocks, "ReputationChanged")]
    assert reasons.count("outvoted") == 1 and "cheating" not in reasons
    assert m.reputation.stats(m.ctx(), O2.address).penalties_bps == 0
    assert m.reputation.stats(m.ctx(), O1.address).penalties_bps == int(PENALTY)


def test_a_canary_caught_cheat_pays_the_revealing_oracle_its_reward_share(
    make_app: Callable[..., App],
) -> None:
    """The oracle that revealed the canary is an accuser without attesting: it gets the
    slash reward (10 % of the cut) and the job is rejected, refunded, in that block."""
    no_sampling = {"base_sample_bps": 0, "low_rep_factor_bps": 0, "challenge_window_blocks": 50}
    m = Market(
        make_app(market_genesis(verification=no_sampling, slashing={"slash_below_bps": 9_000}))
    )
    assert m.bond_oracle(O1, "o1").code == 0
    m.setup_worker(W1, price_floor=VCN)
    jid = m.post(POSTER, max_price=2 * VCN)
    expected, salt = output_of(jid), bytes(range(16))
    assert m.commit_canary(O1, jid, expected, salt).code == 0
    assert m.claim(W1, jid).code == 0
    assert m.submit(W1, jid, output=output_of(jid, honest=False)).code == 0
    m.block([])  # drawn (not picked), still in the challenge window
    poster = m.balance(POSTER)
    b = m.run(
        O1,
        m.reveal_msg(O1, jid, expected, salt, POSTER),
    )
    assert b.tx_results[0].code == 0, b.tx_results[0].log
    (v,) = block_events([b], "VerdictReached")
    assert (v["verdict"], v["how"]) == ("fail", "canary")
    cut = 1_000 * VCN // 10  # score 80 after the penalty, under 90: 10 % of the bond
    (punished,) = block_events([b], "CheatingPunished")
    assert punished["slashed"] == str(cut)
    (slashed,) = block_events([b], "Slashed")
    assert slashed["rewards"] == f"{O1.bech32}:{cut // 10}"
    assert slashed["to_treasury"] == str(cut - cut // 10)
    j = m.q("jobs", "job", id=jid)
    assert (j["state"], j["finished_height"], j["refunded"]) == ("rejected", m.height, str(2 * VCN))
    assert m.balance(POSTER) == poster + 2 * VCN


def test_an_unpicked_result_settles_with_a_verdict_of_no_stake(
    make_app: Callable[..., App],
) -> None:
    never = {"base_sample_bps": 0, "low_rep_factor_bps": 0, "challenge_window_blocks": 3}
    m = Market(make_app(market_genesis(verification=never)))
    assert m.bond_oracle(O1, "o1").code == 0  # oracle stake exists, but nobody attested
    m.setup_worker(W1, price_floor=VCN)
    jid = m.post(POSTER, max_price=2 * VCN)
    assert m.claim(W1, jid).code == 0
    assert m.submit(W1, jid).code == 0
    blocks = m.blocks_until(m.height + 3)
    assert block_events(blocks, "VerdictReached") == [
        {
            "job_id": str(jid),
            "verdict": "pass",
            "how": "unpicked",
            "pass_stake": "0",
            "fail_stake": "0",
            "oracle_stake": "0",
        }
    ]
    assert m.job(jid).state == "settled"


def _drawn(make_app: Callable[..., App], max_sample_bps: int) -> tuple[Market, int, BlockResult]:
    """A result drawn at a sampling rate of exactly ``max_sample_bps`` (every term at
    10000, capped): the market, the job id, the draw block."""
    cap = {"base_sample_bps": 10_000, "max_sample_bps": max_sample_bps, "attest_window_blocks": 6}
    m = Market(make_app(market_genesis(verification=cap)))
    assert m.bond_oracle(O1, "o1").code == 0
    m.setup_worker(W1, price_floor=VCN)
    jid = m.post(POSTER, max_price=2 * VCN)
    assert m.claim(W1, jid).code == 0
    assert m.submit(W1, jid).code == 0
    return m, jid, m.block([])


def _draw(height: int, job_id: int) -> int:
    """The documented draw, written out: uint64(sha256("vcoin/sample/v1" ‖ block hash ‖
    job id as 8 bytes)[:8]) mod 10000, all big-endian, on the test chain's block hash."""
    seed = b"vcoin/sample/v1" + block_hash(height, []) + job_id.to_bytes(8, "big")
    return int.from_bytes(hashlib.sha256(seed).digest()[:8], "big") % 10_000


def test_a_result_is_picked_when_its_draw_is_under_the_rate_not_at_it(
    make_app: Callable[..., App],
) -> None:
    m, jid, _ = _drawn(make_app, 10_000)
    d = _draw(m.height, jid)  # the same heights and blocks whatever the rate
    assert 0 <= d < 9_999
    m, jid, b = _drawn(make_app, d)  # a draw at exactly the rate: not picked
    assert block_events([b], "ResultSampled") == [
        {"job_id": str(jid), "worker": W1.bech32, "picked": "false", "rate_bps": str(d)}
    ]
    assert block_events([b], "VerificationRequested") == []
    assert m.job(jid).state == "submitted"
    m, jid, b = _drawn(make_app, d + 1)  # one basis point over it: picked
    h = m.height
    assert block_events([b], "ResultSampled") == [
        {"job_id": str(jid), "worker": W1.bech32, "picked": "true", "rate_bps": str(d + 1)}
    ]
    assert block_events([b], "VerificationRequested") == [
        {"job_id": str(jid), "worker": W1.bech32, "deadline": str(h + 6)}
    ]
    assert m.job(jid).state == "checking"
    p = m.pending(jid)
    assert (p["stage"], p["due"], p["rate_bps"], p["drawn_height"]) == (
        "checking",
        h + 6,
        d + 1,
        h,
    )


def _picked_canary_job(make_app: Callable[..., App]) -> tuple[Market, int, Any]:
    """A picked (checking) job whose wrong output O1's canary commitment will expose;
    O2 holds 75 % of the oracle stake, a quorum alone. Returns the reveal message."""
    m = Market(make_app(market_genesis(verification=ALWAYS)))
    assert m.bond_oracle(O1, "o1", 10_000 * VCN).code == 0
    assert m.bond_oracle(O2, "o2", 30_000 * VCN).code == 0
    m.setup_worker(W1, price_floor=VCN)
    jid = m.post(POSTER, max_price=2 * VCN)
    expected, salt = output_of(jid), bytes(range(16))
    assert m.commit_canary(O1, jid, expected, salt).code == 0
    assert m.claim(W1, jid).code == 0
    assert m.submit(W1, jid, output=output_of(jid, honest=False)).code == 0
    m.block([])  # the draw
    assert m.job(jid).state == "checking"
    return m, jid, m.reveal_msg(O1, jid, expected, salt, POSTER)


def test_a_canary_is_revealed_on_a_picked_job(make_app: Callable[..., App]) -> None:
    m, jid, reveal = _picked_canary_job(make_app)
    b = m.run(O1, reveal)
    assert b.tx_results[0].code == 0, b.tx_results[0].log
    (v,) = block_events([b], "VerdictReached")
    assert (v["verdict"], v["how"]) == ("fail", "canary")
    assert m.job(jid).state == "rejected"


def test_a_canary_reveal_after_a_verdict_in_the_same_block_is_refused(
    make_app: Callable[..., App],
) -> None:
    m, jid, reveal = _picked_canary_job(make_app)
    b = m.block(
        [m.sign(O2, [m.attest_msg(O2, jid, "pass")]), m.sign(O1, [reveal])]
    )  # the quorum first, then the reveal
    assert b.tx_results[0].code == 0, b.tx_results[0].log
    assert b.tx_results[1].code != 0 and "before the result has a verdict" in b.tx_results[1].log
    (v,) = block_events([b], "VerdictReached")
    assert (v["verdict"], v["how"]) == ("pass", "quorum")
    assert m.job(jid).state == "settled"
