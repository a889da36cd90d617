"""The verification benchmark's runtime figures (``verification.py --runtime``): the
check cost ``c`` per task type with the real worker runtime in this process (a worker's
run against the oracle's full re-execution and its cheap check), the forward-pass ratio
of a prefill against the decode loop it replaces, honest false positives of text and
embedding checks at another thread count, and LoRA interval replay (honest error rates
and the share of intervals that catch each cheat). ``verification.py`` prints them.
"""

from __future__ import annotations

import atexit
import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any


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


def oracle_job(
    task: str, job_id: str, inp: dict[str, Any], params: dict[str, Any], draw: bytes
) -> dict[str, Any]:
    """A job as the oracle's ``Executor`` reads it from the chain, its input inline;
    ``draw`` stands for the block hash after submission that picks what is checked."""
    import base64
    import hashlib
    import json

    raw = json.dumps(inp).encode()
    return {
        "id": job_id,
        "task_type": task,
        "model": "m",
        "spec": json.dumps({"params": params}),
        "inline_input": base64.b64encode(raw).decode(),
        "input_hash": hashlib.sha256(raw).hexdigest(),
        "draw_block_hash": hashlib.sha256(draw).hexdigest(),
    }


def runtime_costs(reps: int, check_rows: int) -> dict[str, tuple[float, float, float]]:
    """Per task type: (worker run s, full re-execution check s, cheap check s), medians
    over ``reps`` after one warm-up round."""
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
        job = {**oracle_job(task, "1", inp, params, b"draw"), "check_rows": check_rows}
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
