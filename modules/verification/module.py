"""The verification module as the app sees it."""

from __future__ import annotations

from typing import Any

from chain.context import Ctx
from chain.module import Module, MsgSpec
from modules.verification import genesis, handlers, msgs, queries, state
from modules.verification.keeper import VerificationKeeper
from modules.verification.keys import NAME
from modules.verification.records import CHECKING


def _pending_matches_jobs(k: VerificationKeeper) -> Any:
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


def build(k: VerificationKeeper) -> Module:
    def spec(url: str, cls: Any, validate: Any, handler: Any) -> MsgSpec:
        return MsgSpec(url, cls, lambda m: str(m.oracle), validate, handler)

    return Module(
        name=NAME,
        msgs=[
            spec(
                msgs.COMMIT_CANARY_URL,
                msgs.MsgCommitCanary,
                msgs.validate_commit,
                handlers.make_commit_canary(k),
            ),
            spec(
                msgs.REVEAL_CANARY_URL,
                msgs.MsgRevealCanary,
                msgs.validate_reveal,
                handlers.make_reveal_canary(k),
            ),
            spec(msgs.ATTEST_URL, msgs.MsgAttest, msgs.validate_attest, handlers.make_attest(k)),
        ],
        queries=queries.make_queries(k),
        default_genesis=genesis.default,
        validate_genesis=genesis.validate,
        init_genesis=genesis.init,
        export_genesis=genesis.export,
        end_block=k.end_block,
        invariants={"pending": _pending_matches_jobs(k)},
    )
