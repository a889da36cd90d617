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
from modules.jobs import events, state
from modules.jobs.keeper import JobsKeeper
from modules.jobs.records import CLAIMED, EXPIRED, QUEUED


def end_block(ctx: Ctx, k: JobsKeeper) -> None:
    h = ctx.block.height
    for job_id in state.due_in_state(ctx, QUEUED, 0, h):
        j = k.must_job(ctx, job_id)
        reason = f"no worker claimed it by height {j.claim_deadline}"
        new = k.end_refunded(ctx, j, EXPIRED, reason)
        ctx.emit(events.job_expired(new, reason))
        k.finished(ctx, new)
    for job_id in state.due_in_state(ctx, CLAIMED, 0, h):
        j = k.must_job(ctx, job_id)
        k.slashing.record_timeout(ctx, j.worker)
        reason = f"no result by the deadline at height {j.result_deadline}"
        k.requeue(ctx, j, reason, timed_out=True)
