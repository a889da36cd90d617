"""Who may claim a job, and why a job is not being claimed.

One function (``capability_gap``) says whether a worker's registered hardware
and models fit a job; the claim check and the diagnosis query both use it, so
the query's answer is exactly the rule the chain enforces.
"""

from __future__ import annotations

from typing import Any

from chain.context import Ctx
from chain.crypto import to_bech32
from modules.jobs import state
from modules.jobs.errors import (
    ErrBanned,
    ErrCapabilityMismatch,
    ErrJailed,
    ErrNotBonded,
    ErrOverCapacity,
    ErrSelfClaim,
    ErrWorkerNotRegistered,
)
from modules.jobs.expected import StakingKeeper
from modules.jobs.records import QUEUED, Job, Model, Worker

ROLE = "worker"
DIAGNOSE_CAP = 10_000  # workers a diagnosis looks at, so a query stays bounded


def required_memory(job: Job, model: Model | None) -> int:
    """GPU memory (MiB, per GPU) the job needs: the model's minimum or the poster's, if higher."""
    return max(job.min_gpu_memory_mib, 0 if model is None else model.min_gpu_memory_mib)


def capability_gap(job: Job, model: Model | None, w: Worker) -> str | None:
    """Why ``w``'s registered capabilities do not fit ``job``; None when they do."""
    if job.model not in w.models:
        return f"the worker does not serve model {job.model!r}"
    if job.task_type not in w.task_types:
        return f"the worker does not run {job.task_type} jobs"
    need = required_memory(job, model)
    if w.memory_mib < need:
        return f"the job needs {need} MiB of GPU memory; the worker has {w.memory_mib} MiB"
    if w.gpu_count < job.min_gpu_count:
        return f"the job needs {job.min_gpu_count} GPUs; the worker has {w.gpu_count}"
    if job.gpu_model and job.gpu_model.lower() not in w.gpu_model.lower():
        return f"the job needs a {job.gpu_model} GPU; the worker has {w.gpu_model or 'none'}"
    return None


def check_standing(ctx: Ctx, staking: StakingKeeper, addr: bytes) -> None:
    """Raise unless ``addr`` may take work now: not banned, not jailed, bonded."""
    if staking.is_active(ctx, addr, ROLE):
        return
    who = to_bech32(addr)
    if staking.is_tombstoned(ctx, addr, ROLE):
        raise ErrBanned(f"worker {who} is permanently banned (tombstoned) and cannot take jobs")
    until = staking.jailed_until(ctx, addr, ROLE) or 0
    if until > ctx.block.height:
        raise ErrJailed(f"worker {who} is jailed until height {until}; unjail after that")
    raise ErrNotBonded(
        f"worker {who} has no active worker bond; bond at least the minimum stake first"
    )


def check_claim(
    ctx: Ctx, staking: StakingKeeper, job: Job, model: Model | None, addr: bytes
) -> Worker:
    """The claiming worker's record, or the refusal that says what is wrong."""
    who = to_bech32(addr)
    if job.poster == addr:
        raise ErrSelfClaim(f"{who} posted job {job.id} and cannot claim it")
    w = state.get_worker(ctx, addr)
    if w is None:
        raise ErrWorkerNotRegistered(f"{who} is not a registered worker; send MsgRegisterWorker")
    check_standing(ctx, staking, addr)
    gap = capability_gap(job, model, w)
    if gap is not None:
        raise ErrCapabilityMismatch(f"job {job.id}: {gap}")
    if w.active >= w.max_concurrent:
        raise ErrOverCapacity(
            f"worker {who} already runs {w.active} jobs (its max_concurrent); "
            "submit or release one first"
        )
    return w


def _active(ctx: Ctx, staking: StakingKeeper, addr: bytes) -> bool:
    try:
        check_standing(ctx, staking, addr)
    except Exception:
        return False
    return True


def diagnose(ctx: Ctx, staking: StakingKeeper, job: Job) -> dict[str, Any]:
    """Why ``job`` is not being claimed, as a funnel over the workers that serve its model."""
    out: dict[str, Any] = {"job_id": str(job.id), "state": job.state}
    if job.state != QUEUED:
        out["claimable"] = False
        out["reasons"] = [f"the job is {job.state}, not queued"]
        return out
    model = state.get_model(ctx, job.model)
    funnel = {"serve_model": 0, "fit": 0, "in_good_standing": 0, "with_capacity": 0}
    price_ok = 0
    best_mem = 0
    floors: list[int] = []
    checked = 0
    for addr in state.workers_for_model(ctx, job.model):
        checked += 1
        if checked > DIAGNOSE_CAP:
            break
        w = state.get_worker(ctx, addr)
        if w is None or addr == job.poster:
            continue
        funnel["serve_model"] += 1
        if job.task_type in w.task_types:
            best_mem = max(best_mem, w.memory_mib)
        if capability_gap(job, model, w) is not None:
            continue
        funnel["fit"] += 1
        if not _active(ctx, staking, addr):
            continue
        funnel["in_good_standing"] += 1
        if w.active >= w.max_concurrent:
            continue
        funnel["with_capacity"] += 1
        floors.append(w.price_floor)
        if w.price_floor <= job.max_price:
            price_ok += 1
    reasons: list[str] = []
    if funnel["serve_model"] == 0:
        reasons.append(f"no registered worker serves model {job.model!r}")
    elif funnel["fit"] == 0:
        need = required_memory(job, model)
        if best_mem < need:
            reasons.append(
                f"no worker that serves the model has enough GPU memory "
                f"(needs {need} MiB; the most any has is {best_mem} MiB)"
            )
        else:
            reasons.append(
                "no worker that serves the model fits the job's task type or GPU requirements"
            )
    elif funnel["in_good_standing"] == 0:
        reasons.append("every worker that fits is unbonded, jailed or banned")
    elif funnel["with_capacity"] == 0:
        reasons.append("every eligible worker is at its concurrency limit")
    elif price_ok == 0:
        reasons.append(
            f"the max price {job.max_price}avcn is under every eligible worker's price floor "
            f"(lowest {min(floors)}avcn)"
        )
    pos = state.queue_position(ctx, job, DIAGNOSE_CAP)
    if not reasons:
        ahead = f"{pos}" if pos is not None else f"more than {DIAGNOSE_CAP}"
        reasons.append(f"{price_ok} workers could claim it now; {ahead} jobs are ahead of it")
    out.update(
        {
            "claimable": price_ok > 0,
            "reasons": reasons,
            "workers": funnel | {"price_floor_ok": price_ok},
            "queue_position": pos,
            "claim_deadline": job.claim_deadline,
        }
    )
    return out
