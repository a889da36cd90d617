"""The audit rate of a result as a function of risk: integers only, the same on every node.

Inputs, all read from state when the result is drawn: the worker's reputation
score ``S`` (bps), its worker bond ``B``, its age ``A`` (results that counted
in its reputation), the job's price ``P``; and the params of verification and
slashing. ``r`` is the canary share, ``κ`` (``cost_share_bps``) the share of a
job's price that its compute costs a worker, i.e. what faking saves.

A cheater that fakes a result saves ``κ·P``. Caught (probability ``q`` per
faked result), it forfeits the price ``P`` (the poster is refunded) and moves
one step down the penalty ladder (``cheat_penalty_bps``; a slash of
``slash_fraction_bps`` of ``B`` at the catch that takes the score under
``slash_below_bps``). Against working honestly::

    ΔEV(fake one result) = κ·P − q·(P + D)

``D`` is the stake lost per catch. A worker at score ``S`` reaches the slash
after ``k = (S − slash_below) // penalty + 1`` catches (1 if already under), so
a worker that fakes as a strategy loses ``D = slash_fraction·B / k`` per catch
on average. Cheating has negative expected value when ``q > κ·P / (P + D)``;
the function asks for ``q* = κ·P·10000 // (P + D) + 1`` bps and, since a faked
result is caught when sampled (``s``) or when it is a canary (``r``),
``q = s + r − s·r``, the sampling rate ``s_ev``: the least ``s`` whose
``detection_bps(s, r)`` reaches ``q*`` (about ``(q* − r) / (1 − r)``).

The rate is the largest of five terms, capped at ``max_sample_bps``:

    base         base_sample_bps                                   (everyone)
    reputation   base + (10000 − S)·low_rep_factor_bps / 10000     (the old rule)
    newcomer     new_worker_sample_bps while A < new_worker_jobs   (no record yet, and a
                                                                    fresh key costs nothing)
    value        s_ev                                              (negative EV)
    detection    the least s with detection_bps(s, r) ≥ floor      (task types whose check
                                                                    is cheap: a cheater is
                                                                    caught within n jobs)

The detection floor ``F`` (``detection_floor_bps``, for ``detection_floor_tasks``)
bounds how long a cheater lasts, whatever its record: faking a share ``f`` of its
results, it is caught within ``n`` jobs with probability ``1 − (1 − f·q)^n``, and
``q ≥ F`` = 4501 gives 0.99 at ``f`` = 10 %, ``n`` = 100. It is kept for the types
whose check costs a small share ``c`` of the job, since its overhead is ``s·c``.

``base_sample_bps = low_rep_factor_bps = 0`` turns sampling off altogether
(devnets and tests without oracles), whatever the other terms say.

Known limit: a *one-off* fake by a worker whose next catch does not slash
(``D`` would be 0 for it) is deterred only by ``q > κ``; the amortised ``D``
prices the strategy, not the single act. A slash on every catch would close it.
"""

from __future__ import annotations

from dataclasses import dataclass

BPS = 10_000


@dataclass(frozen=True)
class SlashTerms:
    """The slashing params the derivation uses (read from the slashing module)."""

    cheat_penalty_bps: int
    slash_below_bps: int
    slash_fraction_bps: int


@dataclass(frozen=True)
class RiskInputs:
    score_bps: int
    stake: int  # the worker's bond, in the base denom
    price: int  # the job's price, in the base denom
    age_jobs: int


@dataclass(frozen=True)
class Risk:
    rate_bps: int  # the sampling rate
    detection_bps: int  # per faked result: s + r − s·r
    required_bps: int  # q*: the least detection with negative expected value
    stake_at_risk: int  # D, per catch
    catches_to_slash: int  # k (0: the ladder never slashes)
    gain: int  # κ·P, what one fake saves
    expected_value: int  # κ·P − q·(P + D), floor: < 0 means cheating does not pay
    term: str  # which term set the rate

    def to_json(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items()}


def catches_to_slash(score_bps: int, t: SlashTerms) -> int:
    """How many catches from ``score_bps`` until the one that slashes (0: never)."""
    if t.slash_fraction_bps == 0:
        return 0
    if score_bps - t.cheat_penalty_bps < t.slash_below_bps:
        return 1
    if t.cheat_penalty_bps == 0:
        return 0
    return (score_bps - t.slash_below_bps) // t.cheat_penalty_bps + 1


def detection_bps(sample_bps: int, canary_bps: int) -> int:
    """s + r − s·r in bps, rounded down (the product rounded up: rounding it down would
    round the detection up, and a floor met by rounding would not be met)."""
    return sample_bps + canary_bps - -(-sample_bps * canary_bps // BPS)


def least_sample_bps(target_bps: int, canary_bps: int) -> int:
    """The least sampling rate ``s`` with ``detection_bps(s, canary_bps) ≥ target_bps``
    (0 if the canaries reach it alone; over 10000 if nothing does).

    ``s = ⌈(target − r)·10000 / (10000 − r)⌉`` is the least real rate with
    ``s + r − s·r/10000 ≥ target``, and ``detection_bps`` is that value rounded down,
    which stays ≥ the integer ``target``: so it is also the least in whole bps."""
    r = canary_bps
    if target_bps <= r or r >= BPS:
        return 0
    return -(-(target_bps - r) * BPS // (BPS - r))


def assess(
    inputs: RiskInputs,
    *,
    base_sample_bps: int,
    low_rep_factor_bps: int,
    max_sample_bps: int,
    new_worker_jobs: int,
    new_worker_sample_bps: int,
    cost_share_bps: int,
    canary_rate_bps: int,
    slash: SlashTerms,
    floor_bps: int,
) -> Risk:
    score = min(max(inputs.score_bps, 0), BPS)
    price, stake = max(inputs.price, 0), max(inputs.stake, 0)
    k = catches_to_slash(score, slash)
    d = stake * slash.slash_fraction_bps // BPS // k if k else 0
    gain = price * cost_share_bps // BPS
    required = price * cost_share_bps // (price + d) + 1 if price + d > 0 else 0
    r = canary_rate_bps
    terms = {
        "base": base_sample_bps,
        "reputation": base_sample_bps + (BPS - score) * low_rep_factor_bps // BPS,
        "newcomer": new_worker_sample_bps if inputs.age_jobs < new_worker_jobs else 0,
        "value": least_sample_bps(required, r),
        "detection": least_sample_bps(floor_bps, r),
    }
    term = max(terms, key=terms.__getitem__)  # a tie goes to the first: base
    rate = min(max_sample_bps, terms[term])  # the params hold max_sample_bps ≤ 10000
    if base_sample_bps == 0 and low_rep_factor_bps == 0:
        rate, term = 0, "off"
    elif rate < terms[term]:
        term = "cap"
    q = detection_bps(rate, r)
    ev = (price * cost_share_bps - q * (price + d)) // BPS
    return Risk(rate, q, required, d, k, gain, ev, term)
