"""Invariants of the jobs module: the escrow account holds the open jobs'
escrow, and every job sits in exactly the indexes its record names."""

from __future__ import annotations

from chain.coins import DENOM
from chain.context import Ctx
from chain.crypto import module_address
from chain.module import Invariant
from modules.jobs import state
from modules.jobs.keeper import JobsKeeper
from modules.jobs.records import CLAIMED, QUEUED, STATE_BYTE
from modules.jobs.settlement import ESCROW


def _escrow_matches_open_jobs(k: JobsKeeper) -> Invariant:
    def check(ctx: Ctx) -> str | None:
        held = k.bank.balance(ctx, module_address(ESCROW), DENOM)
        owed = sum(j.escrow for j in state.iterate_jobs(ctx))
        return None if held == owed else f"escrow holds {held}avcn; open jobs escrow {owed}avcn"

    return check


def _one_state_per_job(ctx: Ctx) -> str | None:
    """Each job is in exactly one state index, the one its record names; the
    queue holds exactly the queued jobs; each worker's load is its claimed jobs."""
    byte_of = {b[0]: s for s, b in STATE_BYTE.items()}
    indexed: dict[int, list[str]] = {}
    due: dict[int, int] = {}
    for b, height, job_id in state.iterate_state_index(ctx):
        indexed.setdefault(job_id, []).append(byte_of.get(b, "?"))
        due[job_id] = height
    load: dict[bytes, int] = {}
    queued: list[int] = []
    for j in state.iterate_jobs(ctx):
        if indexed.pop(j.id, None) != [j.state] or due[j.id] != state.due_height(j):
            return f"job {j.id} ({j.state}) is indexed under the wrong state or height"
        if j.state == QUEUED:
            queued.append(j.id)
        if j.state == CLAIMED:
            load[j.worker] = load.get(j.worker, 0) + 1
    if indexed:
        return f"state index names missing jobs {sorted(indexed)[:5]}"
    if sorted(state.iterate_queue(ctx)) != queued:
        return "the queue does not hold exactly the queued jobs"
    for w in state.iterate_workers(ctx):
        held = load.get(w.address, 0)
        if w.active != held:
            return f"worker {w.address.hex()} counts {w.active} active jobs but holds {held}"
    return None


def invariants(k: JobsKeeper) -> dict[str, Invariant]:
    return {"escrow": _escrow_matches_open_jobs(k), "states": _one_state_per_job}
