"""Messages of the jobs module: each one's stateless checks parse it once into
the frozen dataclass its handler takes.

Hashes travel as lowercase hex strings (what people paste), amounts as decimal
strings of avcn (they may pass 2^64), signatures as raw bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from chain.bounded import InputError, load_json
from chain.coins import parse_amount
from chain.crypto import AddressError, from_bech32
from chain.errors import ErrInvalidAddress, ErrorCode
from chain.proto import type_url
from modules.jobs import tx_pb2
from modules.jobs.errors import (
    ErrInvalidJob,
    ErrInvalidModel,
    ErrInvalidResult,
    ErrInvalidWorker,
)
from modules.jobs.keys import MAX_PRICE
from modules.jobs.params import (
    INTERNAL_TASK_TYPES,
    MODEL_KIND_TASKS,
    TASK_TYPES,
    WORKER_TASK_TYPES,
)
from modules.jobs.records import Receipt

# The module's messages, generated from proto/vcoin/jobs/v1/tx.proto.
MsgRegisterModel = tx_pb2.MsgRegisterModel
MsgRegisterOwnModel = tx_pb2.MsgRegisterOwnModel
MsgRegisterWorker = tx_pb2.MsgRegisterWorker
MsgPostJob = tx_pb2.MsgPostJob
MsgCancelJob = tx_pb2.MsgCancelJob
MsgClaimJob = tx_pb2.MsgClaimJob
ExecutionReceipt = tx_pb2.ExecutionReceipt
MsgSubmitResult = tx_pb2.MsgSubmitResult
MsgReleaseJob = tx_pb2.MsgReleaseJob

REGISTER_MODEL_URL = type_url(MsgRegisterModel)
REGISTER_OWN_MODEL_URL = type_url(MsgRegisterOwnModel)
REGISTER_WORKER_URL = type_url(MsgRegisterWorker)
POST_JOB_URL = type_url(MsgPostJob)
CANCEL_JOB_URL = type_url(MsgCancelJob)
CLAIM_JOB_URL = type_url(MsgClaimJob)
SUBMIT_RESULT_URL = type_url(MsgSubmitResult)
RELEASE_JOB_URL = type_url(MsgReleaseJob)

# used with fullmatch: "$" would also match before a trailing newline
_HEX32 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}")
MAX_TEXT = 256
# a stateless bound for parsing; the jobs param max_spec_bytes (4096 by default)
# is checked by the handler
MAX_SPEC_PARSE_BYTES = 65_536


def addr(text: str, what: str) -> bytes:
    try:
        return from_bech32(text)
    except AddressError as e:
        raise ErrInvalidAddress(f"{what}: {e}") from e


def hash32(text: str, what: str, err: ErrorCode = ErrInvalidJob) -> bytes:
    if not isinstance(text, str) or not _HEX32.fullmatch(text):
        raise err(f"{what} must be a sha256 as 64 lowercase hex characters, got {text!r}")
    return bytes.fromhex(text)


def name(text: str, what: str, err: ErrorCode) -> str:
    if not isinstance(text, str) or not _NAME.fullmatch(text):
        raise err(f"{what} {text!r}: use 1-128 letters, digits or ._:/@+- (not first)")
    return text


def task_types(
    items: Iterable[str], err: ErrorCode, known: tuple[str, ...] = TASK_TYPES
) -> tuple[str, ...]:
    out = tuple(items)
    if not out:
        raise err(f"list at least one task type of {list(known)}")
    for t in out:
        if t not in known:
            raise err(f"unknown task type {t!r}; known: {list(known)}")
    if len(set(out)) != len(out):
        raise err("task types are listed twice")
    return tuple(sorted(out))


def price(text: str, what: str, err: ErrorCode = ErrInvalidJob) -> int:
    try:
        n = parse_amount(text, what)
    except Exception as e:
        raise err(f"{what} {text!r} must be a whole number of avcn") from e
    if n > MAX_PRICE:
        raise err(f"{what} is over 2^128-1 avcn")
    return n


# -- what the handlers take ------------------------------------------------------


@dataclass(frozen=True)
class RegisterModel:
    authority: str
    model_id: str
    task_types: tuple[str, ...]  # sorted
    weights_sha256: bytes
    config_sha256: bytes
    min_gpu_memory_mib: int
    description: str


@dataclass(frozen=True)
class RegisterOwnModel:
    owner: bytes
    model_id: str
    kind: str
    task_types: tuple[str, ...]  # sorted, from the kind
    weights_sha256: bytes
    config_sha256: bytes
    total_bytes: int
    min_gpu_memory_mib: int
    description: str
    max_fee: int


@dataclass(frozen=True)
class RegisterWorker:
    worker: bytes
    gpu_model: str
    memory_mib: int
    gpu_count: int
    task_types: tuple[str, ...]  # sorted
    models: tuple[str, ...]  # sorted
    price_floor: int
    max_concurrent: int


@dataclass(frozen=True)
class PostJob:
    poster: bytes
    task_type: str
    model: str
    input_hash: bytes | None  # None: the input is inline
    inline_input: bytes
    spec: str  # JSON text, stored as sent
    max_price: int
    priority: int
    claim_blocks: int  # 0: the params' default
    result_blocks: int  # 0: the params' default
    min_gpu_memory_mib: int
    min_gpu_count: int
    gpu_model: str


@dataclass(frozen=True)
class CancelJob:
    poster: bytes
    job_id: int


@dataclass(frozen=True)
class ClaimJob:
    worker: bytes
    job_id: int


@dataclass(frozen=True)
class SubmitResult:
    worker: bytes
    job_id: int
    output_hash: bytes
    artifact_ref: str
    compute_units: int
    receipt: Receipt


@dataclass(frozen=True)
class ReleaseJob:
    worker: bytes
    job_id: int
    reason: str
    retry: bool


# -- checks ----------------------------------------------------------------------


def validate_register_model(msg: MsgRegisterModel) -> RegisterModel:
    addr(msg.authority, "authority")
    name(msg.model_id, "model id", ErrInvalidModel)
    types = task_types(msg.task_types, ErrInvalidModel)
    weights = hash32(msg.weights_sha256, "weights_sha256", ErrInvalidModel)
    config = hash32(msg.config_sha256, "config_sha256", ErrInvalidModel)
    if len(msg.description) > MAX_TEXT:
        raise ErrInvalidModel(f"description is over {MAX_TEXT} characters")
    return RegisterModel(
        authority=msg.authority,
        model_id=msg.model_id,
        task_types=types,
        weights_sha256=weights,
        config_sha256=config,
        min_gpu_memory_mib=int(msg.min_gpu_memory_mib),
        description=msg.description,
    )


def validate_register_own_model(msg: MsgRegisterOwnModel) -> RegisterOwnModel:
    owner = addr(msg.owner, "owner")
    name(msg.model_id, "model id", ErrInvalidModel)
    if msg.kind not in MODEL_KIND_TASKS:
        raise ErrInvalidModel(f"unknown model kind {msg.kind!r}; known: {sorted(MODEL_KIND_TASKS)}")
    weights = hash32(msg.weights_sha256, "weights_sha256", ErrInvalidModel)
    config = hash32(msg.config_sha256, "config_sha256", ErrInvalidModel)
    if msg.total_bytes < 1:
        raise ErrInvalidModel("total_bytes (the manifest's files, in all) must be at least 1")
    if len(msg.description) > MAX_TEXT:
        raise ErrInvalidModel(f"description is over {MAX_TEXT} characters")
    return RegisterOwnModel(
        owner=owner,
        model_id=msg.model_id,
        kind=msg.kind,
        task_types=MODEL_KIND_TASKS[msg.kind],
        weights_sha256=weights,
        config_sha256=config,
        total_bytes=int(msg.total_bytes),
        min_gpu_memory_mib=int(msg.min_gpu_memory_mib),
        description=msg.description,
        max_fee=price(msg.max_fee or "0", "max_fee", ErrInvalidModel),
    )


def validate_register_worker(msg: MsgRegisterWorker) -> RegisterWorker:
    worker = addr(msg.worker, "worker")
    if len(msg.gpu_model) > MAX_TEXT:
        raise ErrInvalidWorker(f"gpu_model is over {MAX_TEXT} characters")
    if (msg.gpu_count == 0) != (msg.memory_mib == 0):
        raise ErrInvalidWorker("a CPU-only worker has gpu_count 0 and memory_mib 0; a GPU one both")
    types = task_types(msg.task_types, ErrInvalidWorker, WORKER_TASK_TYPES)
    if not msg.models:
        raise ErrInvalidWorker("list at least one model the worker serves")
    for m in msg.models:
        name(m, "model", ErrInvalidWorker)
    if len(set(msg.models)) != len(msg.models):
        raise ErrInvalidWorker("models are listed twice")
    floor = price(msg.price_floor or "0", "price_floor", ErrInvalidWorker)
    if msg.max_concurrent < 1:
        raise ErrInvalidWorker("max_concurrent must be at least 1")
    return RegisterWorker(
        worker=worker,
        gpu_model=msg.gpu_model,
        memory_mib=int(msg.memory_mib),
        gpu_count=int(msg.gpu_count),
        task_types=types,
        models=tuple(sorted(msg.models)),
        price_floor=floor,
        max_concurrent=int(msg.max_concurrent),
    )


def validate_post_job(msg: MsgPostJob) -> PostJob:
    poster = addr(msg.poster, "poster")
    if msg.task_type in INTERNAL_TASK_TYPES:
        raise ErrInvalidJob(
            f"task type {msg.task_type!r} is internal: only the training module posts it "
            "(send MsgPostTraining to fine-tune across workers)"
        )
    if msg.task_type not in TASK_TYPES:
        raise ErrInvalidJob(f"unknown task type {msg.task_type!r}; known: {list(TASK_TYPES)}")
    name(msg.model, "model", ErrInvalidJob)
    if bool(msg.input_hash) == bool(msg.inline_input):
        raise ErrInvalidJob("give exactly one of input_hash (an artifact) or inline_input")
    input_hash = hash32(msg.input_hash, "input_hash") if msg.input_hash else None
    if msg.spec:
        try:
            spec = load_json(msg.spec, "spec", max_bytes=MAX_SPEC_PARSE_BYTES)
        except InputError as e:
            raise ErrInvalidJob(str(e)) from e
        if not isinstance(spec, dict):
            raise ErrInvalidJob("spec must be a JSON object")
    max_price = price(msg.max_price, "max_price")
    if max_price == 0:
        raise ErrInvalidJob("max_price must be positive")
    if len(msg.gpu_model) > MAX_TEXT:
        raise ErrInvalidJob(f"gpu_model is over {MAX_TEXT} characters")
    return PostJob(
        poster=poster,
        task_type=msg.task_type,
        model=msg.model,
        input_hash=input_hash,
        inline_input=bytes(msg.inline_input),
        spec=msg.spec,
        max_price=max_price,
        priority=int(msg.priority),
        claim_blocks=int(msg.claim_blocks),
        result_blocks=int(msg.result_blocks),
        min_gpu_memory_mib=int(msg.min_gpu_memory_mib),
        min_gpu_count=int(msg.min_gpu_count),
        gpu_model=msg.gpu_model,
    )


def _job_ref(signer: str, job_id: int) -> tuple[bytes, int]:
    a = addr(signer, "signer")
    if job_id == 0:
        raise ErrInvalidJob("job_id is required (ids start at 1)")
    return a, int(job_id)


def validate_cancel_job(msg: MsgCancelJob) -> CancelJob:
    return CancelJob(*_job_ref(msg.poster, msg.job_id))


def validate_claim_job(msg: MsgClaimJob) -> ClaimJob:
    return ClaimJob(*_job_ref(msg.worker, msg.job_id))


def validate_submit_result(msg: MsgSubmitResult) -> SubmitResult:
    worker = addr(msg.worker, "worker")
    if msg.job_id == 0:
        raise ErrInvalidResult("job_id is required (ids start at 1)")
    out = hash32(msg.output_hash, "output_hash", ErrInvalidResult)
    if len(msg.artifact_ref) > MAX_TEXT:
        raise ErrInvalidResult(f"artifact_ref is over {MAX_TEXT} characters")
    if msg.compute_units == 0:
        raise ErrInvalidResult("compute_units must be positive")
    if not msg.HasField("receipt"):
        raise ErrInvalidResult("the signed execution receipt is required")
    r = msg.receipt
    if not r.image_digest or len(r.image_digest) > MAX_TEXT:
        raise ErrInvalidResult("receipt.image_digest is required (at most 256 characters)")
    model_hash = hash32(r.model_hash, "receipt.model_hash", ErrInvalidResult)
    input_hash = hash32(r.input_hash, "receipt.input_hash", ErrInvalidResult)
    if hash32(r.output_hash, "receipt.output_hash", ErrInvalidResult) != out:
        raise ErrInvalidResult("receipt.output_hash differs from output_hash")
    if len(r.signature) != 64:
        raise ErrInvalidResult("receipt.signature must be 64 bytes (secp256k1 r‖s)")
    receipt = Receipt(
        image_digest=r.image_digest,
        model_hash=model_hash,
        input_hash=input_hash,
        output_hash=out,
        signature=bytes(r.signature),
    )
    return SubmitResult(
        worker=worker,
        job_id=int(msg.job_id),
        output_hash=out,
        artifact_ref=msg.artifact_ref,
        compute_units=int(msg.compute_units),
        receipt=receipt,
    )


def validate_release(msg: MsgReleaseJob) -> ReleaseJob:
    worker, job_id = _job_ref(msg.worker, msg.job_id)
    if len(msg.reason) > MAX_TEXT:
        raise ErrInvalidJob(f"reason is over {MAX_TEXT} characters")
    return ReleaseJob(worker, job_id, msg.reason, bool(msg.retry))
