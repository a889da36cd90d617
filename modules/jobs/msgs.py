"""Messages of the jobs module and their stateless checks.

Hashes travel as lowercase hex strings (what people paste), amounts as decimal
strings of avcn (they may pass 2^64), signatures as raw bytes.
"""

from __future__ import annotations

import re
from typing import Any

from chain.bounded import InputError, load_json
from chain.coins import parse_amount
from chain.crypto import AddressError, from_bech32
from chain.errors import ErrInvalidAddress
from chain.proto import type_url
from modules.jobs import tx_pb2
from modules.jobs.errors import (
    ErrInvalidJob,
    ErrInvalidModel,
    ErrInvalidResult,
    ErrInvalidWorker,
)
from modules.jobs.keys import MAX_PRICE
from modules.jobs.params import TASK_TYPES

# The module's messages, generated from proto/vcoin/jobs/v1/tx.proto.
MsgRegisterModel = tx_pb2.MsgRegisterModel
MsgRegisterWorker = tx_pb2.MsgRegisterWorker
MsgPostJob = tx_pb2.MsgPostJob
MsgCancelJob = tx_pb2.MsgCancelJob
MsgClaimJob = tx_pb2.MsgClaimJob
ExecutionReceipt = tx_pb2.ExecutionReceipt
MsgSubmitResult = tx_pb2.MsgSubmitResult
MsgReleaseJob = tx_pb2.MsgReleaseJob

REGISTER_MODEL_URL = type_url(MsgRegisterModel)
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


def hash32(text: str, what: str, err: Any = ErrInvalidJob) -> bytes:
    if not isinstance(text, str) or not _HEX32.fullmatch(text):
        raise err(f"{what} must be a sha256 as 64 lowercase hex characters, got {text!r}")
    return bytes.fromhex(text)


def name(text: str, what: str, err: Any) -> str:
    if not isinstance(text, str) or not _NAME.fullmatch(text):
        raise err(f"{what} {text!r}: use 1-128 letters, digits or ._:/@+- (not first)")
    return text


def task_types(items: Any, err: Any) -> tuple[str, ...]:
    out = tuple(items)
    if not out:
        raise err(f"list at least one task type of {list(TASK_TYPES)}")
    for t in out:
        if t not in TASK_TYPES:
            raise err(f"unknown task type {t!r}; known: {list(TASK_TYPES)}")
    if len(set(out)) != len(out):
        raise err("task types are listed twice")
    return tuple(sorted(out))


def price(text: str, what: str, err: Any = ErrInvalidJob) -> int:
    try:
        n = parse_amount(text, what)
    except Exception as e:
        raise err(f"{what} {text!r} must be a whole number of avcn") from e
    if n > MAX_PRICE:
        raise err(f"{what} is over 2^128-1 avcn")
    return n


def validate_register_model(msg: Any) -> None:
    addr(msg.authority, "authority")
    name(msg.model_id, "model id", ErrInvalidModel)
    task_types(msg.task_types, ErrInvalidModel)
    hash32(msg.weights_sha256, "weights_sha256", ErrInvalidModel)
    hash32(msg.config_sha256, "config_sha256", ErrInvalidModel)
    if len(msg.description) > MAX_TEXT:
        raise ErrInvalidModel(f"description is over {MAX_TEXT} characters")


def validate_register_worker(msg: Any) -> None:
    addr(msg.worker, "worker")
    if len(msg.gpu_model) > MAX_TEXT:
        raise ErrInvalidWorker(f"gpu_model is over {MAX_TEXT} characters")
    if (msg.gpu_count == 0) != (msg.memory_mib == 0):
        raise ErrInvalidWorker("a CPU-only worker has gpu_count 0 and memory_mib 0; a GPU one both")
    task_types(msg.task_types, ErrInvalidWorker)
    if not msg.models:
        raise ErrInvalidWorker("list at least one model the worker serves")
    for m in msg.models:
        name(m, "model", ErrInvalidWorker)
    if len(set(msg.models)) != len(msg.models):
        raise ErrInvalidWorker("models are listed twice")
    price(msg.price_floor or "0", "price_floor", ErrInvalidWorker)
    if msg.max_concurrent < 1:
        raise ErrInvalidWorker("max_concurrent must be at least 1")


def validate_post_job(msg: Any) -> None:
    addr(msg.poster, "poster")
    if msg.task_type not in TASK_TYPES:
        raise ErrInvalidJob(f"unknown task type {msg.task_type!r}; known: {list(TASK_TYPES)}")
    name(msg.model, "model", ErrInvalidJob)
    if bool(msg.input_hash) == bool(msg.inline_input):
        raise ErrInvalidJob("give exactly one of input_hash (an artifact) or inline_input")
    if msg.input_hash:
        hash32(msg.input_hash, "input_hash")
    if msg.spec:
        try:
            spec = load_json(msg.spec, "spec", max_bytes=MAX_SPEC_PARSE_BYTES)
        except InputError as e:
            raise ErrInvalidJob(str(e)) from e
        if not isinstance(spec, dict):
            raise ErrInvalidJob("spec must be a JSON object")
    if price(msg.max_price, "max_price") == 0:
        raise ErrInvalidJob("max_price must be positive")
    if len(msg.gpu_model) > MAX_TEXT:
        raise ErrInvalidJob(f"gpu_model is over {MAX_TEXT} characters")


def validate_job_ref(msg: Any) -> None:
    addr(msg.poster if hasattr(msg, "poster") else msg.worker, "signer")
    if msg.job_id == 0:
        raise ErrInvalidJob("job_id is required (ids start at 1)")


def validate_submit_result(msg: Any) -> None:
    addr(msg.worker, "worker")
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
    hash32(r.model_hash, "receipt.model_hash", ErrInvalidResult)
    hash32(r.input_hash, "receipt.input_hash", ErrInvalidResult)
    if hash32(r.output_hash, "receipt.output_hash", ErrInvalidResult) != out:
        raise ErrInvalidResult("receipt.output_hash differs from output_hash")
    if len(r.signature) != 64:
        raise ErrInvalidResult("receipt.signature must be 64 bytes (secp256k1 r‖s)")


def validate_release(msg: Any) -> None:
    validate_job_ref(msg)
    if len(msg.reason) > MAX_TEXT:
        raise ErrInvalidJob(f"reason is over {MAX_TEXT} characters")
