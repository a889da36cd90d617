"""The only code that touches the jobs store: jobs and their indexes, workers, models.

``put_job`` is the one writer of a job: it derives every index entry (state,
queue, poster, worker) from the record, and diffs the old record's entries
against the new one's, so an index can never disagree with its job. The state
entry carries the height at which the job falls due (see ``keys``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chain.context import Ctx
from chain.kv import prefix_end
from chain.params import ParamsStore
from modules.jobs import keys
from modules.jobs.keys import NAME
from modules.jobs.params import Params
from modules.jobs.records import CLAIMED, QUEUED, STATE_BYTE, SUBMITTED, Job, Model, Worker

# Decoded models by their stored bytes: they are read by nearly every message,
# rarely change, and decoding is a pure function of the bytes, so sharing the
# frozen objects is safe.
_MODEL_CACHE: dict[bytes, Model] = {}


def _cached(cache: dict[bytes, Any], raw: bytes, decode: Any) -> Any:
    v = cache.get(raw)
    if v is None:
        if len(cache) > 256:
            cache.clear()
        v = cache[raw] = decode(raw)
    return v


PARAMS = ParamsStore(NAME, keys.PARAMS, Params)
get_params = PARAMS.get
set_params = PARAMS.set


# -- jobs ------------------------------------------------------------------
def next_job_id(ctx: Ctx) -> int:
    raw = ctx.kv(NAME).get(keys.NEXT_JOB_ID)
    return 1 if raw is None else int.from_bytes(raw, "big")


def set_next_job_id(ctx: Ctx, n: int) -> None:
    ctx.kv(NAME).set(keys.NEXT_JOB_ID, keys.u64(n))


def take_job_id(ctx: Ctx) -> int:
    n = next_job_id(ctx)
    set_next_job_id(ctx, n + 1)
    return n


def get_job(ctx: Ctx, job_id: int) -> Job | None:
    kv = ctx.kv(NAME)
    raw = kv.get(keys.job(job_id))
    return None if raw is None else Job.decode(raw, lambda i: kv.get(keys.payload(i)))


def due_height(j: Job) -> int:
    """The height the state index files ``j`` under: when it must next be looked at."""
    if j.state == QUEUED:
        return j.claim_deadline
    if j.state == CLAIMED:
        return j.result_deadline
    if j.state == SUBMITTED:
        return j.submitted_height
    return 0


def _index_keys(j: Job) -> set[bytes]:
    out = {
        keys.by_state(STATE_BYTE[j.state], due_height(j), j.id),
        keys.by_poster(j.poster, j.id),
    }
    if j.worker:
        out.add(keys.by_worker(j.worker, j.id))
    if j.state == QUEUED:
        out.add(keys.queue(j.max_price, j.priority, j.id))
    return out


def put_job(ctx: Ctx, new: Job, old: Job | None = None) -> None:
    """Write ``new`` (which replaces ``old``, if given) and move its index entries."""
    kv = ctx.kv(NAME)
    kv.set(keys.job(new.id), new.encode())
    if old is None and new.payload_apart:  # inputs never change: written once
        kv.set(keys.payload(new.id), new.payload())
    want = _index_keys(new)
    if old is not None:
        had = _index_keys(old)
        for k in sorted(had - want):
            kv.delete(k)
        want -= had
    for k in sorted(want):
        kv.set(k, b"")


def iterate_jobs(ctx: Ctx) -> Iterator[Job]:
    kv = ctx.kv(NAME)
    p = keys.JOB_PREFIX
    for _, v in kv.iterate(p, prefix_end(p)):
        yield Job.decode(v, lambda i: kv.get(keys.payload(i)))


def _ids_under(ctx: Ctx, prefix: bytes, after: int, limit: int) -> list[int]:
    start = prefix + keys.u64(after + 1) if after else prefix
    out = []
    for k, _ in ctx.kv(NAME).iterate(start, prefix_end(prefix)):
        out.append(int.from_bytes(k[-8:], "big"))
        if len(out) >= limit:
            break
    return out


def job_ids_in_state(
    ctx: Ctx, state: str, after: bytes = b"", limit: int = 100
) -> tuple[list[int], bytes]:
    """A page of a state's jobs in index order (due height, then id), and the cursor
    (the last key) to pass as ``after`` for the next page."""
    p = keys.state_prefix(STATE_BYTE[state])
    start = p + after[len(p) :] + b"\x00" if after.startswith(p) else p
    out: list[int] = []
    last = b""
    for k, _ in ctx.kv(NAME).iterate(start, prefix_end(p)):
        out.append(keys.split_state(k)[2])
        last = k
        if len(out) >= limit:
            break
    return out, last


def due_in_state(ctx: Ctx, state: str, lo: int, hi: int) -> list[int]:
    """Ids of jobs in ``state`` whose due height is in [lo, hi], in (height, id) order."""
    if hi < lo:
        return []
    a, b = keys.state_range(STATE_BYTE[state], lo, hi)
    return [keys.split_state(k)[2] for k, _ in ctx.kv(NAME).iterate(a, b)]


def job_ids_of_poster(ctx: Ctx, poster: bytes, after: int = 0, limit: int = 100) -> list[int]:
    return _ids_under(ctx, keys.poster_prefix(poster), after, limit)


def job_ids_of_worker(ctx: Ctx, worker: bytes, after: int = 0, limit: int = 100) -> list[int]:
    return _ids_under(ctx, keys.worker_jobs_prefix(worker), after, limit)


def iterate_state_index(ctx: Ctx) -> Iterator[tuple[int, int, int]]:
    """(state byte, due height, job id) of every state index entry, for invariants."""
    p = keys.STATE_PREFIX
    for k, _ in ctx.kv(NAME).iterate(p, prefix_end(p)):
        yield keys.split_state(k)


def queue_ids(ctx: Ctx, limit: int) -> list[int]:
    """The best ``limit`` open jobs, best first."""
    out = []
    p = keys.QUEUE_PREFIX
    for k, _ in ctx.kv(NAME).iterate(p, prefix_end(p)):
        out.append(keys.queue_job_id(k))
        if len(out) >= limit:
            break
    return out


def iterate_queue(ctx: Ctx) -> Iterator[int]:
    p = keys.QUEUE_PREFIX
    for k, _ in ctx.kv(NAME).iterate(p, prefix_end(p)):
        yield keys.queue_job_id(k)


def queue_position(ctx: Ctx, j: Job, cap: int) -> int | None:
    """How many open jobs are ahead of ``j`` (None when more than ``cap``)."""
    p = keys.QUEUE_PREFIX
    n = 0
    for _ in ctx.kv(NAME).iterate(p, keys.queue(j.max_price, j.priority, j.id)):
        n += 1
        if n > cap:
            return None
    return n


# -- workers -----------------------------------------------------------------
def get_worker(ctx: Ctx, addr: bytes) -> Worker | None:
    raw = ctx.kv(NAME).get(keys.worker(addr))
    return None if raw is None else Worker.decode(raw)


def put_worker(ctx: Ctx, new: Worker, old: Worker | None = None) -> None:
    kv = ctx.kv(NAME)
    kv.set(keys.worker(new.address), new.encode())
    if old is not None and old.models == new.models:
        return
    before = set() if old is None else {keys.model_worker(m, old.address) for m in old.models}
    after = {keys.model_worker(m, new.address) for m in new.models}
    for k in sorted(before - after):
        kv.delete(k)
    for k in sorted(after - before):
        kv.set(k, b"")


def iterate_workers(ctx: Ctx, after: bytes = b"", limit: int | None = None) -> Iterator[Worker]:
    p = keys.WORKER_PREFIX
    start = keys.worker(after) + b"\x00" if after else p
    n = 0
    for _, v in ctx.kv(NAME).iterate(start, prefix_end(p)):
        yield Worker.decode(v)
        n += 1
        if limit is not None and n >= limit:
            return


def workers_for_model(ctx: Ctx, model_id: str) -> Iterator[bytes]:
    p = keys.model_workers_prefix(model_id)
    for k, _ in ctx.kv(NAME).iterate(p, prefix_end(p)):
        yield k[len(p) :]


# -- models ------------------------------------------------------------------
def get_model(ctx: Ctx, model_id: str) -> Model | None:
    raw = ctx.kv(NAME).get(keys.model(model_id))
    if raw is None:
        return None
    m: Model = _cached(_MODEL_CACHE, raw, Model.decode)
    return m


def set_model(ctx: Ctx, m: Model) -> None:
    ctx.kv(NAME).set(keys.model(m.id), m.encode())


def iterate_models(ctx: Ctx) -> Iterator[Model]:
    p = keys.MODEL_PREFIX
    for _, v in ctx.kv(NAME).iterate(p, prefix_end(p)):
        yield Model.decode(v)
