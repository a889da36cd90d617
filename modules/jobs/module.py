"""The jobs module as the app sees it: messages, queries, genesis, end_block, invariants."""

from __future__ import annotations

from chain.module import Module, MsgSpec
from modules.jobs import deadlines, genesis, handlers, invariants, msgs, queries
from modules.jobs.keeper import JobsKeeper
from modules.jobs.keys import NAME


def build(k: JobsKeeper) -> Module:
    return Module(
        name=NAME,
        msgs=[
            MsgSpec(
                msgs.REGISTER_MODEL_URL,
                msgs.MsgRegisterModel,
                signer=lambda m: m.authority,
                validate=msgs.validate_register_model,
                handler=handlers.make_register_model(k),
            ),
            MsgSpec(
                msgs.REGISTER_OWN_MODEL_URL,
                msgs.MsgRegisterOwnModel,
                signer=lambda m: m.owner,
                validate=msgs.validate_register_own_model,
                handler=handlers.make_register_own_model(k),
            ),
            MsgSpec(
                msgs.REGISTER_WORKER_URL,
                msgs.MsgRegisterWorker,
                signer=lambda m: m.worker,
                validate=msgs.validate_register_worker,
                handler=handlers.make_register_worker(k),
            ),
            MsgSpec(
                msgs.POST_JOB_URL,
                msgs.MsgPostJob,
                signer=lambda m: m.poster,
                validate=msgs.validate_post_job,
                handler=handlers.make_post_job(k),
            ),
            MsgSpec(
                msgs.CANCEL_JOB_URL,
                msgs.MsgCancelJob,
                signer=lambda m: m.poster,
                validate=msgs.validate_cancel_job,
                handler=handlers.make_cancel_job(k),
            ),
            MsgSpec(
                msgs.CLAIM_JOB_URL,
                msgs.MsgClaimJob,
                signer=lambda m: m.worker,
                validate=msgs.validate_claim_job,
                handler=handlers.make_claim_job(k),
            ),
            MsgSpec(
                msgs.SUBMIT_RESULT_URL,
                msgs.MsgSubmitResult,
                signer=lambda m: m.worker,
                validate=msgs.validate_submit_result,
                handler=handlers.make_submit_result(k),
            ),
            MsgSpec(
                msgs.RELEASE_JOB_URL,
                msgs.MsgReleaseJob,
                signer=lambda m: m.worker,
                validate=msgs.validate_release,
                handler=handlers.make_release_job(k),
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
