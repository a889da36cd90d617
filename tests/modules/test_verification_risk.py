"""Audit rates driven by risk: cheating has negative expected value wherever the cap
allows, the terms switch at their thresholds (at, just under, just over), the draw on
chain uses the rate, the query tells a worker its numbers, and the function is integer
arithmetic only (no floats, clock or randomness of its own)."""

from __future__ import annotations

import ast
import inspect
import itertools
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.app import App
from chain.errors import ChainError
from modules.verification import risk as risk_mod
from modules.verification.params import Params
from modules.verification.risk import BPS, RiskInputs, SlashTerms, catches_to_slash
from tests.support.chain import block_hash, test_key
from tests.support.genesis import market_genesis
from tests.support.market import VCN, Market

SLASH = SlashTerms(cheat_penalty_bps=2000, slash_below_bps=5000, slash_fraction_bps=1000)
FRESH = RiskInputs(score_bps=10_000, stake=1000 * VCN, price=2 * VCN, age_jobs=0)
ESTABLISHED = replace(FRESH, age_jobs=500)
W, POSTER = test_key(0), test_key(10)


def test_defaults_new_workers_at_half_established_at_base() -> None:
    p = Params()
    fresh, est = p.risk(FRESH, SLASH), p.risk(ESTABLISHED, SLASH)
    assert (fresh.rate_bps, fresh.term) == (5000, "newcomer")
    assert (est.rate_bps, est.term) == (1000, "base")
    # 1000 VCN at stake, 10 % of it at the third catch: 33.3 VCN per catch against 1 VCN saved
    assert est.catches_to_slash == 3 and est.stake_at_risk == 100 * VCN // 3
    # q* = κP/(P + D) + 1 bps: 1 VCN saved against 2 + 33.3 VCN lost per catch
    assert est.required_bps == 2 * VCN * 5000 // (2 * VCN + 100 * VCN // 3) + 1 == 284
    assert est.gain == VCN and est.expected_value < 0
    # a 10 %-of-results cheater in its first 100 jobs: caught with probability ≥ 0.99
    q = fresh.detection_bps / BPS
    assert 1 - (1 - 0.1 * q) ** 100 >= 0.99


@pytest.mark.parametrize(
    ("age", "rate"), [(99, 5000), (100, 1000), (101, 1000)], ids=["under", "at", "over"]
)
def test_newcomer_term_ends_at_new_worker_jobs(age: int, rate: int) -> None:
    assert Params().risk(replace(FRESH, age_jobs=age), SLASH).rate_bps == rate


@pytest.mark.parametrize(
    ("score", "k"),
    [(10_000, 3), (7_001, 2), (7_000, 2), (6_999, 1), (5_000, 1), (4_000, 1)],
)
def test_catches_to_slash_follows_the_ladder(score: int, k: int) -> None:
    assert catches_to_slash(score, SLASH) == k
    # the k-th catch is the first to leave the score under the slash line
    after = [score - i * SLASH.cheat_penalty_bps for i in range(1, k + 1)]
    assert after[-1] < SLASH.slash_below_bps and all(a >= 5000 for a in after[:-1])


def test_no_slash_means_no_stake_at_risk() -> None:
    for t in (replace(SLASH, slash_fraction_bps=0), replace(SLASH, cheat_penalty_bps=0)):
        r = Params().risk(ESTABLISHED, t)
        assert r.stake_at_risk == 0 and r.catches_to_slash == 0
        # nothing but the forfeited price deters: detection must exceed κ = 50 %
        assert r.required_bps == 5001 and r.term == "value"


def test_value_term_at_just_under_and_just_over_break_even() -> None:
    # a thin stake: the value term sets the rate; one bps less and faking pays
    p = replace(Params(), max_sample_bps=BPS)
    inputs = replace(ESTABLISHED, stake=VCN)
    r = p.risk(inputs, SLASH)
    assert r.term == "value" and r.expected_value < 0
    d, price = r.stake_at_risk, inputs.price

    def ev(s: int) -> int:
        q = risk_mod.detection_bps(s, p.canary_rate_bps)
        return (price * p.cost_share_bps - q * (price + d)) // BPS

    assert risk_mod.detection_bps(r.rate_bps, p.canary_rate_bps) >= r.required_bps
    assert risk_mod.detection_bps(r.rate_bps - 1, p.canary_rate_bps) < r.required_bps
    assert ev(r.rate_bps) < 0
    # at the break-even detection q = κP/(P+D) the value is 0 (not negative)
    assert price * p.cost_share_bps - (r.required_bps - 1) * (price + d) >= 0


def test_cheating_never_pays_unless_the_cap_binds() -> None:
    p = Params()
    for score, stake, price, age, task in itertools.product(
        range(0, 10_001, 700),
        (0, VCN, 10 * VCN, 1000 * VCN, 10**6 * VCN),
        (1, VCN, 2 * VCN, 500 * VCN),
        (0, 99, 100, 10**6),
        ("", "text-generation"),
    ):
        r = p.risk(RiskInputs(score, stake, price, age), SLASH, task)
        assert 0 <= r.rate_bps <= p.max_sample_bps
        assert r.expected_value < 0 or r.term == "cap", (score, stake, price, age, task, r)
        assert all(isinstance(v, int) for v in r.__dict__.values() if v is not r.term)


def test_nothing_at_stake_and_a_free_job_need_no_detection() -> None:
    # no price and no bond: nothing is gained by faking and nothing lost, no value term
    p = replace(Params(), base_sample_bps=0)
    r = p.risk(replace(ESTABLISHED, price=0, stake=0), SLASH)
    assert (r.required_bps, r.stake_at_risk, r.gain, r.rate_bps) == (0, 0, 0, 0)
    assert r.term == "base"  # every term 0: a tie goes to base
    # a slash of the whole bond of nothing is still nothing
    whole = replace(SLASH, slash_fraction_bps=BPS)
    at_the_line = replace(ESTABLISHED, price=0, stake=0, score_bps=6000)  # slashed next catch
    r = p.risk(at_the_line, whole)
    assert (r.catches_to_slash, r.stake_at_risk) == (1, 0)


def test_the_reputation_term_is_named_when_it_sets_the_rate() -> None:
    r = Params().risk(replace(ESTABLISHED, score_bps=5000), SLASH, "lora-train")
    assert (r.rate_bps, r.term) == (3000, "reputation")  # 10 % + 50 points × 0.4


@given(target=st.integers(0, BPS), r=st.integers(0, BPS))
@settings(max_examples=3000, deadline=None)
def test_least_sample_bps_is_the_least_rate_that_reaches_the_target(target: int, r: int) -> None:
    s_bps = risk_mod.least_sample_bps(target, r)
    if target <= r or r == BPS:
        assert s_bps == 0
        return
    assert 0 < s_bps <= BPS
    assert risk_mod.detection_bps(s_bps, r) >= target
    assert risk_mod.detection_bps(s_bps - 1, r) < target


@pytest.mark.parametrize(
    ("target", "r"), [(1, 0), (BPS, 0), (BPS, 1), (BPS, BPS - 1), (501, 500), (9999, 9998)]
)
def test_least_sample_bps_at_the_edges(target: int, r: int) -> None:
    s_bps = risk_mod.least_sample_bps(target, r)
    assert risk_mod.detection_bps(s_bps, r) >= target > risk_mod.detection_bps(s_bps - 1, r)


def test_least_sample_bps_when_every_job_is_a_canary() -> None:
    # r = 100 %: detection is whole at any rate, even for a target past it (no division)
    assert risk_mod.least_sample_bps(BPS, BPS) == risk_mod.least_sample_bps(BPS + 1, BPS) == 0


def test_unreachable_detection_caps_and_says_so() -> None:
    # κ = 100 % and nothing at stake: no detection short of certainty makes faking a loss
    p = replace(Params(), cost_share_bps=BPS, max_sample_bps=BPS)
    r = p.risk(replace(ESTABLISHED, stake=0), SLASH)
    assert r.required_bps == BPS + 1 and r.rate_bps == BPS and r.expected_value >= 0


def test_off_switch_turns_every_term_off() -> None:
    p = replace(Params(), base_sample_bps=0, low_rep_factor_bps=0)
    assert p.risk(FRESH, SLASH).rate_bps == 0
    assert p.risk(replace(FRESH, stake=0), SLASH).term == "off"


def test_risk_is_integer_arithmetic_with_no_clock_or_randomness() -> None:
    tree = ast.parse(inspect.getsource(risk_mod))
    for node in ast.walk(tree):
        assert not isinstance(node, ast.Div), "true division gives floats"
        assert not (isinstance(node, ast.Constant) and isinstance(node.value, float))
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
            assert not {"time", "random", "datetime", "math"} & set(names)


# -- the detection floor ---------------------------------------------------------------
def caught_within(q_bps: int, f: Fraction = Fraction(1, 10), n: int = 100) -> Fraction:
    """P(a cheater faking a share f of its results is caught within n jobs), exactly."""
    return 1 - (1 - f * Fraction(q_bps, BPS)) ** n


@pytest.mark.parametrize("r", [0, 1, 500, 3333, 9999, BPS])
def test_detection_bps_rounds_the_detection_down_never_up(r: int) -> None:
    for s_bps in (*range(0, 200), *range(4190, 4230), *range(9900, BPS + 1)):
        exact = Fraction(s_bps + r) - Fraction(s_bps * r, BPS)
        got = risk_mod.detection_bps(s_bps, r)
        assert got <= exact < got + 1, (s_bps, r, got, exact)


def test_the_default_floor_is_the_least_detection_that_meets_99_percent_in_100_jobs() -> None:
    floor = Params().detection_floor_bps
    assert caught_within(floor) >= Fraction(99, 100) > caught_within(floor - 1)


@pytest.mark.parametrize("task", ["text-generation", "embedding"])
def test_established_workers_are_drawn_to_the_floor_on_cheap_check_tasks(task: str) -> None:
    p = Params()
    r = p.risk(ESTABLISHED, SLASH, task)
    # the least rate that reaches the floor with 5 % canaries: one bps less falls short
    assert (r.rate_bps, r.term) == (4212, "detection")
    assert r.detection_bps >= p.detection_floor_bps
    assert risk_mod.detection_bps(r.rate_bps - 1, p.canary_rate_bps) < p.detection_floor_bps
    assert caught_within(r.detection_bps) >= Fraction(99, 100)
    # the terms above it still win: a newcomer's 50 %, a low score's reputation rule
    assert p.risk(FRESH, SLASH, task).term == "newcomer"
    assert p.risk(replace(ESTABLISHED, score_bps=0), SLASH, task).rate_bps == 5000


@pytest.mark.parametrize("task", ["", "lora-train", "lora-aggregate", "Text-Generation"])
def test_other_task_types_have_no_floor(task: str) -> None:
    # a LoRA check replays an interval or re-runs the job: at 42 % it would cost too much
    r = Params().risk(ESTABLISHED, SLASH, task)
    assert (r.rate_bps, r.term) == (1000, "base")


@pytest.mark.parametrize(
    ("floor", "rate", "term"),
    [
        (0, 1000, "base"),  # off
        (500, 1000, "base"),  # the canaries alone reach it
        (1449, 1000, "base"),  # base 10 % + 5 % canaries detect 14.50 %
        (1450, 1000, "base"),
        (1451, 1002, "detection"),
        (9500, 5000, "cap"),  # past the cap: capped, and said so
    ],
)
def test_floor_at_just_under_and_just_over_the_base_and_the_cap(
    floor: int, rate: int, term: str
) -> None:
    r = replace(Params(), detection_floor_bps=floor).risk(ESTABLISHED, SLASH, "embedding")
    assert (r.rate_bps, r.term) == (rate, term)


def test_the_off_switch_turns_the_floor_off_too() -> None:
    p = replace(Params(), base_sample_bps=0, low_rep_factor_bps=0)
    r = p.risk(ESTABLISHED, SLASH, "text-generation")
    assert (r.rate_bps, r.term) == (0, "off")


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"detection_floor_bps": BPS + 1}, "detection_floor_bps is in basis points"),
        ({"detection_floor_bps": -1}, "detection_floor_bps must be a non-negative integer"),
        ({"detection_floor_tasks": ["embedding", ""]}, "detection_floor_tasks must be a list"),
        ({"detection_floor_tasks": "embedding"}, "detection_floor_tasks must be a list"),
    ],
)
def test_bad_floor_params_are_refused(change: dict[str, object], error: str) -> None:
    with pytest.raises(ChainError) as e:
        Params.from_json({**Params().to_json(), **change})
    assert error in str(e.value)


def test_floor_params_go_through_json() -> None:
    p = Params.from_json({**Params().to_json(), "detection_floor_tasks": ["embedding"]})
    assert p.detection_floor_tasks == ("embedding",)
    assert p.to_json()["detection_floor_tasks"] == ["embedding"]
    assert Params.from_json(p.to_json()) == p


# -- on chain ----------------------------------------------------------------------------
def test_the_draw_uses_the_risk_rate_and_the_query_explains_it(
    make_app: Callable[..., App],
) -> None:
    from modules.verification.keeper import draw_value

    m = Market(make_app(market_genesis()))
    m.setup_worker(W, price_floor=VCN, max_concurrent=64)
    out = m.q("verification", "risk", worker=W.bech32, price=str(2 * VCN))
    assert (out["rate_bps"], out["term"], out["age_jobs"]) == ("5000", "newcomer", "0")
    assert int(out["expected_value"]) < 0
    for _ in range(4):
        jid = m.post(POSTER, max_price=2 * VCN)
        assert m.claim(W, jid).code == 0
        assert m.submit(W, jid).code == 0
        b = m.block([])
        [e] = [dict(e.attributes) for e in b.events if e.type == "ResultSampled"]
        assert e["rate_bps"] == "5000"
        assert e["picked"] == str(draw_value(block_hash(m.height, []), jid) < 5000).lower()


SAMPLED = '{"params": {"temperature": 0.7}}'
BOTH = ["text-generation", "embedding"]


@pytest.mark.parametrize(
    ("floor_tasks", "task", "model", "spec", "rate", "term"),
    [
        (BOTH, "text-generation", "tiny-lm", "", 4212, "detection"),
        (BOTH, "text-generation", "tiny-lm", '{"params": {"temperature": 0}}', 4212, "detection"),
        (BOTH, "embedding", "minilm", "", 4212, "detection"),
        # sampled text is re-executed in full when checked: no floor
        (BOTH, "text-generation", "tiny-lm", SAMPLED, 1000, "base"),
        (["embedding"], "text-generation", "tiny-lm", "", 1000, "base"),
    ],
    ids=["greedy", "temperature-0", "embedding", "sampled", "not-listed"],
)
def test_the_draw_of_an_established_worker_follows_the_jobs_task_and_spec(
    make_app: Callable[..., App],
    floor_tasks: list[str],
    task: str,
    model: str,
    spec: str,
    rate: int,
    term: str,
) -> None:
    verification = {"new_worker_jobs": 0, "detection_floor_tasks": floor_tasks}
    m = Market(make_app(market_genesis(verification=verification, merge=True)))
    m.setup_worker(W, price_floor=VCN, max_concurrent=64, models=[model], task_types=[task])
    ask = {"worker": W.bech32, "price": str(2 * VCN), "task_type": task, "spec": spec}
    out = m.q("verification", "risk", **ask)
    assert (out["rate_bps"], out["term"], out["task_type"]) == (str(rate), term, task)
    # without the task type the query names no floor
    assert m.q("verification", "risk", worker=W.bech32, price=str(2 * VCN))["term"] == "base"
    jid = m.post(POSTER, max_price=2 * VCN, model=model, task_type=task, spec=spec)
    assert m.claim(W, jid).code == 0
    assert m.submit(W, jid).code == 0
    b = m.block([])
    [e] = [dict(e.attributes) for e in b.events if e.type == "ResultSampled"]
    assert e["rate_bps"] == str(rate)


def test_the_query_refuses_a_spec_that_is_no_job_spec(make_app: Callable[..., App]) -> None:
    m = Market(make_app(market_genesis()))
    m.setup_worker(W, price_floor=VCN)
    for spec in ("[1]", '{"params": 3}', "{bad"):
        with pytest.raises(ChainError) as e:
            m.q("verification", "risk", worker=W.bech32, price="1", spec=spec)
        assert "spec must be a job spec" in str(e.value)
    for spec in ("{}", '{"public": true}', '{"params": {}}'):  # specs the jobs module takes
        assert m.q("verification", "risk", worker=W.bech32, price="1", spec=spec)["rate_bps"]


def test_cli_prints_the_rate_detection_and_expected_value(make_app: Callable[..., App]) -> None:
    from modules.verification.cli import _risk_text

    m = Market(make_app(market_genesis()))
    m.setup_worker(W, price_floor=VCN)
    text = _risk_text(m.q("verification", "risk", worker=W.bech32, price=str(2 * VCN)))
    assert "sample rate        50.00 % (newcomer)" in text
    assert "detection / fake   52.50 %" in text  # s + r − s·r, s = 50 %, r = 5 %
    assert "expected value     -" in text and "cheating does not pay" in text
