#!/usr/bin/env python3
"""Verification figures: detection of a cheating worker, and the compute overhead.

Measured by simulation through the real modules (``oracle/simulate.py``: an
App in a temp dir, signed txs, FinalizeBlock + Commit, seeded), at the
default verification params unless overridden, next to what the params
predict (rates as fractions):

    s  = sampling rate at a fresh worker's reputation (base_sample_bps)
    r  = canary share of all jobs (canary_rate_bps)
    per cheated job         p = s + r − s·r
    caught within n jobs    P = 1 − (1 − f·p)^n              (cheats on a fraction f)
    overhead (first order)  s·c + r                           (c: re-execution cost / job cost)
    overhead (full count)   s·c + (1 + c_local)·r/(1 − r)     (r/(1−r) canaries per user job,
                                                               each run by a worker and once
                                                               by the oracle: c_local = 1)

Overhead is extra compute as a share of useful compute (the user jobs). In
executions it is measured on an honest market (no cheater lowers a
reputation, so every draw is at the base rate). With ``--runtime`` the cost
ratio ``c`` is measured too, per task type, with the real worker runtime:
the oracle's check (re-execution + comparison) against a worker's run of the
same job, both in this process.

    .venv/bin/python scripts/bench/verification.py            # 200 cheaters × 100 jobs
    .venv/bin/python scripts/bench/verification.py --quick    # 40 cheaters
    .venv/bin/python scripts/bench/verification.py --runtime  # also time the runtime
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from oracle.simulate import (  # noqa: E402
    SimConfig,
    predicted_caught,
    predicted_overhead,
    predicted_p,
    simulate,
)


def se(q: float, n: int) -> float:
    return math.sqrt(q * (1 - q) / n) if n else float("nan")


def detection(cheaters: int, n: int, cheat_bps: int, seed: int) -> dict[str, Any]:
    r = simulate(SimConfig(seed=seed, cheaters=cheaters, jobs_per_worker=n, cheat_bps=cheat_bps))
    s, rc = int(r.params["base_sample_bps"]), int(r.params["canary_rate_bps"])
    p = predicted_p(s, rc)
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


def overhead(jobs: int, seed: int) -> dict[str, Any]:
    workers = max(1, jobs // 100)
    r = simulate(SimConfig(seed=seed, cheaters=workers, jobs_per_worker=100, cheat_bps=0))
    s, rc = int(r.params["base_sample_bps"]), int(r.params["canary_rate_bps"])
    extra = r.re_executions + 2 * r.canaries  # re-executions; canaries run twice
    first, full = predicted_overhead(s, rc)
    return {"result": r, "measured": extra / r.user_jobs, "first": first, "full": full}


# -- runtime cost ratio -------------------------------------------------------------------
class LocalArtifacts:
    """Blobs from a local folder, by name (the bench has no node)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def fetch_to_cache(self, digest: str, cache_dir: str | Path) -> Path:
        import shutil

        dst = Path(cache_dir) / digest
        if not dst.exists():
            shutil.copyfile(self.folder / digest, dst)
        return dst


def runtime_costs(reps: int) -> dict[str, tuple[float, float, float]]:
    """Per task type: (worker run s, oracle check s, ratio c), medians over ``reps``."""
    import base64
    import hashlib
    import json
    import statistics

    from oracle.executor import Checked, Executor
    from oracle.expected import InProcessRunner
    from oracle.similarity import Policy
    from worker.models.minilm import build_minilm
    from worker.models.tiny_lm import build_tiny_lm

    tmp = Path(tempfile.mkdtemp(prefix="vcoin-bench-verif-"))
    blobs = tmp / "blobs"
    lm, mini = build_tiny_lm(blobs, 0).digest, build_minilm(blobs).digest
    texts = [f"Sentence number {i} about the weather in spring." for i in range(8)]
    jobs = {
        "text-generation": (lm, {"prompts": texts[:4]}, {"max_new_tokens": 32}),
        "embedding": (mini, {"texts": texts}, {}),
        "lora-train": (lm, {"texts": texts, "eval_texts": texts[:2]}, {"steps": 8}),
    }
    runner = InProcessRunner()
    out: dict[str, tuple[float, float, float]] = {}
    for task, (model, inp, params) in jobs.items():
        raw = json.dumps(inp).encode()
        job = {
            "id": "1",
            "task_type": task,
            "model": "m",
            "spec": json.dumps({"params": params}),
            "inline_input": base64.b64encode(raw).decode(),
            "input_hash": hashlib.sha256(raw).hexdigest(),
        }
        worker_ex = Executor(LocalArtifacts(blobs), runner, tmp / f"w-{task}")
        oracle_ex = Executor(LocalArtifacts(blobs), runner, tmp / f"o-{task}")
        wt, ot = [], []
        for i in range(reps + 1):  # the first round warms caches and imports
            run_dir = worker_ex.new_run_dir(i)
            t0 = time.perf_counter()
            run = worker_ex.run(job, model, run_dir)
            t_worker = time.perf_counter() - t0
            assert run.ok and run.output_path is not None, run.error_message
            (blobs / str(run.output_hash)).write_bytes(run.output_path.read_bytes())
            done = {**job, "output_hash": run.output_hash}
            t0 = time.perf_counter()
            checked = oracle_ex.check(done, model, Policy())
            t_oracle = time.perf_counter() - t0
            assert isinstance(checked, Checked) and checked.comparison.passed
            if i:
                wt.append(t_worker)
                ot.append(t_oracle)
        w, o = statistics.median(wt), statistics.median(ot)
        out[task] = (w, o, o / w)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--cheaters", type=int, default=200)
    ap.add_argument("--jobs-per-worker", type=int, default=100)
    ap.add_argument("--cheat-bps", type=int, default=1000, help="share of jobs faked (bps)")
    ap.add_argument("--overhead-jobs", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="40 cheaters, 2000 overhead jobs")
    ap.add_argument("--runtime", action="store_true", help="also time the real runtime")
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    if a.quick:
        a.cheaters, a.overhead_jobs = 40, 2000

    t0 = time.monotonic()
    d = detection(a.cheaters, a.jobs_per_worker, a.cheat_bps, a.seed)
    r = d["result"]
    p = r.params
    f, n = a.cheat_bps / 10_000, a.jobs_per_worker
    print("VCoin verification: detection and overhead (simulated through the real modules)")
    print(
        f"params: base_sample_bps={p['base_sample_bps']} canary_rate_bps={p['canary_rate_bps']} "
        f"similarity_threshold_bps={p['similarity_threshold_bps']} quorum_bps={p['quorum_bps']}"
    )
    print(
        f"\ndetection: {a.cheaters} cheating workers × {n} jobs, each faked with f = {f:g} "
        f"({r.user_jobs} user jobs, {r.canaries} canaries, {r.cheated} faked results, "
        f"{r.blocks} blocks, {r.seconds:.1f} s)"
    )
    print(f"  {'':34} {'measured':>18} {'predicted':>10}")
    print(
        f"  {'per faked result, p = s+r−sr':34} {d['p_meas']:>10.4f} ± {d['p_se']:.4f} "
        f"{d['p_pred']:>10.4f}"
    )
    print(f"    by canary / by sampling          {r.by_canary:>10} / {r.by_sampling}")
    print(
        f"  {f'caught within {n} jobs, 1−(1−fp)^n':34} {d['P_meas']:>10.4f} ± {d['P_se']:.4f} "
        f"{d['P_pred']:>10.4f}"
    )
    print(f"  honest workers penalised: {r.honest_penalised}")

    o = overhead(a.overhead_jobs, a.seed + 1)
    ro = o["result"]
    print(
        f"\noverhead in executions: honest market, {ro.user_jobs} user jobs, {ro.canaries} "
        f"canaries, {ro.re_executions} re-executions"
    )
    print(f"  measured (re-executions + 2·canaries) / user jobs   {o['measured']:.4f}")
    print(f"  predicted, first order s·c + r (c = 1)             {o['first']:.4f}")
    print(f"  predicted, full count s·c + 2·r/(1−r) (c = 1)      {o['full']:.4f}")

    if a.runtime:
        print(f"\nre-execution cost with the real runtime (in-process, median of {a.reps}):")
        print(f"  {'task':16} {'worker run':>11} {'oracle check':>13} {'c':>6} {'overhead':>9}")
        s, rc = int(p["base_sample_bps"]), int(p["canary_rate_bps"])
        for task, (w, oc, c) in runtime_costs(a.reps).items():
            _, full = predicted_overhead(s, rc, c=c, c_local=1.0)
            print(f"  {task:16} {w:>10.3f}s {oc:>12.3f}s {c:>6.3f} {full:>9.4f}")
    print(f"\ntotal {time.monotonic() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
