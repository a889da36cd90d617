"""Claim and result deadlines, checked at the end of every block.

* A queued job nobody claimed by its claim deadline expires; the poster gets
  the escrow back.
* A claimed job with no result by its result deadline is a timeout: the
  worker's record takes a failure (``SlashingKeeper.record_timeout``; not
  cheating, so no slash) and the job goes back into the queue with a fresh
  claim window, until it has used ``max_attempts``; then it expires, refunded.

Deadlines are inclusive: a result in the deadline's own block still counts.
"""

from __future__ import annotations

from chain.context import Ctx
from modules.jobs import events, keys, state
from modules.jobs.keeper import JobsKeeper
from modules.jobs.records import CLAIMED, EXPIRED, QUEUED


def end_block(ctx: Ctx, k: JobsKeeper) -> None:
    for height, kind, job_id in state.due_deadlines(ctx, ctx.block.height):
        j = state.get_job(ctx, job_id)
        if j is None:
            continue
        if kind == keys.CLAIM_DEADLINE and j.state == QUEUED:
            reason = f"no worker claimed it by height {height}"
            new = k.end_refunded(ctx, j, EXPIRED, reason)
            ctx.emit(events.job_expired(new, reason))
        elif kind == keys.RESULT_DEADLINE and j.state == CLAIMED:
            k.slashing.record_timeout(ctx, j.worker)
            k.requeue(ctx, j, f"no result by the deadline at height {height}", timed_out=True)
