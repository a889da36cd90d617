#!/usr/bin/env python3
"""Verification figures: detection of a cheating worker, and the compute overhead.

Measured by simulation through the real modules (``detection_sim.py`` here: an
App in a temp dir, signed txs, FinalizeBlock + Commit, seeded), at the
default verification params unless overridden, next to what the params
predict (rates as fractions):

    s  = the sampling rate the chain drew at (``risk.py``: a new worker's first
         100 results at new_worker_sample_bps, an established one at its risk rate,
         which for greedy text and embeddings is the detection floor's 42 %)
    r  = canary share of all jobs (canary_rate_bps)
    per cheated job         p = s + r − s·r
    caught within n jobs    P = 1 − (1 − f·p)^n              (cheats on a fraction f)
    overhead (executions)   s + 2·r/(1 − r)                   (a canary runs twice)
    overhead (time)         s·c + 2·r/(1 − r)                 (c: check cost / job cost)
    lazy oracle caught      1 − (1 − f_p)^N within N checks   (f_p: plant_rate_bps, the
                                                               share of checks that are plants)

Cheaters are new workers (their first 100 results) and, at f = 10 %, established
ones too (the same market with ``new_worker_jobs`` = 0: every worker past the
newcomer term, score 100, drawn at its risk rate). Overhead is extra compute as a
share of useful compute (the user jobs), measured on an honest market of new
workers (every draw at the newcomer rate) and of established ones. Every figure is
printed twice: at today's defaults (the new ones) and at the previous ones
(``--no-baseline`` skips those), where every check was a full re-execution,
canaries were 5 % and every worker was drawn at the reputation rule.

With ``--runtime`` the check cost ``c`` is measured per task type with the
real worker runtime in this process: a worker's run of the job against the
oracle's full re-execution and its cheap check (prefill for greedy text,
``embed_check_rows`` re-embedded rows, LoRA by one interval of ``checkpoint_every``
steps replayed, 1/8 of its training here); the forward-pass
ratio of a prefill against the decode loop it replaces (model loaded, the
same tokens); and honest false positives: outputs of the runtime (one thread)
checked by an oracle at another thread count (another summation order).

    .venv/bin/python scripts/bench/verification.py            # 200 cheaters × 100 jobs
    .venv/bin/python scripts/bench/verification.py --quick    # 40 cheaters
    .venv/bin/python scripts/bench/verification.py --runtime  # also time the runtime
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(1, str(Path(__file__).resolve().parent))  # detection_sim, verification_runtime

from detection_sim import PRICE, VCN, SimConfig, predicted_caught, simulate  # noqa: E402
from verification_runtime import (  # noqa: E402  (the runtime figures, --runtime)
    false_positives,
    forward_ratio,
    lora_error_rates,
    runtime_costs,
)

from modules.slashing.params import Params as SlashingParams  # noqa: E402
from modules.verification.params import Params  # noqa: E402
from modules.verification.risk import Risk, RiskInputs, SlashTerms  # noqa: E402

# The previous defaults: full re-execution of every check, 5 % canaries, every worker
# drawn at the reputation rule alone, no plants.
BASELINE = {
    "canary_rate_bps": 500,
    "plant_rate_bps": 0,
    "new_worker_sample_bps": 0,
    "cost_share_bps": 0,
    "embed_check_rows": 0,
    "detection_floor_bps": 0,
}
ESTABLISHED = {"new_worker_jobs": 0}  # every worker past the newcomer term from its first job
SIM_TASK = "text-generation"  # the simulation's jobs
WORKER_BOND = 1000 * VCN  # what the simulation's workers bond


def se(q: float, n: int) -> float:
    return math.sqrt(q * (1 - q) / n) if n else float("nan")


def params_of(overrides: dict[str, int]) -> Params:
    return Params.from_json(overrides)


def risk_at(
    p: Params, age: int, score: int = 10_000, stake: int = WORKER_BOND, task: str = SIM_TASK
) -> Risk:
    sp = SlashingParams()
    slash = SlashTerms(sp.cheat_penalty_bps, sp.slash_below_bps, sp.slash_fraction_bps)
    return p.risk(RiskInputs(score, stake, PRICE, age), slash, task)


def detection(
    cheaters: int, n: int, cheat_bps: int, seed: int, over: dict[str, int]
) -> dict[str, Any]:
    cfg = SimConfig(
        seed=seed, cheaters=cheaters, jobs_per_worker=n, cheat_bps=cheat_bps, verification=over
    )
    r = simulate(cfg)
    age = 0 if params_of(over).new_worker_jobs else 10**6
    p = risk_at(params_of(over), age).detection_bps / 10_000
    caught = r.cheaters_caught / cheaters
    return {
        "result": r,
        "p_pred": p,
        "p_meas": r.detection_rate,
        "p_se": se(p, r.cheated),
        "P_pred": predicted_caught(p, cheat_bps / 10_000, n),
        "P_meas": caught,
        "P_se": se(caught, cheaters),
    }


def canary_cost(canary_bps: int) -> float:
    r = canary_bps / 10_000
    return 2 * r / (1 - r)  # r/(1−r) canaries per user job, each run by a worker and an oracle


def overhead(jobs: int, seed: int, over: dict[str, int]) -> dict[str, Any]:
    workers = max(1, jobs // 100)
    cfg = SimConfig(
        seed=seed, cheaters=workers, jobs_per_worker=100, cheat_bps=0, verification=over
    )
    r = simulate(cfg)
    p = params_of(over)
    s_drawn = risk_at(p, 0 if p.new_worker_jobs else 10**6).rate_bps / 10_000
    return {
        "result": r,
        "s_meas": r.re_executions / r.user_jobs,
        "measured": (r.re_executions + 2 * r.canaries) / r.user_jobs,
        "predicted": s_drawn + canary_cost(p.canary_rate_bps),
        "s_new": risk_at(p, 0).rate_bps / 10_000,
        "canary": canary_cost(p.canary_rate_bps),
    }


def s_established(p: Params, task: str) -> float:
    """The rate an established worker (score 100, the simulation's bond) is drawn at for
    a result of ``task``."""
    return risk_at(p, 10**6, task=task).rate_bps / 10_000


def report(label: str, a: argparse.Namespace, over: dict[str, int], seed: int) -> dict[str, Any]:
    p = params_of(over)
    n = a.jobs_per_worker
    print(f"\n== {label} ==")
    print(
        f"params: base_sample_bps={p.base_sample_bps} new_worker_sample_bps="
        f"{p.new_worker_sample_bps} (first {p.new_worker_jobs} results) canary_rate_bps="
        f"{p.canary_rate_bps} cost_share_bps={p.cost_share_bps} embed_check_rows="
        f"{p.embed_check_rows}"
    )
    fresh, est = risk_at(p, 0), risk_at(p, 10**6)
    lora = risk_at(p, 10**6, task="lora-train")
    print(
        f"risk rate, price {PRICE / VCN:g} VCN, bond {WORKER_BOND // VCN} VCN, score 100: "
        f"new worker {fresh.rate_bps / 100:g} % ({fresh.term}), established "
        f"{est.rate_bps / 100:g} % ({est.term}; lora-train {lora.rate_bps / 100:g} %, "
        f"{lora.term})"
    )
    kappa = Params().cost_share_bps  # what a fake saves is the economics, not a param
    for who, rk in (("new", fresh), ("established", est)):
        gain = PRICE * kappa // 10_000
        ev = (PRICE * kappa - rk.detection_bps * (PRICE + rk.stake_at_risk)) // 10_000
        print(
            f"  expected value of one fake, {who:>11}: {ev / VCN:+.4f} VCN "
            f"(saves {gain / VCN:g}, caught {rk.detection_bps / 100:g} %, "
            f"stake at risk {rk.stake_at_risk / VCN:.2f} VCN per catch)"
        )
    out: dict[str, Any] = {}
    runs = [(f"cheaters faking {c / 10_000:>4.0%}", f"P_{c}", c, seed, over) for c in a.fractions]
    if 1000 in a.fractions and not a.no_established:
        est_over = {**over, **ESTABLISHED}
        runs.append(
            ("established cheaters faking 10 %", "P_1000_established", 1000, seed + 2, est_over)
        )
    for label, key, cheat_bps, sd, ov in runs:
        d = detection(a.cheaters, n, cheat_bps, sd, ov)
        r = d["result"]
        print(
            f"{label}: {a.cheaters} × {n} jobs ({r.cheated} faked, "
            f"{r.canaries} canaries, {r.seconds:.0f} s)"
        )
        print(
            f"  detection per faked result  {d['p_meas']:.4f} ± {d['p_se']:.4f}   "
            f"predicted {d['p_pred']:.4f}   (canary {r.by_canary} / sampled {r.by_sampling})"
        )
        print(
            f"  P(caught within {n} jobs)   {d['P_meas']:.4f} ± {d['P_se']:.4f}   "
            f"predicted {d['P_pred']:.4f}   honest penalised {r.honest_penalised}"
        )
        out[key] = d
    for who, extra, sd in (("new", {}, 1), ("established", ESTABLISHED, 3)):
        if who == "established" and a.no_established:
            continue
        o = overhead(a.overhead_jobs, seed + sd, {**over, **extra})
        ro = o["result"]
        print(
            f"overhead in executions, honest {who} workers ({ro.user_jobs} user jobs, "
            f"{ro.canaries} canaries, {ro.re_executions} checks): measured "
            f"{o['measured']:.4f}, predicted {o['predicted']:.4f} (sampled {o['s_meas']:.4f}"
            f" + canaries {o['canary']:.4f})"
        )
        out["overhead" if who == "new" else "overhead_established"] = o
    out["lazy_oracles"] = lazy_oracles(over)
    return out


def lazy_oracles(over: dict[str, int]) -> dict[int, float]:
    """P(a lazy oracle is caught within N checks): each check is a plant with probability
    ``plant_rate_bps`` and the first one it passes gets it punished (oracle/README.md,
    "Plants"; the chain's side is tests/modules/test_oracle_canaries.py)."""
    f = params_of(over).plant_rate_bps / 10_000
    if f <= 0:
        print("lazy oracles: plant_rate_bps = 0, never caught")
        return {}
    need = math.ceil(math.log(0.01) / math.log(1 - f)) if f < 1 else 1
    marks = sorted({10, 20, 50, need, 100})
    at = {n: 1 - (1 - f) ** n for n in marks}
    figures = ", ".join(f"{at[n]:.4f} within {n}" for n in marks)
    print(
        f"lazy oracles (copy the worker's hash), plants {f:.0%} of checks: caught {figures}; "
        f"≥ 0.99 within {need} checks, {1 / f:.0f} on average"
    )
    return at


def print_runtime(
    a: argparse.Namespace, res: dict[str, dict[str, Any]], over: dict[str, int]
) -> None:
    new, old = params_of(over), params_of(BASELINE)
    costs = runtime_costs(a.reps, new.embed_check_rows)
    print(f"\n== check cost with the real runtime (in-process, median of {a.reps}) ==")
    print(
        f"  {'task':16} {'worker run':>10} {'full check':>10} {'cheap':>8} "
        f"{'c full':>7} {'c cheap':>7}"
    )
    cs: dict[str, tuple[float, float]] = {}
    for task, (w, f, c) in costs.items():
        cs[task] = (f / w, c / w)
        print(f"  {task:16} {w:>9.3f}s {f:>9.3f}s {c:>7.3f}s {f / w:>7.3f} {c / w:>7.3f}")
    print("  prefill vs the decode loop it replaces (forward passes only, tiny-lm, 1 thread):")
    for n, td, tp in forward_ratio([32, 128], max(a.reps, 5)):
        print(
            f"    {n:>4} tokens: decode {td * 1e3:7.2f} ms, prefill {tp * 1e3:6.2f} ms, "
            f"ratio {tp / td:.3f}"
        )
    print("\n== overhead in compute time, s·c + 2r/(1−r) ==")
    o_new = res["new"]["overhead"]
    canary = o_new["canary"]
    print(
        f"  {'task':16} {'checks s·c:':>11} {'new':>7} {'established':>11}"
        f"   {'+ canaries':>10}   {'total: new':>10} {'established':>11}"
        f"   {'previous defaults':>17}"
    )
    s_old = res["old"]["overhead"]["s_meas"] if "old" in res else old.base_sample_bps / 10_000
    for task, (c_full, c_cheap) in cs.items():
        fresh = o_new["s_meas"] * c_cheap
        est = s_established(new, task) * c_cheap
        prev = s_old * c_full + canary_cost(old.canary_rate_bps)
        print(
            f"  {task:16} {'':>11} {fresh:>7.4f} {est:>11.4f}   {canary:>10.4f}"
            f"   {fresh + canary:>10.4f} {est + canary:>11.4f}   {prev:>17.4f}"
        )
    fp = false_positives(a.fp_prompts, 2)
    print(
        f"\n== honest false positives: runtime at 1 thread, checks at 2 threads ==\n"
        f"  text (prefill): {fp['text_fails']} of {fp['jobs']} jobs failed "
        f"({fp['positions']} positions), worst gap {fp['worst_gap']:.2e} logits against a "
        f"margin of 1e-2; the closest top two at any position {fp['closest_top2']:.2e}\n"
        f"  embeddings: min row cosine {fp['embed_min_bps']} bps (threshold 9500), "
        f"max |Δ| {fp['embed_max_diff']:.1e}"
    )
    lf = lora_error_rates(a.fp_lora_jobs, 2)
    print(
        f"  LoRA (interval replay): {lf['fails']} of {lf['intervals']} intervals of "
        f"{lf['jobs']} jobs failed, min weight cosine {lf['min_bps']} bps (threshold 9500), "
        f"largest logged-vs-replayed loss gap {lf['max_loss_gap']:.1e} (tolerance 1e-3)"
    )
    print(f"\n== LoRA cheats: share of the {lf['m']} intervals whose check catches them ==")
    for name, share in lf["cheats"].items():
        print(f"  {name:36} {share:.3f}")


def parse_sets(ap: argparse.ArgumentParser, sets: list[str]) -> dict[str, int]:
    """``--set`` values as param overrides, checked as the chain checks params."""
    over: dict[str, int] = {}
    for item in sets:
        name, eq, value = item.partition("=")
        if not eq or not value.strip().isdigit():
            ap.error(
                f"--set {item!r}: give PARAM=VALUE with a whole number, e.g. canary_rate_bps=100"
            )
        over[name.strip()] = int(value)
    try:
        params_of(over)
    except Exception as e:  # noqa: BLE001 - the params' own message says what is wrong
        ap.error(f"--set: {e}")
    return over


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--cheaters", type=int, default=200)
    ap.add_argument("--jobs-per-worker", type=int, default=100)
    ap.add_argument(
        "--fractions", type=int, nargs="+", default=[100, 1000, 5000], help="shares faked (bps)"
    )
    ap.add_argument("--overhead-jobs", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="40 cheaters, 2000 overhead jobs")
    ap.add_argument("--no-baseline", action="store_true", help="skip the previous defaults")
    ap.add_argument(
        "--no-established", action="store_true", help="skip the established workers' runs"
    )
    ap.add_argument("--runtime", action="store_true", help="also time the real runtime")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--fp-prompts", type=int, default=200)
    ap.add_argument("--fp-lora-jobs", type=int, default=3, help="honest LoRA runs replayed")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PARAM=VALUE",
        help="a verification param for today's run, over the defaults (repeatable), e.g. "
        "canary_rate_bps=100: the design's 5 %% canaries are most of the overhead",
    )
    a = ap.parse_args()
    if a.quick:
        a.cheaters, a.overhead_jobs = 40, 2000
    over = parse_sets(ap, a.set)

    t0 = time.monotonic()
    print("VCoin verification: detection and overhead (simulated through the real modules)")
    label = "today's defaults: cheap checks, risk rates"
    if over:
        label += ", with " + " ".join(f"{k}={v}" for k, v in over.items())
    res = {"new": report(label, a, over, a.seed)}
    if not a.no_baseline:
        res["old"] = report("previous defaults: full re-execution", a, BASELINE, a.seed)
    if a.runtime:
        print_runtime(a, res, over)
    print(f"\ntotal {time.monotonic() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
