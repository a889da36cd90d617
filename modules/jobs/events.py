"""Events of the jobs module: what workers, posters and explorers follow.

Coin amounts read as Cosmos coins (``123avcn``); addresses are bech32.
"""

from __future__ import annotations

from chain.coins import DENOM
from chain.crypto import to_bech32
from chain.events import Event
from modules.jobs.records import Job, Model, Worker

JOB_POSTED = "JobPosted"
JOB_CLAIMED = "JobClaimed"
RESULT_SUBMITTED = "ResultSubmitted"
JOB_CANCELLED = "JobCancelled"
JOB_REQUEUED = "JobRequeued"
JOB_EXPIRED = "JobExpired"
JOB_FAILED = "JobFailed"
JOB_SETTLED = "JobSettled"
JOB_REJECTED = "JobRejected"
FEE_BURNED = "FeeBurned"
TREASURY_CREDITED = "TreasuryCredited"
WORKER_PAID = "WorkerPaid"
ESCROW_REFUNDED = "EscrowRefunded"
MODEL_REGISTERED = "ModelRegistered"
WORKER_REGISTERED = "WorkerRegistered"


def _coin(n: int) -> str:
    return f"{n}{DENOM}"


def job_posted(j: Job) -> Event:
    return Event.of(
        JOB_POSTED,
        job_id=j.id,
        poster=to_bech32(j.poster),
        task_type=j.task_type,
        model=j.model,
        max_price=_coin(j.max_price),
        priority=j.priority,
        input_hash=j.input_hash.hex(),
        min_gpu_memory_mib=j.min_gpu_memory_mib,
        min_gpu_count=j.min_gpu_count,
        claim_deadline=j.claim_deadline,
    )


def job_claimed(j: Job) -> Event:
    return Event.of(
        JOB_CLAIMED,
        job_id=j.id,
        worker=to_bech32(j.worker),
        price=_coin(j.price),
        result_deadline=j.result_deadline,
    )


def result_submitted(j: Job) -> Event:
    return Event.of(
        RESULT_SUBMITTED,
        job_id=j.id,
        worker=to_bech32(j.worker),
        task_type=j.task_type,
        model=j.model,
        output_hash=j.output_hash.hex(),
        artifact_ref=j.artifact_ref,
        compute_units=j.compute_units,
    )


def job_cancelled(j: Job) -> Event:
    return Event.of(JOB_CANCELLED, job_id=j.id, poster=to_bech32(j.poster))


def job_requeued(j: Job, worker: bytes, reason: str) -> Event:
    return Event.of(
        JOB_REQUEUED,
        job_id=j.id,
        worker=to_bech32(worker),
        reason=reason,
        attempts=j.attempts,
        claim_deadline=j.claim_deadline,
    )


def job_expired(j: Job, reason: str) -> Event:
    return Event.of(JOB_EXPIRED, job_id=j.id, reason=reason)


def job_failed(j: Job, worker: bytes, reason: str) -> Event:
    return Event.of(JOB_FAILED, job_id=j.id, worker=to_bech32(worker), reason=reason)


def job_settled(j: Job) -> Event:
    return Event.of(
        JOB_SETTLED,
        job_id=j.id,
        worker=to_bech32(j.worker),
        price=_coin(j.price),
        compute_units=j.compute_units,
    )


def job_rejected(j: Job) -> Event:
    return Event.of(JOB_REJECTED, job_id=j.id, worker=to_bech32(j.worker))


def fee_burned(job_id: int, amount: int) -> Event:
    return Event.of(FEE_BURNED, job_id=job_id, amount=_coin(amount))


def treasury_credited(job_id: int, amount: int) -> Event:
    return Event.of(TREASURY_CREDITED, job_id=job_id, amount=_coin(amount))


def worker_paid(job_id: int, worker: bytes, amount: int) -> Event:
    return Event.of(WORKER_PAID, job_id=job_id, worker=to_bech32(worker), amount=_coin(amount))


def escrow_refunded(job_id: int, poster: bytes, amount: int) -> Event:
    return Event.of(ESCROW_REFUNDED, job_id=job_id, poster=to_bech32(poster), amount=_coin(amount))


def model_registered(m: Model) -> Event:
    return Event.of(
        MODEL_REGISTERED,
        model=m.id,
        task_types=",".join(m.task_types),
        weights_sha256=m.weights_sha256.hex(),
        min_gpu_memory_mib=m.min_gpu_memory_mib,
    )


def own_model_registered(m: Model, fee: int, burned: int) -> Event:
    """``ModelRegistered`` of a model an account registered, with what it paid: ``fee``,
    of which ``burned`` was burned and the rest went to the treasury."""
    return Event.of(
        MODEL_REGISTERED,
        model=m.id,
        task_types=",".join(m.task_types),
        weights_sha256=m.weights_sha256.hex(),
        min_gpu_memory_mib=m.min_gpu_memory_mib,
        owner=to_bech32(m.owner),
        kind=m.kind,
        total_bytes=m.total_bytes,
        fee=_coin(fee),
        burned=_coin(burned),
        to_treasury=_coin(fee - burned),
    )


def worker_registered(w: Worker) -> Event:
    return Event.of(
        WORKER_REGISTERED,
        worker=to_bech32(w.address),
        models=",".join(w.models),
        task_types=",".join(w.task_types),
        memory_mib=w.memory_mib,
        gpu_count=w.gpu_count,
        max_concurrent=w.max_concurrent,
        price_floor=_coin(w.price_floor),
    )
