"""The jobs module as the app sees it: messages, queries, genesis, end_block, invariants."""

from __future__ import annotations

from typing import Any

from chain.module import Module, MsgSpec
from modules.jobs import deadlines, genesis, handlers, invariants, msgs, queries
from modules.jobs.keeper import JobsKeeper
from modules.jobs.keys import NAME


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
        invariants=invariants.invariants(k),
    )
