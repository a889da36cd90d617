"""The detection rate measured over many simulated jobs matches what the params predict.

Thousands of jobs go through the real modules (``scripts/bench/detection_sim.py``: an App in
a temp dir, signed txs, finalize_block + commit) at the default verification
params: sampling ``s = new_worker_sample_bps / 10000 = 0.50`` (the risk rate of a
worker in its first 100 results), canaries ``r = canary_rate_bps / 10000 = 0.05``
of all jobs.

An established worker (past its first 100 results) is drawn for greedy text at the
detection floor's rate instead, ``s = 0.4212`` (``p = 0.4501``).

Predictions:

    per cheated job          p = s + r − s·r = 0.525          (sampled, or a canary)
    caught within n jobs     P = 1 − (1 − f·p)^n               (cheating on a fraction f)

Confidence bound: a measured proportion over N independent trials is
compared with its prediction q within ``4·sqrt(q(1−q)/N)`` (four standard
errors of a binomial proportion: a correct chain fails this with probability
under 1e-4 under the normal approximation). The seeds are fixed, so a run is
reproducible; the bound is what any seed must meet.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

# The simulation is a benchmark harness (scripts/bench), not part of the oracle package.
sys.path.append(str(Path(__file__).resolve().parents[2] / "scripts" / "bench"))
from detection_sim import (  # noqa: E402
    SimConfig,
    SimResult,
    predicted_caught,
    predicted_p,
    simulate,
)

S_BPS, R_BPS = 5000, 500  # the default params: a new worker's rate, the canary share
# an established worker's rate for greedy text: the least s with s + r − s·r ≥ 45.01 %,
# the detection floor (modules/verification/risk.py)
FLOOR_S_BPS = 4212


def within(measured: float, q: float, n: int, sigmas: float = 4.0) -> bool:
    return abs(measured - q) <= sigmas * math.sqrt(q * (1 - q) / n)


@pytest.fixture(scope="module")
def every_job_cheated() -> SimResult:
    # 30 cheaters × 100 jobs, each job faked: 3000 cheated results to measure p on.
    return simulate(SimConfig(seed=11, cheaters=30, jobs_per_worker=100, cheat_bps=10_000))


def test_defaults_are_what_the_formula_uses(every_job_cheated: SimResult) -> None:
    p = every_job_cheated.params
    assert (p["new_worker_sample_bps"], p["canary_rate_bps"]) == (S_BPS, R_BPS)
    # every draw was at a fresh worker's rate: the newcomer rate
    assert set(every_job_cheated.rates_seen) == {S_BPS}


def test_per_job_detection_rate_matches_s_plus_r_minus_sr(every_job_cheated: SimResult) -> None:
    r = every_job_cheated
    p = predicted_p(S_BPS, R_BPS)
    assert r.cheated == r.cheater_jobs == 3000
    assert within(r.detection_rate, p, r.cheated), (r.detection_rate, p)
    # its two parts: the canary share of jobs and the sampling rate, each within its bound
    share = r.canaries / (r.user_jobs + r.canaries)
    assert within(share, R_BPS / 10_000, r.user_jobs + r.canaries), share
    assert within(r.picked / r.sampled, S_BPS / 10_000, r.sampled), r.picked / r.sampled
    # given which jobs were canaries and the rate of each draw, the count of detections
    # is a sum of independent Bernoulli(p_i): within 4 standard deviations of Σ p_i
    assert abs(r.cheated_detected - r.expected_detections) <= 4 * math.sqrt(r.detection_variance)
    assert r.by_canary + r.by_sampling >= r.cheated_detected  # a job may be both
    assert r.honest_penalised == 0


@pytest.mark.slow
def test_caught_within_100_jobs_at_10_percent_cheating() -> None:
    n, f = 100, 0.10
    r = simulate(SimConfig(seed=12, cheaters=80, jobs_per_worker=n, cheat_bps=1000))
    want = predicted_caught(predicted_p(S_BPS, R_BPS), f, n)  # 1 − (1 − 0.0525)^100 ≈ 0.995
    caught = r.cheaters_caught / 80
    assert within(caught, want, 80), (caught, want)
    assert within(r.detection_rate, predicted_p(S_BPS, R_BPS), r.cheated), r.detection_rate
    assert r.honest_penalised == 0  # honest workers (and right outputs) are never punished


@pytest.fixture(scope="module")
def established_cheated() -> SimResult:
    # the same market with every worker past the newcomer term from its first result
    cfg = SimConfig(
        seed=13,
        cheaters=30,
        jobs_per_worker=100,
        cheat_bps=10_000,
        verification={"new_worker_jobs": 0},
    )
    return simulate(cfg)


def test_established_workers_are_drawn_at_the_detection_floor(
    established_cheated: SimResult,
) -> None:
    r = established_cheated
    # every text result of an established worker at score 100: the floor's rate, not
    # the base 10 % (nor the reputation rule's rates as its score falls: they stay under)
    assert set(r.rates_seen) == {FLOOR_S_BPS}
    p = predicted_p(FLOOR_S_BPS, R_BPS)
    assert p >= 0.4501
    assert within(r.detection_rate, p, r.cheated), (r.detection_rate, p)
    assert abs(r.cheated_detected - r.expected_detections) <= 4 * math.sqrt(r.detection_variance)
    # so an established cheater faking 10 % is caught within 100 jobs with P ≥ 0.99
    assert predicted_caught(p, 0.10, 100) >= 0.99
    assert r.honest_penalised == 0
