"""LoRA training checked by replaying one interval between committed checkpoints.

A lora-train job with ``checkpoint_every = k`` has the worker's output carry
its checkpoints every k steps, hash-chained, and its loss log
(``compute.runtime.checkpoints``). The oracle:

1. checks the whole commitment, which costs no training: the manifest's
   boundaries are the job's (``steps``, ``k``), every checkpoint's digest and
   every chain link recompute from the file, the loss log is ``steps`` finite
   numbers, the adapter is the last checkpoint's weights bit for bit, no
   interval ends where it started (a checkpoint copied forward: a skipped
   interval or a stale adapter, caught whatever is drawn; a cheater who adds
   noise instead is left to step 2), and the first checkpoint is the job's
   fresh adapter (the seeded init, zero moments): the chain starts where the
   job says it starts and ends at what the worker delivered;
2. replays interval ``j`` (``replay_interval``: drawn from the hash of the
   block that picked the result, which did not exist when the worker
   submitted) from checkpoint ``j`` with the runtime's own training steps
   (``compute.runtime.tasks.train_steps``: same data order, same optimizer
   state), and compares the end with checkpoint ``j + 1`` by the full check's
   metric (``similarity``'s LoRA metric: per-tensor weight cosine and the
   held-out loss) and the replayed losses with the logged ones
   (``LOSS_LOG_TOLERANCE``, relative).

It costs one interval of training, ``1/m`` of the job for ``m`` intervals,
plus a model load and two held-out loss passes when the weights are not bit
equal. The error rates (honest runs at other thread counts, the cheats of the
tests) are in the oracle README.
"""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
from pathlib import Path
from typing import Any

from oracle.fixedpoint import BPS, finite
from oracle.similarity import (
    LORA,
    MAX_OUTPUT_BYTES,
    BadOutput,
    Comparison,
    OracleFault,
    Policy,
    _load_tensors,
    compare,
)

REPLAY = "lora-interval-replay(weight-cosine,heldout-loss,loss-log)"
INTERVAL_DOMAIN = b"vcoin/lora-interval/v1"
# Honest replays at another thread count move a logged loss by ~1e-7 relative; a loss
# log made up or copied from another run is off by far more than this.
LOSS_LOG_TOLERANCE = 1e-3
# The first checkpoint is the seeded init, made on the CPU: equal bits everywhere the
# torch version is the same; this leaves room for another version's rounding.
INIT_TOLERANCE = 1e-5


def replay_interval(block_hash: bytes, job_id: int, intervals: int) -> int:
    """The interval an oracle replays: ``uint64(sha256(domain ‖ hash ‖ job id)[:8]) mod m``.
    The hash is the draw block's, so the worker cannot know it when it submits."""
    if intervals < 1:
        raise ValueError("a chain has at least one interval")
    seed = hashlib.sha256(INTERVAL_DOMAIN + block_hash + job_id.to_bytes(8, "big")).digest()
    return int.from_bytes(seed[:8], "big") % intervals


def _fail(error: str, **details: Any) -> Comparison:
    return Comparison(LORA, REPLAY, 0, False, {"error": error[:500], **details})


def read_chain(
    path: Path, params: dict[str, Any], model_hash: str
) -> tuple[dict[str, Any], list[float]] | Comparison:
    """The worker's tensors and loss log when its commitment holds together (step 1 above,
    all but the init); else the failed comparison that says where it breaks."""
    from compute.runtime import checkpoints as ck

    try:
        if path.stat().st_size > MAX_OUTPUT_BYTES:
            raise BadOutput(f"the output is over {MAX_OUTPUT_BYTES} bytes")
        tensors, meta = _load_tensors(path)
    except BadOutput as e:
        return Comparison(LORA, "unreadable", 0, False, {"error": str(e)[:500]})
    except OSError as e:  # the file in the oracle's own cache
        raise OracleFault(f"cannot read its copy of the output: {e}") from e
    try:
        doc = json.loads(meta.get(ck.META_KEY, ""))
        losses = json.loads(meta.get("train_losses", ""))
    except (ValueError, RecursionError):
        return _fail("the output carries no readable checkpoint chain or loss log")
    at = ck.boundaries(params["steps"], params["checkpoint_every"])
    if not isinstance(doc, dict) or doc.get("format") != ck.CHAIN_FORMAT:
        return _fail(f"the checkpoint chain's format is not {ck.CHAIN_FORMAT}")
    if doc.get("every") != params["checkpoint_every"] or doc.get("steps") != at:
        return _fail(f"checkpoints at steps {doc.get('steps')!r}, due at {at}")
    if not ck.finite_losses(losses, params["steps"]):
        return _fail(f"the loss log is not {params['steps']} finite numbers")
    if any(str(v.dtype) != "float32" for v in tensors.values()):
        return _fail("the runtime writes float32 tensors only")  # a replay casts nothing
    adapter = ck.adapter_tensors(tensors)
    shapes = {k: v.shape for k, v in adapter.items()}
    digests = []
    for i in range(len(at)):
        for part in ck.PARTS:
            got = ck.checkpoint(tensors, i, part)
            if {k: v.shape for k, v in got.items()} != shapes:
                return _fail(f"checkpoint {i}'s {part} tensors are not the adapter's")
            if not all(finite(v) for v in got.values()):
                return _fail(f"checkpoint {i}'s {part} tensors are not finite")
        digests.append(ck.tensors_digest(_flat(tensors, i)))
    if doc.get("checkpoints") != digests:
        bad = _first_difference(doc.get("checkpoints"), digests)
        return _fail(f"checkpoint {bad} does not hash to its manifest entry", checkpoint=bad)
    links = ck.chain_links(model_hash, params, digests, losses, at)
    if doc.get("chain") != links:
        bad = _first_difference(doc.get("chain"), links)
        return _fail(f"the hash chain breaks at link {bad}", link=bad)
    last = ck.checkpoint(tensors, len(at) - 1, "w")
    if any(adapter[k].tobytes() != last[k].tobytes() for k in adapter):
        return _fail("the adapter is not the last checkpoint's weights")
    for i in range(1, len(at)):
        # AdamW moves every weight each step (weight decay alone does): an interval whose
        # end is its start bit for bit was not trained, whichever interval is drawn
        before, after = ck.checkpoint(tensors, i - 1, "w"), ck.checkpoint(tensors, i, "w")
        if all(before[k].tobytes() == after[k].tobytes() for k in before):
            return _fail(f"steps {at[i - 1]} to {at[i]} changed nothing", idle_interval=i - 1)
    return tensors, losses


def _flat(tensors: dict[str, Any], i: int) -> dict[str, Any]:
    from compute.runtime import checkpoints as ck

    return {f"{p}.{k}": v for p in ck.PARTS for k, v in ck.checkpoint(tensors, i, p).items()}


def _first_difference(claimed: Any, due: list[str]) -> int:
    claimed = claimed if isinstance(claimed, list) else []
    return next((i for i, d in enumerate(due) if i >= len(claimed) or claimed[i] != d), len(due))


def losses_agree(mine: list[float], theirs: list[float], tolerance: float) -> bool:
    """Each logged loss within ``tolerance`` (relative) of the replayed one."""
    return len(mine) == len(theirs) and all(
        math.isfinite(t) and abs(t - m) <= tolerance * abs(m)
        for m, t in zip(mine, theirs, strict=True)
    )


class Replayer:
    """The runtime's LoRA training (``compute.runtime.tasks``) for one job, in this process:
    the fresh adapter, and any interval replayed from a checkpoint."""

    def __init__(self, model_dir: Path, params: dict[str, Any], texts: list[str], device: str):
        from compute.runtime.determinism import prepare_env

        prepare_env()
        from compute.runtime import checkpoints as ck
        from compute.runtime.tasks import lora_model, lora_optimizer

        self.params, self.texts, self.device = params, texts, device
        self.tok, self.model, _ = lora_model(model_dir, params, device)
        self.opt = lora_optimizer(self.model, params)
        self.live = ck.lora_params(self.model)
        self.init = ck.capture(self.live, self.opt)

    def replay(
        self, start: dict[str, dict[str, Any]], first: int, stop: int
    ) -> tuple[Any, list[float]]:
        """Steps ``first`` to ``stop - 1`` from checkpoint ``start``: (the end checkpoint,
        the losses)."""
        from compute.runtime import checkpoints as ck
        from compute.runtime.tasks import train_steps

        ck.restore(self.live, self.opt, start, first)
        self.model.train()
        losses = train_steps(
            self.model, self.opt, self.tok, self.texts, self.params, self.device, first, stop
        )
        return ck.capture(self.live, self.opt), losses


def init_matches(init: dict[str, dict[str, Any]], tensors: dict[str, Any]) -> bool:
    """Checkpoint 0 is the job's fresh adapter: the seeded weights, zero moments."""
    import numpy as np

    from compute.runtime import checkpoints as ck

    for part in ck.PARTS:
        got = ck.checkpoint(tensors, 0, part)
        for k, due in init[part].items():
            d = due.numpy()
            scale = max(1.0, float(np.max(np.abs(d), initial=0.0)))
            if float(np.max(np.abs(got[k] - d), initial=0.0)) > INIT_TOLERANCE * scale:
                return False
    return True


def check_interval(
    worker_output: Path,
    replayer: Replayer,
    params: dict[str, Any],
    model_hash: str,
    interval: int,
    policy: Policy,
    loss_of: Any,
) -> Comparison:
    """Steps 1 and 2 above for interval ``interval`` of the worker's output."""
    import numpy as np
    from safetensors.numpy import save_file

    from compute.runtime import checkpoints as ck

    read = read_chain(worker_output, params, model_hash)
    if isinstance(read, Comparison):
        return read
    tensors, logged = read
    at = ck.boundaries(params["steps"], params["checkpoint_every"])
    if not 0 <= interval < len(at) - 1:
        raise OracleFault(f"interval {interval} is not one of the {len(at) - 1}")
    due = {k: tuple(v.shape) for k, v in replayer.init["w"].items()}
    if {k: tuple(v.shape) for k, v in ck.adapter_tensors(tensors).items()} != due:
        return _fail("the adapter's tensors are not the job's LoRA (names, rank, targets)")
    if not init_matches(replayer.init, tensors):
        return _fail("checkpoint 0 is not the job's fresh adapter (seed, rank, targets)")
    first, stop = at[interval], at[interval + 1]
    start = {p: ck.checkpoint(tensors, interval, p) for p in ck.PARTS}
    try:
        end, losses = replayer.replay(start, first, stop)
    except (RuntimeError, MemoryError) as e:  # the oracle's device, not the worker's file
        raise OracleFault(f"the replay failed: {type(e).__name__}: {e}"[:500]) from e
    where = {"interval": interval, "intervals": len(at) - 1, "steps": [first, stop]}
    with tempfile.TemporaryDirectory(prefix="vcoin-replay-") as tmp:
        mine, theirs = Path(tmp) / "mine.safetensors", Path(tmp) / "theirs.safetensors"
        save_file({k: v.numpy() for k, v in end["w"].items()}, str(mine))
        their_end = ck.checkpoint(tensors, interval + 1, "w")
        save_file({k: np.ascontiguousarray(v) for k, v in their_end.items()}, str(theirs))
        cmp = compare(LORA, mine, theirs, policy, loss_of=loss_of)
    log_ok = losses_agree(losses, logged[first:stop], LOSS_LOG_TOLERANCE)
    details = {
        **cmp.details,
        **where,
        "replayed_losses": losses,
        "logged_losses": logged[first:stop],
        "loss_log": "ok" if log_ok else "differs from the replay",
    }
    sim = cmp.similarity_bps if cmp.metric != "unreadable" else 0
    return Comparison(LORA, REPLAY, min(sim, BPS), cmp.passed and log_ok, details)
