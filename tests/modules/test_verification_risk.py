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

import pytest

from app.app import App
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
        assert r.stake_at_risk == 0
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
    for score, stake, price, age in itertools.product(
        range(0, 10_001, 700),
        (0, VCN, 10 * VCN, 1000 * VCN, 10**6 * VCN),
        (1, VCN, 2 * VCN, 500 * VCN),
        (0, 99, 100, 10**6),
    ):
        r = p.risk(RiskInputs(score, stake, price, age), SLASH)
        assert 0 <= r.rate_bps <= p.max_sample_bps
        assert r.expected_value < 0 or r.term == "cap", (score, stake, price, age, r)
        assert all(isinstance(v, int) for v in r.__dict__.values() if v is not r.term)


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


def test_cli_prints_the_rate_detection_and_expected_value(make_app: Callable[..., App]) -> None:
    from modules.verification.cli import _risk_text

    m = Market(make_app(market_genesis()))
    m.setup_worker(W, price_floor=VCN)
    text = _risk_text(m.q("verification", "risk", worker=W.bech32, price=str(2 * VCN)))
    assert "sample rate        50.00 % (newcomer)" in text
    assert "detection / fake   52.50 %" in text  # s + r − s·r, s = 50 %, r = 5 %
    assert "expected value     -" in text and "cheating does not pay" in text
