"""A cheating ``vcoin-worker``, for tests only: ``python -m tests.e2e.cheater start …``.

It is the real agent (``worker.cli.main``) with one thing changed: after a job
ran honestly in the sandbox and before its output is uploaded and submitted,
a share of the outputs is replaced. The fake is uploaded and submitted like an
honest output (with a signed receipt), so only re-execution or a canary can
tell. Three kinds of cheat, picked at random for each faked job:

* ``random``: an output of the right shape with made-up content (random
  tokens, random unit vectors, random adapter weights);
* ``cached``: the output of an earlier job of the same task type, as a worker
  that skips the work and replays old answers would send;
* ``perturbed``: the honest output slightly changed (one token, noise on the
  embeddings, the LoRA ``B`` matrices scaled 3×).

A training shard (``lora-shard``) is an adapter like a ``lora-train`` output:
``random`` replaces every tensor (A included), ``cached`` sends back an earlier
shard's adapter (a stale one), ``perturbed`` scales B 3×.

Settings come from the environment, read only here:
``VCOIN_TEST_CHEAT_FRACTION`` (share of jobs faked, default 0.5),
``VCOIN_TEST_CHEAT_SEED`` (default 0), ``VCOIN_TEST_CHEAT_LOG`` (a JSON
lines file that records every faked job: id, kind, honest and fake hashes),
``VCOIN_TEST_CHEAT_TASKS`` (comma-separated task types faked; default all),
``VCOIN_TEST_CHEAT_KINDS`` (comma-separated kinds to pick from; default all) and
``VCOIN_TEST_CHEAT_MAX`` (fake at most this many jobs, then work honestly;
default no limit).
"""

from __future__ import annotations

import json
import os
import random
import threading
from pathlib import Path
from typing import Any

from chain.artifacts import sha256_file
from compute.runtime.hashing import canonical_json, save_safetensors
from compute.sandbox import JobRun
from worker.agent import executor

KINDS = ("random", "cached", "perturbed")


class Cheat:
    def __init__(
        self,
        fraction: float,
        seed: int,
        log_path: Path | None,
        tasks: frozenset[str] | None = None,
        kinds: tuple[str, ...] = KINDS,
        most: int | None = None,
    ) -> None:
        self.fraction = fraction
        self.rng = random.Random(seed)
        self.log_path = log_path
        self.tasks = tasks
        self.kinds = kinds
        self.left = most
        self.lock = threading.Lock()
        self.previous: dict[str, bytes] = {}  # task -> an earlier honest output

    def apply(self, run: JobRun) -> None:
        """Maybe replace ``run``'s output file, and its hash in ``run.result``."""
        result, path = run.result, run.output_path
        if result is None or path is None or not path.is_file():
            return
        task = str(result.get("task"))
        honest = path.read_bytes()
        with self.lock:
            cached = self.previous.get(task)
            self.previous[task] = honest
            if self.tasks is not None and task not in self.tasks:
                return
            if self.left == 0 or self.rng.random() >= self.fraction:
                return
            if self.left is not None:
                self.left -= 1
            kind = self.rng.choice(self.kinds)
            if kind == "cached" and (cached is None or cached == honest):
                kind = "random"  # nothing (different) to replay yet
            seed = self.rng.getrandbits(32)
        if kind == "cached":
            assert cached is not None
            path.write_bytes(cached)
        else:
            fake(task, path, kind, random.Random(seed))
        digest = sha256_file(path)
        result["output_hash"] = digest
        if isinstance(result.get("output"), dict):
            result["output"]["sha256"] = digest
        if self.log_path is not None:
            entry = {
                "job_id": str(result.get("job_id", "")),
                "task": task,
                "kind": kind,
                "honest": _sha(honest),
                "fake": digest,
            }
            with self.lock, self.log_path.open("a") as f:
                f.write(json.dumps(entry) + "\n")


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def fake(task: str, path: Path, kind: str, rng: random.Random) -> None:
    if task == "text-generation":
        doc = json.loads(path.read_bytes())
        for c in doc["completions"]:
            ids = c["token_ids"]
            if kind == "random":
                ids[:] = [rng.randrange(256) for _ in ids]
            elif ids:
                ids[-1] = (ids[-1] + 1) % 256
            c["completion"] = bytes(ids).decode("utf-8", errors="replace")
        path.write_bytes(canonical_json(doc))
        return
    import numpy as np
    import torch
    from safetensors import safe_open

    with safe_open(str(path), "np") as f:
        meta = f.metadata() or {}
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - not a dict
    gen = np.random.default_rng(rng.getrandbits(32))
    out: dict[str, Any] = {}
    for name, t in tensors.items():
        t = t.astype(np.float32)
        if kind == "random":
            t = gen.standard_normal(t.shape).astype(np.float32) * float(t.std() or 1.0)
        elif task == "embedding":
            noise = gen.standard_normal(t.shape).astype(np.float32)
            noise *= (
                0.5
                * np.linalg.norm(t, axis=-1, keepdims=True)
                / np.linalg.norm(noise, axis=-1, keepdims=True)
            )
            t = t + noise
        elif "lora_B" in name:
            t = t * 3.0
        if task == "embedding":
            t = t / np.linalg.norm(t, axis=-1, keepdims=True)
        out[name] = torch.from_numpy(np.ascontiguousarray(t, dtype=np.float32))
    save_safetensors(out, path, meta)


def install() -> Cheat:
    """Patch the agent's executor so every output passes through the cheat."""
    env = os.environ.get
    log, tasks, most = (
        env("VCOIN_TEST_CHEAT_LOG"),
        env("VCOIN_TEST_CHEAT_TASKS"),
        env("VCOIN_TEST_CHEAT_MAX"),
    )
    cheat = Cheat(
        float(env("VCOIN_TEST_CHEAT_FRACTION", "0.5")),
        int(env("VCOIN_TEST_CHEAT_SEED", "0")),
        Path(log) if log else None,
        frozenset(tasks.split(",")) if tasks else None,
        tuple(env("VCOIN_TEST_CHEAT_KINDS", ",".join(KINDS)).split(",")),
        int(most) if most else None,
    )
    honest_upload = executor.Executor._upload

    def upload(self: executor.Executor, run: JobRun) -> executor.Outcome:
        cheat.apply(run)
        return honest_upload(self, run)

    executor.Executor._upload = upload  # type: ignore[method-assign]
    return cheat


if __name__ == "__main__":
    from worker.cli import main

    install()
    raise SystemExit(main())
