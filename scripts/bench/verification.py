#!/usr/bin/env python3
"""Verification figures: detection of a cheating worker, and the compute overhead.

Measured by simulation through the real modules (``detection_sim.py`` here: an
App in a temp dir, signed txs, FinalizeBlock + Commit, seeded), at the
default verification params unless overridden, next to what the params
predict (rates as fractions):

    s  = the sampling rate the chain drew at (``risk.py``: a new worker's first
         100 results at new_worker_sample_bps, an established one at its risk rate)
    r  = canary share of all jobs (canary_rate_bps)
    per cheated job         p = s + r − s·r
    caught within n jobs    P = 1 − (1 − f·p)^n              (cheats on a fraction f)
    overhead (executions)   s + 2·r/(1 − r)                   (a canary runs twice)
    overhead (time)         s·c + 2·r/(1 − r)                 (c: check cost / job cost)
    lazy oracle caught      1 − (1 − f_p)^N within N checks   (f_p: plant_rate_bps, the
                                                               share of checks that are plants)

Overhead is extra compute as a share of useful compute (the user jobs),
measured on an honest market of new workers (the costliest case: every draw at
the newcomer rate) and predicted for established workers. Every figure is
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
import atexit
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(1, str(Path(__file__).resolve().parent))  # detection_sim, when imported

from detection_sim import PRICE, VCN, SimConfig, predicted_caught, simulate  # noqa: E402

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
}
WORKER_BOND = 1000 * VCN  # what the simulation's workers bond


def se(q: float, n: int) -> float:
    return math.sqrt(q * (1 - q) / n) if n else float("nan")


def params_of(overrides: dict[str, int]) -> Params:
    return Params.from_json(overrides)


def risk_at(p: Params, age: int, score: int = 10_000, stake: int = WORKER_BOND) -> Risk:
    sp = SlashingParams()
    slash = SlashTerms(sp.cheat_penalty_bps, sp.slash_below_bps, sp.slash_fraction_bps)
    return p.risk(RiskInputs(score, stake, PRICE, age), slash)


def detection(
    cheaters: int, n: int, cheat_bps: int, seed: int, over: dict[str, int]
) -> dict[str, Any]:
    cfg = SimConfig(
        seed=seed, cheaters=cheaters, jobs_per_worker=n, cheat_bps=cheat_bps, verification=over
    )
    r = simulate(cfg)
    p = risk_at(params_of(over), 0).detection_bps / 10_000
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
    s_new = risk_at(p, 0).rate_bps / 10_000
    return {
        "result": r,
        "s_meas": r.re_executions / r.user_jobs,
        "measured": (r.re_executions + 2 * r.canaries) / r.user_jobs,
        "predicted": s_new + canary_cost(p.canary_rate_bps),
        "s_new": s_new,
        "s_established": risk_at(p, 10**6).rate_bps / 10_000,
        "canary": canary_cost(p.canary_rate_bps),
    }


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
    print(
        f"risk rate, price {PRICE / VCN:g} VCN, bond {WORKER_BOND // VCN} VCN, score 100: "
        f"new worker {fresh.rate_bps / 100:g} % ({fresh.term}), established "
        f"{est.rate_bps / 100:g} % ({est.term})"
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
    for cheat_bps in a.fractions:
        d = detection(a.cheaters, n, cheat_bps, seed, over)
        r = d["result"]
        f = cheat_bps / 10_000
        print(
            f"cheaters faking {f:>4.0%}: {a.cheaters} × {n} jobs ({r.cheated} faked, "
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
        out[f"P_{cheat_bps}"] = d
    o = overhead(a.overhead_jobs, seed + 1, over)
    ro = o["result"]
    print(
        f"overhead in executions, honest new workers ({ro.user_jobs} user jobs, "
        f"{ro.canaries} canaries, {ro.re_executions} checks): measured {o['measured']:.4f}, "
        f"predicted {o['predicted']:.4f} (sampled {o['s_meas']:.4f} + canaries {o['canary']:.4f})"
    )
    out["overhead"] = o
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


def _workdir(prefix: str) -> Path:
    """A scratch folder for models and job files, removed when the bench exits."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, tmp, True)
    return tmp


TEXTS = [f"Sentence number {i} about the weather in spring." for i in range(8)]
LORA_STEPS, LORA_EVERY = 32, 4  # 8 intervals: a replay trains 1/8 of the steps


def _jobs(lm: str, mini: str) -> dict[str, tuple[str, dict[str, Any], dict[str, Any]]]:
    return {
        "text-generation": (lm, {"prompts": TEXTS[:4]}, {"max_new_tokens": 32}),
        "embedding": (mini, {"texts": TEXTS}, {}),
        "lora-train": (
            lm,
            {"texts": TEXTS, "eval_texts": TEXTS[:2]},
            {"steps": LORA_STEPS, "checkpoint_every": LORA_EVERY},
        ),
    }


def runtime_costs(reps: int, check_rows: int) -> dict[str, tuple[float, float, float]]:
    """Per task type: (worker run s, full re-execution check s, cheap check s), medians
    over ``reps`` after one warm-up round."""
    import base64
    import hashlib
    import json
    import statistics

    from oracle.executor import Checked, Executor
    from oracle.expected import InProcessRunner
    from oracle.similarity import Policy
    from worker.models.minilm import build_minilm
    from worker.models.tiny_lm import build_tiny_lm

    tmp = _workdir("vcoin-bench-verif-")
    blobs = tmp / "blobs"
    lm, mini = build_tiny_lm(blobs, 0).digest, build_minilm(blobs).digest
    runner = InProcessRunner()
    out: dict[str, tuple[float, float, float]] = {}
    for task, (model, inp, params) in _jobs(lm, mini).items():
        raw = json.dumps(inp).encode()
        job = {
            "id": "1",
            "task_type": task,
            "model": "m",
            "spec": json.dumps({"params": params}),
            "inline_input": base64.b64encode(raw).decode(),
            "input_hash": hashlib.sha256(raw).hexdigest(),
            "draw_block_hash": hashlib.sha256(b"draw").hexdigest(),
            "check_rows": check_rows,
        }
        worker_ex = Executor(LocalArtifacts(blobs), runner, tmp / f"w-{task}")
        full_ex = Executor(LocalArtifacts(blobs), runner, tmp / f"o-{task}", cheap_checks=False)
        cheap_ex = Executor(LocalArtifacts(blobs), runner, tmp / f"c-{task}")
        times: list[tuple[float, float, float]] = []
        for i in range(reps + 1):  # the first round warms caches, imports and loaded models
            run_dir = worker_ex.new_run_dir(i)
            t0 = time.perf_counter()
            run = worker_ex.run(job, model, run_dir)
            t_worker = time.perf_counter() - t0
            assert run.ok and run.output_path is not None, run.error_message
            (blobs / str(run.output_hash)).write_bytes(run.output_path.read_bytes())
            done = {**job, "output_hash": run.output_hash}
            t_checks = []
            for ex in (full_ex, cheap_ex):
                t0 = time.perf_counter()
                checked = ex.check(done, model, Policy())
                t_checks.append(time.perf_counter() - t0)
                assert isinstance(checked, Checked) and checked.comparison.passed, checked
            if i:
                times.append((t_worker, t_checks[0], t_checks[-1]))
        w, f, c = (statistics.median(t[k] for t in times) for k in range(3))
        out[task] = (w, f, c)
    return out


def forward_ratio(tokens: list[int], reps: int) -> list[tuple[int, float, float]]:
    """(tokens, decode-loop s, prefill s) with the tiny model loaded, one thread: the
    compute a prefill check replaces, without loading or I/O."""
    import statistics

    import torch

    from compute.runtime.models import materialize
    from oracle.prefill import PrefillChecker
    from worker.models.tiny_lm import build_tiny_lm

    tmp = _workdir("vcoin-bench-prefill-")
    digest = build_tiny_lm(tmp / "blobs", 0).digest
    _, model_dir = materialize(tmp / "blobs", digest, tmp / "scratch")
    ck = PrefillChecker(model_dir)
    torch.set_num_threads(1)
    ids = ck.prompt_ids(TEXTS[0])
    rows = []
    for n in tokens:

        def decode(n: int = n) -> list[int]:
            new: list[int] = []
            past, cur = None, torch.tensor([ids])
            with torch.no_grad():
                for _ in range(n):
                    o = ck.model(input_ids=cur, past_key_values=past, use_cache=True)
                    past = o.past_key_values
                    new.append(int(o.logits[0, -1].argmax()))
                    cur = torch.tensor([[new[-1]]])
            return new

        claimed = decode()
        td, tp = [], []
        for _ in range(reps):
            t0 = time.perf_counter()
            decode()
            td.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            ck.logits(ids, claimed)
            tp.append(time.perf_counter() - t0)
        rows.append((n, statistics.median(td), statistics.median(tp)))
    return rows


def false_positives(prompts: int, threads: int) -> dict[str, Any]:
    """Honest text outputs of the runtime (one thread) checked by prefill at ``threads``
    threads; honest embeddings re-embedded at ``threads``: fails and the worst margin."""
    import json

    import numpy as np
    import torch

    from compute.runtime.__main__ import run_job
    from compute.runtime.models import materialize
    from oracle.fixedpoint import rows_cosine_bps
    from oracle.prefill import PrefillChecker, judge_logits
    from oracle.similarity import TIE_MARGIN
    from oracle.textsim import MiniLM
    from worker.models.tiny_lm import build_tiny_lm

    tmp = _workdir("vcoin-bench-fp-")
    digest = build_tiny_lm(tmp / "blobs", 0).digest
    texts = [f"Prompt {i}: {TEXTS[i % len(TEXTS)][:: -1 if i % 2 else 1]}" for i in range(prompts)]
    spec = {
        "version": 1,
        "task": "text-generation",
        "model": digest,
        "input": {"inline": {"prompts": texts}},
        "params": {"max_new_tokens": 32},
    }
    (tmp / "job.json").write_text(json.dumps(spec))
    doc = run_job(tmp / "job.json", tmp / "in", tmp / "blobs", tmp / "out", tmp / "s", "cpu")
    out = json.loads((tmp / "out" / doc["output"]["file"]).read_bytes())
    _, model_dir = materialize(tmp / "blobs", digest, tmp / "scratch")
    ck = PrefillChecker(model_dir)
    torch.set_num_threads(threads)
    fails, worst, positions, closest = 0, 0.0, 0, math.inf
    for prompt, item in zip(texts, out["completions"], strict=True):
        logits = ck.logits(ck.prompt_ids(prompt), item["token_ids"])
        got = judge_logits(logits, item["token_ids"])
        positions += len(got)
        worst = max([worst, *(p.gap for p in got)])
        fails += any(not p.accepted(TIE_MARGIN) for p in got)
        top2 = np.sort(logits, axis=1)[:, -2:]
        closest = min(closest, float(np.min(top2[:, 1] - top2[:, 0])))
    torch.set_num_threads(1)
    one = MiniLM.embed(texts)
    torch.set_num_threads(threads)
    many = MiniLM.embed(texts)
    torch.set_num_threads(1)
    cos = rows_cosine_bps(one, many)
    diff = float(np.max(np.abs(one - many)))
    return {
        "jobs": prompts,
        "positions": positions,
        "text_fails": fails,
        "worst_gap": worst,
        "closest_top2": closest,
        "embed_min_bps": min(cos),
        "embed_max_diff": diff,
    }


def lora_error_rates(jobs: int, threads: int) -> dict[str, Any]:
    """Honest LoRA runs of the runtime (one thread, seeds 0..jobs−1), every interval
    replayed by the oracle at ``threads`` threads: fails, the lowest weight cosine, the
    largest relative gap between a logged and a replayed loss. Then the cheats of
    ``tests/oracle/test_interval_replay.py`` on seed 0, every interval replayed: the share
    of intervals that catch each (its detection per check)."""
    import json

    import torch

    from compute.runtime.__main__ import run_job
    from compute.runtime.models import materialize
    from compute.runtime.spec import check_params
    from oracle.interval import Replayer, check_interval
    from oracle.lora_eval import loss_evaluator
    from oracle.similarity import Policy
    from worker.models.tiny_lm import build_tiny_lm

    tmp = _workdir("vcoin-bench-lora-")
    digest = build_tiny_lm(tmp / "blobs", 0).digest
    _, model_dir = materialize(tmp / "blobs", digest, tmp / "scratch")
    inp = {"texts": TEXTS, "eval_texts": TEXTS[:2]}
    m = -(-LORA_STEPS // LORA_EVERY)
    fails = intervals = 0
    worst_bps, worst_loss = 10_000, 0.0
    cheats: dict[str, float] = {}
    for seed in range(jobs):
        raw = {"steps": LORA_STEPS, "checkpoint_every": LORA_EVERY, "seed": seed}
        params = check_params("lora-train", raw)
        spec = {"version": 1, "task": "lora-train", "model": digest, "params": raw}
        (tmp / "job.json").write_text(json.dumps({**spec, "input": {"inline": inp}}))
        torch.set_num_threads(1)
        out = tmp / f"out{seed}"
        doc = run_job(tmp / "job.json", tmp / "in", tmp / "blobs", out, tmp / "s", "cpu")
        loss_of = loss_evaluator(model_dir, params, inp["eval_texts"])
        torch.set_num_threads(threads)
        rep = Replayer(model_dir, params, TEXTS, "cpu")  # each replay restores all it uses
        for j in range(m):
            c = check_interval(
                out / doc["output"]["file"], rep, params, digest, j, Policy(), loss_of
            )
            intervals += 1
            fails += not c.passed
            worst_bps = min(worst_bps, c.similarity_bps)
            pairs = zip(c.details["replayed_losses"], c.details["logged_losses"], strict=True)
            worst_loss = max(worst_loss, *(abs(t - r) / abs(r) for r, t in pairs))
        torch.set_num_threads(1)
        if seed == 0:
            for name, path in _lora_cheats(rep, params, digest, out / doc["output"]["file"], m):
                caught = sum(
                    not check_interval(path, rep, params, digest, j, Policy(), loss_of).passed
                    for j in range(m)
                )
                cheats[name] = caught / m
    return {
        "jobs": jobs,
        "intervals": intervals,
        "fails": fails,
        "min_bps": worst_bps,
        "max_loss_gap": worst_loss,
        "m": m,
        "cheats": cheats,
    }


def _lora_cheats(rep: Any, params: dict[str, Any], digest: str, honest: Path, m: int) -> Any:
    """(name, output file) of each cheat: trained with the runtime's own steps, a chain
    that holds together (``checkpoints.manifest``), except where tampering is the cheat."""
    import json

    import torch
    from safetensors import safe_open

    from compute.runtime import checkpoints as ck
    from compute.runtime.hashing import canonical_json, save_safetensors
    from compute.runtime.tasks import train_steps

    at = ck.boundaries(params["steps"], params["checkpoint_every"])

    def write(name: str, saved: list[Any], losses: list[float]) -> tuple[str, Path]:
        tensors = dict(saved[-1]["w"])
        for i, c in enumerate(saved):
            tensors.update(ck.flatten(c, i))
        doc = canonical_json(ck.manifest(digest, params, saved, losses)).decode()
        path = honest.parent / f"{name.split()[0]}-{name.split()[-1]}.safetensors"
        save_safetensors(tensors, path, {"train_losses": json.dumps(losses), ck.META_KEY: doc})
        return name, path

    def train(skip: set[int], stop_after: int, noise: bool) -> tuple[list[Any], list[float]]:
        ck.restore(rep.live, rep.opt, rep.init, 0)
        saved = [ck.capture(rep.live, rep.opt)]
        losses: list[float] = []
        for i, (a, b) in enumerate(zip(at, at[1:], strict=False)):
            if i in skip or i >= stop_after:
                losses += [losses[-1] if losses else 5.0] * (b - a)
                with torch.no_grad():  # an untrained interval: copied, or nudged to hide it
                    for p in rep.live.values() if noise else ():
                        p.add_(1e-6 * p.abs().max() * torch.randn(p.shape))
            else:
                losses += train_steps(rep.model, rep.opt, rep.tok, TEXTS, params, "cpu", a, b)
            saved.append(ck.capture(rep.live, rep.opt))
            ck.restore(rep.live, rep.opt, saved[-1], b)  # a careful cheater's step count
        return saved, losses

    yield write("skipped 1 interval, copied", *train({m // 2}, m, False))
    yield write("skipped 1 interval, nudged", *train({m // 2}, m, True))
    yield write(f"stale (stopped after {m // 2} of {m}), copied", *train(set(), m // 2, False))
    yield write(f"stale (stopped after {m // 2} of {m}), nudged", *train(set(), m // 2, True))
    with safe_open(str(honest), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        meta = dict(f.metadata())
    saved = [{p: ck.checkpoint(tensors, i, p) for p in ck.PARTS} for i in range(m + 1)]
    logged = json.loads(meta["train_losses"])
    a, b = at[m // 2], at[m // 2 + 1]
    faked = [x * 0.9 if a <= s < b else x for s, x in enumerate(logged)]
    yield write("faked loss log (1 interval)", saved, faked)
    name = next(k for k in tensors if k.startswith(f"{ck.PREFIX}1.w."))
    path = honest.parent / "tampered.safetensors"
    save_safetensors({**tensors, name: tensors[name] * 1.001}, path, meta)
    yield "tampered checkpoint", path


def print_runtime(a: argparse.Namespace, res: dict[str, dict[str, Any]]) -> None:
    new, old = params_of({}), params_of(BASELINE)
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
    print(
        f"  {'task':16} {'new, new workers':>17} {'new, established':>17} {'previous defaults':>18}"
    )
    o_new = res["new"]["overhead"]
    s_old = res["old"]["overhead"]["s_meas"] if "old" in res else old.base_sample_bps / 10_000
    for task, (c_full, c_cheap) in cs.items():
        fresh = o_new["s_meas"] * c_cheap + o_new["canary"]
        est = o_new["s_established"] * c_cheap + o_new["canary"]
        prev = s_old * c_full + canary_cost(old.canary_rate_bps)
        print(f"  {task:16} {fresh:>17.4f} {est:>17.4f} {prev:>18.4f}")
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
    ap.add_argument("--runtime", action="store_true", help="also time the real runtime")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--fp-prompts", type=int, default=200)
    ap.add_argument("--fp-lora-jobs", type=int, default=3, help="honest LoRA runs replayed")
    a = ap.parse_args()
    if a.quick:
        a.cheaters, a.overhead_jobs = 40, 2000

    t0 = time.monotonic()
    print("VCoin verification: detection and overhead (simulated through the real modules)")
    res = {"new": report("today's defaults: cheap checks, risk rates", a, {}, a.seed)}
    if not a.no_baseline:
        res["old"] = report("previous defaults: full re-execution", a, BASELINE, a.seed)
    if a.runtime:
        print_runtime(a, res)
    print(f"\ntotal {time.monotonic() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
