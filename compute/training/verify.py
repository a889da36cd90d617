"""How an oracle judges a training job against its own re-run.

**lora-aggregate: exact.** ``ffa-mean`` is bit-for-bit reproducible on any CPU
(``compute.training.aggregate``), so ``compare_aggregate`` passes only the same bytes.

**lora-shard: the lora-train metric** (``oracle.similarity``'s, restated here because
``compute`` may not import ``oracle``): a worker's shard is trained on its own device, so
its bits may differ from the oracle's re-run (float sums on a GPU), and a tolerance is
needed. ``check_shard`` passes a claimed update when all of these hold:

1. it parses, has exactly the re-run's tensors and shapes (float32), and its metadata
   names the same training, round and shard;
2. its A factors equal the re-run's bit for bit (A is drawn from the seed on CPU and never
   trains: any change is cheating, and would be refused by the aggregate anyway);
3. the *update* of each B tensor — B minus the round's global B (zero in round 0) —
   points the re-run's way: cosine ≥ ``threshold_bps``/10,000 (0.95, the chain's
   ``similarity_threshold_bps`` default) for every tensor, the minimum being the
   similarity. The update, not B itself: after a few rounds B is mostly the global
   adapter, so a stale adapter (the global sent back untrained) would pass a cosine of B
   and fails this one (its update is zero: cosine 0). A random B fails it too.
4. with a loss evaluator (``loss_evaluator``: the held-out loss over the shard's records),
   ``|L_claimed − L_rerun| ≤ loss_tolerance_bps/10,000 · max(|L_start − L_rerun|,
   loss_floor_bps/10,000 · L_rerun)``, L_start the loss of the round's starting adapter
   (the global, or no adapter in round 0): 10 % of the training effect (floor 0.01 % of
   the loss), as for lora-train; it catches an update that points the right way at the
   wrong scale.

Honest re-runs on the same kind of CPU are identical (similarity 10,000,
``tests/compute/training/test_tasks.py``). Across devices (a GPU's float sums) the update
differs by rounding only, which moves a cosine by far less than the 5 % that 0.95 allows;
that has not been measured on a GPU yet (no device in the session that wrote this). The
tests show what fails: a stale update (cosine 0), a random B, an A changed by 1e-4, an
update three times the right size (cosine 10,000, fails the loss rule).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compute.training.adapter import is_a, read

BPS = 10_000
THRESHOLD_BPS = 9500
LOSS_TOLERANCE_BPS = 1000
LOSS_FLOOR_BPS = 1
SAME_META = ("task", "training", "round", "shard", "base_model", "adapter_config")


@dataclass(frozen=True)
class ShardCheck:
    passed: bool
    similarity_bps: int  # the minimum update cosine, rounded down; 0 when it cannot be read
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


def _cosine_bps(a: Any, b: Any) -> int:
    """cos(a, b) in basis points, rounded down, over float64; 0 when either is zero."""
    import numpy as np

    x, y = a.numpy().astype(np.float64).ravel(), b.numpy().astype(np.float64).ravel()
    nx, ny = float(np.linalg.norm(x)), float(np.linalg.norm(y))
    if nx == 0.0 or ny == 0.0 or not (math.isfinite(nx) and math.isfinite(ny)):
        return BPS if nx == ny == 0.0 else 0
    c = float(np.dot(x, y)) / (nx * ny)
    return max(0, min(BPS, math.floor(c * BPS + 1e-9)))


def check_shard(
    claimed: Path,
    rerun: Path,
    global_in: Path | None = None,
    loss_of: Callable[[Path | None], float] | None = None,
    threshold_bps: int = THRESHOLD_BPS,
    loss_tolerance_bps: int = LOSS_TOLERANCE_BPS,
    loss_floor_bps: int = LOSS_FLOOR_BPS,
) -> ShardCheck:
    """The module docstring's rules. ``rerun`` is the oracle's own output (a ValueError
    reading it or ``global_in`` is the oracle's trouble and propagates); anything wrong
    with ``claimed`` fails it. ``loss_of(path)`` is an adapter's held-out loss
    (``loss_of(None)``: the base model's); without it the loss rule is skipped."""
    import torch

    mine, mine_meta = read(rerun)
    start = read(global_in)[0] if global_in is not None else {}
    try:
        theirs, meta = read(claimed)
    except ValueError as e:
        return ShardCheck(False, 0, f"unreadable: {e}")
    other = [k for k in SAME_META if meta.get(k) != mine_meta.get(k)]
    if other:
        return ShardCheck(False, 0, f"its metadata differs in {other}")
    if sorted(theirs) != sorted(mine):
        return ShardCheck(False, 0, "its tensors are not the training's LoRA tensors")
    for k in sorted(mine):
        t = theirs[k]
        if t.dtype != torch.float32 or tuple(t.shape) != tuple(mine[k].shape):
            return ShardCheck(False, 0, f"tensor {k} is {t.dtype} {tuple(t.shape)}")
        if is_a(k) and not torch.equal(t, mine[k]):
            return ShardCheck(False, 0, f"its A factor {k} is not the seed's: A is frozen")
    per: dict[str, int] = {}
    for k in sorted(mine):
        if not is_a(k):
            base = start.get(k, torch.zeros_like(mine[k]))
            per[k] = _cosine_bps(
                theirs[k].double() - base.double(), mine[k].double() - base.double()
            )
    sim = min(per.values())
    details: dict[str, Any] = {"update_cosine_bps": sim, "tensors_bps": per}
    if sim < threshold_bps:
        return ShardCheck(False, sim, f"update cosine {sim} bps < {threshold_bps}", details)
    if loss_of is None:
        return ShardCheck(True, sim, "update cosine ok; loss not checked", details)
    l_start, l_mine, l_theirs = loss_of(global_in), loss_of(rerun), loss_of(claimed)
    effect = max(abs(l_start - l_mine), loss_floor_bps / BPS * abs(l_mine))
    allowed = loss_tolerance_bps / BPS * effect
    details.update(loss_start=l_start, loss_expected=l_mine, loss_actual=l_theirs)
    details["loss_allowed_diff"] = allowed
    if not (math.isfinite(l_theirs) and abs(l_theirs - l_mine) <= allowed):
        return ShardCheck(False, sim, f"held-out loss {l_theirs:.6g} vs {l_mine:.6g}", details)
    return ShardCheck(True, sim, "update cosine and held-out loss ok", details)


def compare_shard(
    claimed: Path,
    rerun: Path,
    global_in: Path | None = None,
    loss_of: Callable[[Path | None], float] | None = None,
) -> tuple[bool, str]:
    """``(passed, reason)`` of ``check_shard`` with the default thresholds."""
    c = check_shard(claimed, rerun, global_in, loss_of)
    return c.passed, f"{c.reason} ({json.dumps({'similarity_bps': c.similarity_bps})})"


def compare_aggregate(claimed: Path, rerun: Path) -> bool:
    """An aggregate passes only as the very bytes of the oracle's recomputation."""
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (claimed, rerun)]
    return digest[0] == digest[1]


def loss_evaluator(
    model_dir: Path, config: dict[str, Any], texts: list[str], device: str = "cpu"
) -> Callable[[Path | None], float]:
    """``loss_of(adapter_path)``: the mean loss over ``texts`` (one at a time, the runtime's
    batching) of the base model with that training adapter (``None``: the seeded adapter
    with B = 0, which is the base model). ValueError when a file is not this training's
    adapter (``adapter.check_tensors``)."""
    import torch

    from compute.runtime.tasks import lm_batch
    from compute.training import adapter

    if not texts:
        raise ValueError("no texts to measure a loss on")
    tok, model = adapter.seeded_model(model_dir, config, device)
    model.eval()
    seed = adapter.state(model)

    def loss_of(path: Path | None) -> float:
        tensors = seed if path is None else read(path)[0]
        adapter.check_tensors(tensors, seed, path.name if path else "the seed")
        adapter.load_state(model, {k: v.to(device) for k, v in tensors.items()})
        with torch.no_grad():
            vals = [
                float(model(**lm_batch(tok, [t], config["max_length"], device)).loss.cpu())
                for t in texts
            ]
        return sum(vals) / len(vals)

    return loss_of
