"""A cheating ``vcoin-worker``, for tests only: ``python -m tests.e2e.cheater start …``.

It is the real agent (``worker.cli.main``) with one thing changed: after a job
ran honestly in the sandbox and before its output is uploaded and submitted,
a share of the outputs is replaced. The fake is uploaded and submitted like an
honest output (with a signed receipt), so only a check or a canary can tell.
The kinds of cheat (``KINDS``), taken in turn for each task type among those
that apply to its output (``kinds_for``, the task's own kinds first):

* ``random``: an output of the right shape with made-up content (random
  tokens, random unit vectors, random adapter weights);
* ``cached``: the output of an earlier job of the same task type, as a worker
  that skips the work and replays old answers would send;
* ``perturbed``: the honest output slightly changed (one token, noise on the
  embeddings, the LoRA ``B`` matrices scaled 3×);
* ``truncated`` (text generation, embeddings): the honest output cut short:
  each completion's first half of its tokens (the text decoded from them, so
  the length is the only tell), or the first half of the embedding rows. No
  check at submission sees a shape (the chain holds a hash); the oracle's
  prefill and row-subset checks refuse it by its shape;
* ``stale`` (lora-train with ``checkpoint_every``): the adapter as it was
  before training, the seeded fresh adapter that checkpoint 0 holds, sent as
  trained: every later checkpoint is the one before it nudged by noise of
  1e-6 of its largest weight (so no interval ends bit for bit where it started,
  which the oracle's chain check refuses whatever is drawn), the loss log made
  up (the fresh adapter's first loss, then 1 % less each step), the manifest's
  digests and hash chain recomputed so the chain holds together;
* ``skipped`` (lora-train with ``checkpoint_every``): the last interval of the
  chain not trained, made the same way (its end checkpoint is its start nudged,
  its losses continue the logged ones 1 % down a step), everything before it
  honest. The last, because a worker that skips an interval in the middle and
  trains on from the copy has every later interval honest too; this cheater
  works on the finished file, where only the last one can be skipped alone. A
  check replays one interval of ``m``: it is caught when that interval is drawn,
  ``1/m`` of its checks.

A training shard (``lora-shard``) is an adapter like a ``lora-train`` output:
``random`` replaces every tensor (A included), ``cached`` sends back an earlier
shard's adapter (a stale one), ``perturbed`` scales B 3×.

Settings come from the environment, read only here:
``VCOIN_TEST_CHEAT_FRACTION`` (share of jobs faked, default 0.5),
``VCOIN_TEST_CHEAT_SEED`` (default 0), ``VCOIN_TEST_CHEAT_LOG`` (a JSON
lines file that records every faked job: id, task, kind, honest and fake
hashes, and for ``skipped`` the interval skipped and ``intervals``, their number),
``VCOIN_TEST_CHEAT_TASKS`` (comma-separated task types faked; default all),
``VCOIN_TEST_CHEAT_KINDS`` (comma-separated kinds to take from; default all; a job
none of them applies to is not faked) and
``VCOIN_TEST_CHEAT_MAX`` (fake at most this many jobs, then work honestly;
default no limit) and ``VCOIN_TEST_CHEAT_FIRST`` (comma-separated task types: until
each of the kinds that apply to them was faked once for them, jobs of other tasks
are left honest; so a run that bans the cheater after a few catches still sees
those kinds; default none).
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

KINDS = ("random", "cached", "perturbed", "truncated", "stale", "skipped")
SHORT = ("text-generation", "embedding")  # the tasks a ``truncated`` output applies to
NUDGE = 1e-6  # an untrained interval's end: its start plus noise of this share of its max
LOSS_DROP = 0.99  # a made-up loss log falls by 1 % a step


def kinds_for(task: str, result: dict[str, Any]) -> tuple[str, ...]:
    """The kinds that apply to ``task``'s output (``result``: the runtime's result.json),
    its own first."""
    if task in SHORT:
        return ("truncated", "random", "cached", "perturbed")
    params = result.get("params")
    if task == "lora-train" and isinstance(params, dict) and params.get("checkpoint_every"):
        return ("stale", "skipped", "random", "cached", "perturbed")
    return ("random", "cached", "perturbed")


class Cheat:
    def __init__(
        self,
        fraction: float,
        seed: int,
        log_path: Path | None,
        tasks: frozenset[str] | None = None,
        kinds: tuple[str, ...] = KINDS,
        most: int | None = None,
        first: frozenset[str] = frozenset(),
    ) -> None:
        self.fraction = fraction
        self.rng = random.Random(seed)
        self.log_path = log_path
        self.tasks = tasks
        self.kinds = kinds
        self.left = most
        self.lock = threading.Lock()
        self.previous: dict[str, bytes] = {}  # task -> an earlier honest output
        self.turns: dict[str, int] = {}  # task -> faked so far (the kinds go in turn)
        self.first = dict.fromkeys(first, 1)  # task -> its number of kinds (1 till seen)

    def apply(self, run: JobRun) -> None:
        """Maybe replace ``run``'s output file, and its hash in ``run.result``."""
        result, path = run.result, run.output_path
        if result is None or path is None or not path.is_file():
            return
        task = str(result.get("task"))
        honest = path.read_bytes()
        kinds = [k for k in kinds_for(task, result) if k in self.kinds]
        with self.lock:
            cached = self.previous.get(task)
            self.previous[task] = honest
            if self.tasks is not None and task not in self.tasks:
                return
            if task in self.first:
                self.first[task] = len(kinds)
            elif any(self.turns.get(t, 0) < n for t, n in self.first.items()):
                return  # the tasks to fake first are not done
            if not kinds or self.left == 0 or self.rng.random() >= self.fraction:
                return
            if self.left is not None:
                self.left -= 1
            turn = self.turns.get(task, 0)
            self.turns[task] = turn + 1
            kind = kinds[turn % len(kinds)]
            if kind == "cached" and (cached is None or cached == honest):
                kind = "random"  # nothing (different) to replay yet
            seed = self.rng.getrandbits(32)
        if kind == "cached":
            assert cached is not None
            path.write_bytes(cached)
            made: dict[str, Any] = {}
        else:
            made = fake(task, path, kind, random.Random(seed), result)
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
                **made,
            }
            with self.lock, self.log_path.open("a") as f:
                f.write(json.dumps(entry) + "\n")


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def fake(
    task: str,
    path: Path,
    kind: str,
    rng: random.Random,
    result: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Replace the honest output at ``path`` by a fake of ``kind`` (not ``cached``);
    ``result``: the runtime's result.json (``stale`` and ``skipped`` need its params and
    model). Returns what the log records of it beyond the kind (the interval skipped)."""
    if task == "text-generation":
        doc = json.loads(path.read_bytes())
        for c in doc["completions"]:
            ids = c["token_ids"]
            if kind == "random":
                ids[:] = [rng.randrange(256) for _ in ids]
            elif kind == "truncated":
                del ids[len(ids) // 2 :]  # a prefix: no end-of-sequence token in it
            elif ids:
                ids[-1] = (ids[-1] + 1) % 256
            # tiny-lm's tokenizer is byte level: a token under 256 is that byte
            c["completion"] = bytes(t for t in ids if t < 256).decode("utf-8", errors="replace")
        path.write_bytes(canonical_json(doc))
        return {}
    if kind in ("stale", "skipped"):
        assert result is not None, f"a {kind} adapter needs the job's params and model"
        return _untrained(path, kind, rng, result["params"], str(result["model"]))
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
        elif kind == "truncated":
            t = t[: t.shape[0] // 2]  # the first half of the rows
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
        if task == "embedding" and kind != "truncated":
            t = t / np.linalg.norm(t, axis=-1, keepdims=True)
        out[name] = torch.from_numpy(np.ascontiguousarray(t, dtype=np.float32))
    save_safetensors(out, path, meta)
    return {}


def _untrained(
    path: Path, kind: str, rng: random.Random, params: dict[str, Any], model_hash: str
) -> dict[str, Any]:
    """A ``stale`` or ``skipped`` lora-train output (see the module's docstring), its
    checkpoint chain remade (``compute.runtime.checkpoints.manifest``) so it holds
    together as the runtime's would."""
    import numpy as np
    import torch
    from safetensors import safe_open

    from compute.runtime import checkpoints as ck

    with safe_open(str(path), "np") as f:
        meta = dict(f.metadata() or {})
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - not a dict
    at = ck.boundaries(params["steps"], params["checkpoint_every"])
    m = len(at) - 1
    saved = [{p: ck.checkpoint(tensors, i, p) for p in ck.PARTS} for i in range(m + 1)]
    losses: list[float] = json.loads(meta["train_losses"])
    gen = np.random.default_rng(rng.getrandbits(32))
    first = 0 if kind == "stale" else m - 1  # the first interval not trained
    for i in range(first, m):
        start = saved[i]
        saved[i + 1] = {
            "w": {k: _nudged(w, gen) for k, w in start["w"].items()},
            "m": dict(start["m"]),
            "v": dict(start["v"]),
        }
    for s in range(max(at[first], 1), params["steps"]):  # step 0's loss: one forward pass
        losses[s] = losses[s - 1] * LOSS_DROP
    out = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in saved[m]["w"].items()}
    for i, c in enumerate(saved):
        out.update(
            {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in ck.flatten(c, i).items()}
        )
    meta["train_losses"] = json.dumps(losses)
    meta["eval_loss"] = repr(losses[-1])
    meta[ck.META_KEY] = canonical_json(ck.manifest(model_hash, params, saved, losses)).decode()
    save_safetensors(out, path, meta)
    return {"interval": first, "intervals": m}


def _nudged(w: Any, gen: Any) -> Any:
    import numpy as np

    scale = NUDGE * float(np.abs(w).max(initial=0.0))
    return (w + scale * gen.standard_normal(w.shape)).astype(np.float32)


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
        frozenset(filter(None, env("VCOIN_TEST_CHEAT_FIRST", "").split(","))),
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
