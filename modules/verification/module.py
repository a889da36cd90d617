"""The verification module as the app sees it."""

from __future__ import annotations

from typing import Any

from chain.context import Ctx
from chain.module import Module, MsgSpec
from modules.verification import genesis, handlers, msgs, queries, state
from modules.verification.keeper import VerificationKeeper
from modules.verification.keys import NAME
from modules.verification.params import Params
from modules.verification.records import CHECKING, DECIDED


class VerificationParams:
    def get_params(self, ctx: Ctx) -> dict[str, Any]:
        return state.get_params(ctx).to_json()

    def set_params(self, ctx: Ctx, params: dict[str, Any]) -> None:
        state.set_params(ctx, Params.from_json(params))


def _pending_matches_jobs(k: VerificationKeeper) -> Any:
    """Every pending record is a submitted (or, once picked, checking) job with one timer."""

    def check(ctx: Ctx) -> str | None:
        n = 0
        for p in state.iterate_pending(ctx):
            n += 1
            j = k.jobs.get_job(ctx, p.job_id)
            want = {"checking"} if p.stage == CHECKING else {"submitted"}
            if p.stage == DECIDED:  # only ever inside a block, before its end_block
                want = {"submitted", "checking"}
            if j is None or j.state not in want:
                return f"pending job {p.job_id} ({p.stage}) is {None if j is None else j.state}"
        if state.count_timers(ctx) != n:
            return f"{state.count_timers(ctx)} timers for {n} pending results"
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
