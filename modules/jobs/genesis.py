"""Genesis of the jobs module: default, validate, init, export (symmetric).

Records are exported as the store holds them (addresses as hex). Every index
(queue, states with their due heights, posters, model → workers) is rebuilt from the
records by ``state.put_job`` / ``state.put_worker``, so a re-imported chain
has the same state and so the same app hash.
"""

from __future__ import annotations

from typing import Any

from chain.context import Ctx
from modules.jobs import state
from modules.jobs.errors import ErrInvalidParams
from modules.jobs.params import MODEL_KIND_TASKS, TASK_TYPES, Params
from modules.jobs.records import STATES, SUBMITTED, Job, Model, Worker


def default() -> dict[str, Any]:
    return {
        "params": Params().to_json(),
        "next_job_id": "1",
        "models": [],
        "workers": [],
        "jobs": [],
    }


def _parse(g: dict[str, Any]) -> tuple[Params, int, list[Model], list[Worker], list[Job]]:
    try:
        p = Params.from_json(g.get("params", {}))
        next_id = int(g.get("next_job_id", "1"))
        models = [Model.from_json(m) for m in g.get("models", [])]
        workers = [Worker.from_json(w) for w in g.get("workers", [])]
        jobs = [Job.from_json(j) for j in g.get("jobs", [])]
    except (KeyError, ValueError, TypeError) as e:
        raise ErrInvalidParams(f"jobs genesis: {type(e).__name__}: {e}") from e
    return p, next_id, models, workers, jobs


def validate(g: dict[str, Any]) -> None:
    _, next_id, models, workers, jobs = _parse(g)
    names = [m.id for m in models]
    if len(set(names)) != len(names):
        raise ErrInvalidParams("jobs genesis lists a model twice")
    known = set(names)
    for m in models:
        if not m.task_types or any(t not in TASK_TYPES for t in m.task_types):
            raise ErrInvalidParams(f"model {m.id} has unknown task types {m.task_types}")
        if len(m.weights_sha256) != 32 or len(m.config_sha256) != 32:
            raise ErrInvalidParams(f"model {m.id}: hashes must be 32 bytes")
        if m.owner and len(m.owner) != 20:
            raise ErrInvalidParams(f"model {m.id}: owner must be a 20-byte address (hex)")
        if m.kind and m.kind not in MODEL_KIND_TASKS:
            raise ErrInvalidParams(f"model {m.id}: unknown kind {m.kind!r}")
    addrs = [w.address for w in workers]
    if len(set(addrs)) != len(addrs):
        raise ErrInvalidParams("jobs genesis lists a worker twice")
    for w in workers:
        missing = set(w.models) - known
        if missing:
            raise ErrInvalidParams(f"worker {w.address.hex()} serves unknown models {missing}")
    ids = [j.id for j in jobs]
    if len(set(ids)) != len(ids):
        raise ErrInvalidParams("jobs genesis lists a job id twice")
    for j in jobs:
        if j.state not in STATES:
            raise ErrInvalidParams(f"job {j.id} has unknown state {j.state!r}")
        if j.model not in known:
            raise ErrInvalidParams(f"job {j.id} uses unknown model {j.model!r}")
        if not 1 <= j.id < next_id:
            raise ErrInvalidParams(f"job id {j.id} is not below next_job_id {next_id}")
        if j.state == SUBMITTED and j.submitted_height < 1:
            # its challenge window runs from that height; blocks start at 1
            raise ErrInvalidParams(f"job {j.id} is submitted but has no submitted_height")


def init(ctx: Ctx, g: dict[str, Any]) -> None:
    p, next_id, models, workers, jobs = _parse(g)
    state.set_params(ctx, p)
    state.set_next_job_id(ctx, next_id)
    for m in models:
        state.set_model(ctx, m)
    for w in workers:
        state.put_worker(ctx, w)
    for j in jobs:
        state.put_job(ctx, j)


def export(ctx: Ctx) -> dict[str, Any]:
    return {
        "params": state.get_params(ctx).to_json(),
        "next_job_id": str(state.next_job_id(ctx)),
        "models": [m.to_json() for m in state.iterate_models(ctx)],
        "workers": [w.to_json() for w in state.iterate_workers(ctx)],
        "jobs": [j.to_json() for j in state.iterate_jobs(ctx)],
    }
