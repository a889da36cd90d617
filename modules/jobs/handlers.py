"""Handlers of the jobs module: check → state → event.

A worker's pay is its ask: a claim fixes the job's price at the worker's
registered price floor, at least the ``min_price`` param and at most the job's
max price (a worker may claim a job offering less than its floor: that is
its choice, and it is then paid the max price). What the poster escrowed above
the price comes back at settlement.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from functools import partial

from chain.coins import DENOM
from chain.context import Ctx
from chain.crypto import to_bech32
from chain.errors import ErrInsufficientFunds
from chain.module import Handler
from modules.jobs import eligibility, events, receipt, settlement, state
from modules.jobs.errors import (
    ErrBadReceipt,
    ErrDeadlinePassed,
    ErrInvalidJob,
    ErrInvalidModel,
    ErrInvalidResult,
    ErrInvalidWorker,
    ErrModelFeeTooLow,
    ErrModelTaken,
    ErrModelTooLarge,
    ErrNotAssignee,
    ErrNotAuthority,
    ErrNotPoster,
    ErrNotQueued,
    ErrUnknownModel,
)
from modules.jobs.keeper import JobsKeeper
from modules.jobs.msgs import (
    CancelJob,
    ClaimJob,
    PostJob,
    RegisterModel,
    RegisterOwnModel,
    RegisterWorker,
    ReleaseJob,
    SubmitResult,
)
from modules.jobs.records import (
    CANCELLED,
    CLAIMED,
    FAILED,
    QUEUED,
    SUBMITTED,
    Job,
    Model,
    Receipt,
    Worker,
)


def _model(ctx: Ctx, model_id: str) -> Model:
    m = state.get_model(ctx, model_id)
    if m is None:
        raise ErrUnknownModel(
            f"model {model_id!r} is not registered; `vcoind query jobs models` lists them"
        )
    return m


def _model_record(
    ctx: Ctx,
    msg: RegisterModel | RegisterOwnModel,
    old: Model | None,
    owner: bytes = b"",
    kind: str = "",
    total_bytes: int = 0,
) -> Model:
    """The registry record ``msg`` writes; an update keeps the first registration height."""
    return Model(
        id=msg.model_id,
        task_types=msg.task_types,
        weights_sha256=msg.weights_sha256,
        config_sha256=msg.config_sha256,
        min_gpu_memory_mib=msg.min_gpu_memory_mib,
        registered_height=ctx.block.height if old is None else old.registered_height,
        description=msg.description,
        owner=owner,
        kind=kind,
        total_bytes=total_bytes,
    )


def handle_register_model(k: JobsKeeper, ctx: Ctx, msg: RegisterModel) -> None:
    authority = k.accounts.authority(ctx)
    if msg.authority != authority:
        raise ErrNotAuthority(
            f"{msg.authority} may not register models; only the authority {authority} may"
        )
    m = _model_record(ctx, msg, state.get_model(ctx, msg.model_id))
    state.set_model(ctx, m)
    ctx.emit(events.model_registered(m))


def make_register_model(k: JobsKeeper) -> Handler[RegisterModel]:
    return partial(handle_register_model, k)


def handle_register_worker(ctx: Ctx, msg: RegisterWorker) -> None:
    p = state.get_params(ctx)
    addr = msg.worker
    models = msg.models
    if len(models) > p.max_worker_models:
        raise ErrInvalidWorker(f"at most {p.max_worker_models} models per worker")
    for m in models:
        _model(ctx, m)
    if msg.max_concurrent > p.max_concurrent_jobs:
        raise ErrInvalidWorker(f"max_concurrent is at most {p.max_concurrent_jobs}")
    old = state.get_worker(ctx, addr)
    w = Worker(
        address=addr,
        gpu_model=msg.gpu_model,
        memory_mib=msg.memory_mib,
        gpu_count=msg.gpu_count,
        task_types=msg.task_types,
        models=models,
        price_floor=msg.price_floor,
        max_concurrent=msg.max_concurrent,
        registered_height=ctx.block.height if old is None else old.registered_height,
        active=0 if old is None else old.active,
    )
    state.put_worker(ctx, w, old)
    ctx.emit(events.worker_registered(w))


def make_register_worker(k: JobsKeeper) -> Handler[RegisterWorker]:
    del k  # a registration reads and writes the jobs store only
    return handle_register_worker


def _blocks(asked: int, default: int, most: int, what: str) -> int:
    n = asked or default
    if n > most:
        raise ErrInvalidJob(f"{what} is at most {most} blocks; got {n}")
    return n


def handle_post_job(k: JobsKeeper, ctx: Ctx, msg: PostJob) -> None:
    p = state.get_params(ctx)
    poster = msg.poster
    model = _model(ctx, msg.model)
    if msg.task_type not in model.task_types:
        raise ErrInvalidJob(f"model {model.id} runs {list(model.task_types)}, not {msg.task_type}")
    max_price = msg.max_price
    if max_price < p.min_price:
        raise ErrInvalidJob(f"max_price must be at least {p.min_price}avcn")
    if msg.priority > p.max_priority:
        raise ErrInvalidJob(f"priority is 0..{p.max_priority}; got {msg.priority}")
    inline = msg.inline_input
    if len(inline) > p.max_inline_input_bytes:
        raise ErrInvalidJob(
            f"inline input is {len(inline)} bytes; the limit is {p.max_inline_input_bytes}: "
            "upload it to the artifact store and pass input_hash"
        )
    if len(msg.spec.encode()) > p.max_spec_bytes:
        raise ErrInvalidJob(f"spec is over {p.max_spec_bytes} bytes")
    input_hash = msg.input_hash  # None when the input is inline
    if input_hash is None:
        input_hash = hashlib.sha256(inline).digest()
    claim_blocks = _blocks(
        msg.claim_blocks, p.default_claim_blocks, p.max_claim_blocks, "claim_blocks"
    )
    result_blocks = _blocks(
        msg.result_blocks, p.default_result_blocks, p.max_result_blocks, "result_blocks"
    )
    h = ctx.block.height
    j = Job(
        id=state.take_job_id(ctx),
        poster=poster,
        task_type=msg.task_type,
        model=model.id,
        input_hash=input_hash,
        inline_input=inline,
        spec=msg.spec,
        max_price=max_price,
        priority=msg.priority,
        claim_blocks=claim_blocks,
        result_blocks=result_blocks,
        min_gpu_memory_mib=msg.min_gpu_memory_mib,
        min_gpu_count=msg.min_gpu_count,
        gpu_model=msg.gpu_model,
        posted_height=h,
        claim_deadline=h + claim_blocks,
    )
    settlement.take_escrow(ctx, k.bank, poster, max_price)
    state.put_job(ctx, j)
    ctx.emit(events.job_posted(j))


def make_post_job(k: JobsKeeper) -> Handler[PostJob]:
    return partial(handle_post_job, k)


def handle_cancel_job(k: JobsKeeper, ctx: Ctx, msg: CancelJob) -> None:
    j = k.must_job(ctx, msg.job_id)
    if j.poster != msg.poster:
        raise ErrNotPoster(f"job {j.id} was posted by {to_bech32(j.poster)}")
    if j.state != QUEUED:
        raise ErrNotQueued(f"job {j.id} is {j.state}; only a queued job can be cancelled")
    new = k.end_refunded(ctx, j, CANCELLED, "cancelled by the poster")
    ctx.emit(events.job_cancelled(new))
    k.finished(ctx, new)


def make_cancel_job(k: JobsKeeper) -> Handler[CancelJob]:
    return partial(handle_cancel_job, k)


def _not_claimable(j: Job) -> str:
    if j.state == CLAIMED:
        return f"job {j.id} is already claimed by {to_bech32(j.worker)}"
    return f"job {j.id} is {j.state}; only a queued job can be claimed"


def handle_claim_job(k: JobsKeeper, ctx: Ctx, msg: ClaimJob) -> None:
    addr = msg.worker
    j = k.must_job(ctx, msg.job_id)
    if j.state != QUEUED:
        raise ErrNotQueued(_not_claimable(j))
    w = eligibility.check_claim(ctx, k.staking, j, state.get_model(ctx, j.model), addr)
    p = state.get_params(ctx)
    h = ctx.block.height
    new = j.with_(
        state=CLAIMED,
        worker=addr,
        price=min(j.max_price, max(w.price_floor, p.min_price)),
        claimed_height=h,
        result_deadline=h + j.result_blocks,
    )
    state.put_worker(ctx, replace(w, active=w.active + 1), w)
    state.put_job(ctx, new, j)
    ctx.emit(events.job_claimed(new))


def make_claim_job(k: JobsKeeper) -> Handler[ClaimJob]:
    return partial(handle_claim_job, k)


def _check_assignee(ctx: Ctx, j: Job, addr: bytes) -> None:
    if j.state == CLAIMED and j.worker == addr:
        if ctx.block.height > j.result_deadline:
            raise ErrDeadlinePassed(f"job {j.id}'s result deadline was {j.result_deadline}")
        return
    if j.last_timeout_worker == addr:
        raise ErrDeadlinePassed(
            f"your claim on job {j.id} ran out at its result deadline and the job was "
            f"taken back (now {j.state}); the result is no longer accepted"
        )
    if j.state == CLAIMED:
        raise ErrNotAssignee(f"job {j.id} is claimed by {to_bech32(j.worker)}, not you")
    raise ErrNotAssignee(f"job {j.id} is {j.state}; claim it before submitting a result")


def _check_receipt(ctx: Ctx, k: JobsKeeper, j: Job, addr: bytes, rec: Receipt) -> None:
    # the hashes were lowercase hex in the message, so .hex() prints them as sent
    model = _model(ctx, j.model)
    if rec.model_hash != model.weights_sha256:
        raise ErrBadReceipt(
            f"receipt model hash {rec.model_hash.hex()} is not model {j.model}'s weights "
            f"{model.weights_sha256.hex()}"
        )
    if rec.input_hash != j.input_hash:
        raise ErrBadReceipt(f"receipt input hash {rec.input_hash.hex()} is not the job's input")
    acc = k.accounts.get_account(ctx, addr)
    pubkey = getattr(acc, "pubkey", None)
    if pubkey is None or not receipt.verify(
        pubkey,
        rec.signature,
        ctx.block.chain_id,
        j.id,
        rec.image_digest,
        rec.model_hash,
        rec.input_hash,
        rec.output_hash,
    ):
        raise ErrBadReceipt(
            "the receipt signature does not verify with the worker's account key over "
            "modules.jobs.receipt.sign_bytes(chain id, job id, image, model, input, output)"
        )


def handle_submit_result(k: JobsKeeper, ctx: Ctx, msg: SubmitResult) -> None:
    addr = msg.worker
    j = k.must_job(ctx, msg.job_id)
    _check_assignee(ctx, j, addr)
    p = state.get_params(ctx)
    if msg.compute_units > p.max_compute_units:
        raise ErrInvalidResult(f"compute_units is at most {p.max_compute_units}")
    rec = msg.receipt
    _check_receipt(ctx, k, j, addr, rec)
    new = j.with_(
        state=SUBMITTED,
        submitted_height=ctx.block.height,
        output_hash=rec.output_hash,
        artifact_ref=msg.artifact_ref,
        compute_units=msg.compute_units,
        receipt=rec,
    )
    k.free_slot(ctx, addr)
    state.put_job(ctx, new, j)
    ctx.emit(events.result_submitted(new))


def make_submit_result(k: JobsKeeper) -> Handler[SubmitResult]:
    return partial(handle_submit_result, k)


def handle_release_job(k: JobsKeeper, ctx: Ctx, msg: ReleaseJob) -> None:
    addr = msg.worker
    j = k.must_job(ctx, msg.job_id)
    _check_assignee(ctx, j, addr)
    reason = msg.reason or ("given back" if msg.retry else "the job cannot run")
    if msg.retry:
        k.requeue(ctx, j, reason, timed_out=False)
        return
    k.free_slot(ctx, addr)
    new = k.end_refunded(ctx, j, FAILED, reason)
    ctx.emit(events.job_failed(new, addr, reason))
    k.finished(ctx, new)


def make_release_job(k: JobsKeeper) -> Handler[ReleaseJob]:
    return partial(handle_release_job, k)


def handle_register_own_model(k: JobsKeeper, ctx: Ctx, msg: RegisterOwnModel) -> None:
    """Any account registers (or, when the id is already its own, updates) a model and
    pays ``model_registration_fee``: ``burn_bps`` of it burned, the rest to the treasury."""
    p = state.get_params(ctx)
    if msg.kind not in p.model_kinds:
        raise ErrInvalidModel(
            f"accounts may register models of kinds {list(p.model_kinds)}, not {msg.kind!r}"
        )
    if msg.total_bytes > p.max_model_bytes:
        raise ErrModelTooLarge(
            f"the model's files are {msg.total_bytes} bytes; max_model_bytes is {p.max_model_bytes}"
        )
    old = state.get_model(ctx, msg.model_id)
    if old is not None and old.owner != msg.owner:
        whose = to_bech32(old.owner) if old.owner else "the platform"
        raise ErrModelTaken(f"model {msg.model_id!r} belongs to {whose}; choose another id")
    fee = p.model_registration_fee
    if msg.max_fee < fee:
        raise ErrModelFeeTooLow(
            f"registering a model costs {fee}avcn (the jobs param model_registration_fee); "
            f"max_fee is {msg.max_fee}avcn"
        )
    have = k.bank.balance(ctx, msg.owner, DENOM)
    if have < fee:
        raise ErrInsufficientFunds(
            f"registering a model costs {fee}avcn; {to_bech32(msg.owner)} has {have}avcn"
        )
    burned = fee * p.burn_bps // 10_000
    if burned:
        k.bank.send_to_module(ctx, msg.owner, settlement.BURN, ((DENOM, burned),))
        k.bank.burn(ctx, settlement.BURN, ((DENOM, burned),))
    if fee - burned:
        k.bank.send_to_module(ctx, msg.owner, settlement.TREASURY, ((DENOM, fee - burned),))
    m = _model_record(ctx, msg, old, owner=msg.owner, kind=msg.kind, total_bytes=msg.total_bytes)
    state.set_model(ctx, m)
    ctx.emit(events.own_model_registered(m, fee, burned))


def make_register_own_model(k: JobsKeeper) -> Handler[RegisterOwnModel]:
    return partial(handle_register_own_model, k)
