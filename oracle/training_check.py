"""Judging the training module's two task types (``modules/training``) after a re-run.

* ``lora-shard`` (one shard's local training of a round, from the round's global
  adapter): ``compute.training.verify.compare_shard`` of the worker's adapter with the
  oracle's re-run, the ``lora-train`` metric (weight cosine plus held-out loss) with
  the thresholds that module states. A random adapter, one scaled, or a stale one (an
  earlier round's) fails it.
* ``lora-aggregate`` (the round's FFA-LoRA mean of the accepted updates): exact,
  ``compute.training.verify.compare_aggregate``: the mean is a pure function of its
  inputs, computed bit for bit the same on any CPU, so anything but the same bytes
  fails.

Whose fault, as in ``oracle.similarity``: the oracle's own re-run output, the round's
global or the loss model that does not load is the oracle's trouble (``OracleFault``: it
abstains); a worker output that is not this training's adapter fails the worker.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from oracle.fixedpoint import BPS
from oracle.similarity import Comparison, OracleFault, sha256_file

LORA_SHARD = "lora-shard"
LORA_AGGREGATE = "lora-aggregate"
TRAINING_TASKS = (LORA_SHARD, LORA_AGGREGATE)
SHARD_METRIC = "lora-shard(weight-cosine,heldout-loss)"
AGGREGATE_METRIC = "exact-sha256(ffa-mean)"


def compare_training(
    task: str,
    expected: Path,
    actual: Path,
    global_in: Path | None = None,
    loss_of: Callable[[Path | None], float] | None = None,
) -> Comparison:
    """The worker's output ``actual`` against the oracle's re-run ``expected``; for a
    shard, ``global_in`` is the round's starting adapter (None in round 0) and
    ``loss_of`` the held-out loss of an adapter over the shard's records."""
    from compute.training.verify import check_shard, compare_aggregate

    if task not in TRAINING_TASKS:
        raise OracleFault(f"no training metric for task type {task!r}")
    try:
        base = {"expected_sha256": sha256_file(expected), "actual_sha256": sha256_file(actual)}
    except OSError as e:
        raise OracleFault(f"cannot read its own copy of the outputs: {e}") from e
    if task == LORA_AGGREGATE:
        passed = compare_aggregate(actual, expected)
        why = "the same bytes" if passed else "the aggregate differs from the recomputation"
        return Comparison(
            task, AGGREGATE_METRIC, BPS if passed else 0, passed, {**base, "reason": why}
        )
    try:
        c = check_shard(actual, expected, global_in, loss_of)
    except Exception as e:  # noqa: BLE001 - its own re-run, the global or the loss model
        raise OracleFault(f"{task} metric failed: {type(e).__name__}: {e}"[:500]) from e
    details = {**base, **c.details, "reason": c.reason[:500]}
    return Comparison(task, SHARD_METRIC, c.similarity_bps, c.passed, details)
