"""The jobs module as the app sees it: messages, queries, genesis, end_block, invariants."""

from __future__ import annotations

from typing import Any

from chain.coins import DENOM
from chain.context import Ctx
from chain.crypto import module_address
from chain.module import Module, MsgSpec
from modules.jobs import deadlines, genesis, handlers, msgs, queries, state
from modules.jobs.keeper import JobsKeeper
from modules.jobs.keys import NAME
from modules.jobs.records import CLAIMED, QUEUED, STATE_BYTE
from modules.jobs.settlement import ESCROW


def _escrow_matches_open_jobs(k: JobsKeeper) -> Any:
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


def _spec(url: str, cls: Any, signer: str, validate: Any, handler: Any) -> MsgSpec:
    return MsgSpec(url, cls, lambda m: str(getattr(m, signer)), validate, handler)


def build(k: JobsKeeper) -> Module:
    return Module(
        name=NAME,
        msgs=[
            _spec(
                msgs.REGISTER_MODEL_URL,
                msgs.MsgRegisterModel,
                "authority",
                msgs.validate_register_model,
                handlers.make_register_model(k),
            ),
            _spec(
                msgs.REGISTER_WORKER_URL,
                msgs.MsgRegisterWorker,
                "worker",
                msgs.validate_register_worker,
                handlers.make_register_worker(k),
            ),
            _spec(
                msgs.POST_JOB_URL,
                msgs.MsgPostJob,
                "poster",
                msgs.validate_post_job,
                handlers.make_post_job(k),
            ),
            _spec(
                msgs.CANCEL_JOB_URL,
                msgs.MsgCancelJob,
                "poster",
                msgs.validate_job_ref,
                handlers.make_cancel_job(k),
            ),
            _spec(
                msgs.CLAIM_JOB_URL,
                msgs.MsgClaimJob,
                "worker",
                msgs.validate_job_ref,
                handlers.make_claim_job(k),
            ),
            _spec(
                msgs.SUBMIT_RESULT_URL,
                msgs.MsgSubmitResult,
                "worker",
                msgs.validate_submit_result,
                handlers.make_submit_result(k),
            ),
            _spec(
                msgs.RELEASE_JOB_URL,
                msgs.MsgReleaseJob,
                "worker",
                msgs.validate_release,
                handlers.make_release_job(k),
            ),
        ],
        queries=queries.queries(k.staking),
        default_genesis=genesis.default,
        validate_genesis=genesis.validate,
        init_genesis=genesis.init,
        export_genesis=genesis.export,
        end_block=lambda ctx: deadlines.end_block(ctx, k),
        invariants={"escrow": _escrow_matches_open_jobs(k), "states": _one_state_per_job},
    )
