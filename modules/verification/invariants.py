"""Invariants of the verification module: pending records are the checking jobs."""

from __future__ import annotations

from chain.context import Ctx
from chain.module import Invariant
from modules.verification import state
from modules.verification.keeper import VerificationKeeper
from modules.verification.records import CHECKING


def _pending_matches_jobs(k: VerificationKeeper) -> Invariant:
    """Pending records are exactly the checking jobs, each with one timer (a DECIDED
    record lives only inside the block that made it, so never shows here)."""

    def check(ctx: Ctx) -> str | None:
        pending = {p.job_id: p for p in state.iterate_pending(ctx)}
        for p in pending.values():
            if p.stage != CHECKING:
                return f"pending job {p.job_id} is {p.stage} after its block"
        checking = k.jobs.ids_in_state(ctx, CHECKING)
        if sorted(pending) != sorted(checking):
            return f"pending {sorted(pending)[:5]}… != checking jobs {sorted(checking)[:5]}…"
        if state.count_timers(ctx) != len(pending):
            return f"{state.count_timers(ctx)} timers for {len(pending)} pending results"
        return None

    return check


def invariants(k: VerificationKeeper) -> dict[str, Invariant]:
    return {"pending": _pending_matches_jobs(k)}
