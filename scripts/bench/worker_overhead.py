#!/usr/bin/env python3
"""Worker overhead for a trivial job (one greedy token from the tiny model).

Sandbox half (this script): the time from container start to the result file
with Docker (target <= 1.5 s of overhead), next to baselines in the same run:

* in-process: ``run_job`` called in this process (libraries already loaded);
* direct process: ``python -m worker.runtime`` as a plain subprocess, no
  sandbox (interpreter start and library imports, no container);
* docker: the same command in a job container (create, start, run, result
  file), then until the container is gone;
* docker null job: a container with the same configuration whose command only
  writes result.json: the engine's own cost, with no Python libraries loaded.

Sandbox overhead = docker(result file) - direct process: what the container
itself costs; the null job measures the same thing from the other side. The
in-process figure shows what a long-lived runtime would save.

TODO(event-to-claim): the other half of issue 4's benchmark, the time from a
``JobPosted`` event to the claim broadcast (target <= 100 ms), needs the node
and the worker agent (worker/agent/, after the jobs messages land): start a
solo node with --instant, start the agent subscribed over websocket, post N
jobs, and measure event block time -> claim tx seen in the mempool.

    .venv/bin/python scripts/bench/worker_overhead.py [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from worker.models.tiny_lm import build_tiny_lm  # noqa: E402
from worker.runtime.__main__ import run_job  # noqa: E402
from worker.sandbox import Limits, Mounts, prepare_out_dir  # noqa: E402


def trivial_job(model: str) -> dict[str, Any]:
    return {
        "version": 1,
        "task": "text-generation",
        "model": model,
        "input": {"inline": {"prompts": ["hi"]}},
        "params": {"max_new_tokens": 1},
    }


def watch_for(path: Path, stop: threading.Event, seen: list[float]) -> None:
    while not stop.is_set():
        if path.exists():
            seen.append(time.monotonic())
            return
        time.sleep(0.002)


NULL_JOB = "open('/out/result.json', 'w').write('{\"output_hash\": \"null\"}')"


def time_docker(
    sandbox: Any, job: Path, models: Path, out: Path, null: bool = False
) -> tuple[float, float, str]:
    """Seconds from container create to result file, and to container removed.

    ``null``: instead of the runtime, a command that only writes result.json,
    so the figure is the sandbox's own cost (engine, mounts, interpreter start).
    """
    prepare_out_dir(out)
    mounts = Mounts(job.parent, models, out, job)
    argv = ["python3", "-S", "-c", NULL_JOB] if null else sandbox.runtime_argv(mounts, "cpu")
    seen: list[float] = []
    stop = threading.Event()
    watcher = threading.Thread(target=watch_for, args=(out / "result.json", stop, seen))
    t0 = time.monotonic()
    watcher.start()
    res = sandbox.run(argv, mounts, Limits(timeout_s=120))
    t_gone = time.monotonic()
    stop.set()
    watcher.join()
    if not res.ok or not seen:
        raise SystemExit(f"docker run failed: exit {res.exit_code}\n{res.logs[-2000:]}")
    doc = json.loads((out / "result.json").read_text())
    return seen[0] - t0, t_gone - t0, str(doc["output_hash"])


def time_direct(job: Path, models: Path, out: Path) -> tuple[float, str]:
    t0 = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "worker.runtime",
            "--job",
            str(job),
            "--inputs",
            str(job.parent),
            "--models",
            str(models),
            "--out",
            str(out),
            "--device",
            "cpu",
        ],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    return time.monotonic() - t0, json.loads((out / "result.json").read_text())["output_hash"]


def time_in_process(job: Path, models: Path, out: Path) -> tuple[float, str]:
    t0 = time.monotonic()
    doc = run_job(job, job.parent, models, out, device="cpu")
    return time.monotonic() - t0, str(doc["output_hash"])


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def main() -> int:
    ap = argparse.ArgumentParser(description="sandbox overhead for a trivial job")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from worker.sandbox.docker_backend import DockerSandbox, engine_problem

    problem = engine_problem()
    work = Path(tempfile.mkdtemp(prefix="vcoin-bench-"))
    work.chmod(0o755)
    try:
        model = build_tiny_lm(work / "models", seed=0)
        for p in (work / "models").iterdir():
            p.chmod(0o444)
        job = work / "job" / "job.json"
        job.parent.mkdir(mode=0o755)
        job.write_text(json.dumps(trivial_job(model.digest)))
        job.chmod(0o444)

        # First in-process run (torch is already loaded by the model build): shown apart.
        cold, h0 = time_in_process(job, work / "models", work / "warm")
        warm, direct, box_file, box_gone, null_file, null_gone = [], [], [], [], [], []
        hashes = {h0}
        sandbox = None if problem else DockerSandbox()
        if sandbox is not None:  # pull the image's files into the page cache once
            time_docker(sandbox, job, work / "models", work / "prime")
        for i in range(args.runs):
            t, h = time_in_process(job, work / "models", work / f"ip{i}")
            warm.append(t)
            hashes.add(h)
            t, h = time_direct(job, work / "models", work / f"dp{i}")
            direct.append(t)
            hashes.add(h)
            if sandbox is not None:
                tf, tg, h = time_docker(sandbox, job, work / "models", work / f"dk{i}")
                box_file.append(tf)
                box_gone.append(tg)
                hashes.add(h)
                tf, tg, _ = time_docker(sandbox, job, work / "models", work / f"nl{i}", null=True)
                null_file.append(tf)
                null_gone.append(tg)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    figures: dict[str, Any] = {
        "runs": args.runs,
        "in_process_cold_s": round(cold, 3),
        "in_process_warm_median_s": round(med(warm), 3),
        "direct_process_median_s": round(med(direct), 3),
        "same_output_hash_everywhere": len(hashes) == 1,
    }
    print(f"trivial job: text-generation, 1 token, tiny LM ({args.runs} runs, medians)")
    print(f"  in-process, first run (libraries loaded)  {cold:7.3f} s")
    print(f"  in-process, warm                          {med(warm):7.3f} s")
    print(f"  direct process (python -m worker.runtime) {med(direct):7.3f} s")
    if box_file:
        overhead = med(box_file) - med(direct)
        figures.update(
            docker_start_to_result_file_median_s=round(med(box_file), 3),
            docker_start_to_container_gone_median_s=round(med(box_gone), 3),
            docker_overhead_vs_direct_s=round(overhead, 3),
            docker_overhead_vs_in_process_s=round(med(box_file) - med(warm), 3),
            docker_null_job_start_to_result_file_median_s=round(med(null_file), 3),
            docker_null_job_start_to_removed_median_s=round(med(null_gone), 3),
            target_overhead_s=1.5,
            meets_target=overhead <= 1.5,
        )
        print(f"  docker, container start -> result file    {med(box_file):7.3f} s")
        print(f"  docker, container start -> removed        {med(box_gone):7.3f} s")
        print(f"  sandbox overhead (docker - direct)        {overhead:7.3f} s  (target <= 1.5 s)")
        print(f"  docker - in-process warm                  {med(box_file) - med(warm):7.3f} s")
        print(
            f"  docker, null job (only writes result)     {med(null_file):7.3f} s to result file,"
        )
        print(f"                                            {med(null_gone):7.3f} s to removed")
    else:
        print(f"  docker: not measured ({problem})")
    print(f"  same output hash in every run: {len(hashes) == 1}")
    print("  event-to-claim: not measured yet (needs the node and the agent; see TODO)")
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
