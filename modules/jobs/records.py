"""What the jobs store holds: jobs, workers and models, with their canonical encodings.

Records are stored as compact JSON with sorted keys; bytes fields are hex (the
inline input base64), so an exported genesis reads the same as the store.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

# An inline input and spec longer than this (bytes, together) are stored once under
# their own key rather than in the record, so the claim, the result and the
# settlement do not rewrite (and pay gas for) a few kilobytes each.
PAYLOAD_IN_RECORD = 256

# Job states. Open states hold the job's max price in escrow; final ones hold nothing.
QUEUED = "queued"  # waiting in the priority queue for a claim
CLAIMED = "claimed"  # a worker runs it; its result deadline runs
SUBMITTED = "submitted"  # result in; the sampling draw and challenge window run
CHECKING = "checking"  # picked for checking; waits for oracle attestations
SETTLED = "settled"  # passed: price consumed, worker paid, rest refunded
REJECTED = "rejected"  # failed verification (cheating): poster refunded, worker punished
CANCELLED = "cancelled"  # cancelled by the poster before a claim: refunded
EXPIRED = "expired"  # no claim in time, or too many missed deadlines: refunded
FAILED = "failed"  # a worker reported the job cannot run (bad spec/input/weights): refunded

STATES = (QUEUED, CLAIMED, SUBMITTED, CHECKING, SETTLED, REJECTED, CANCELLED, EXPIRED, FAILED)
OPEN_STATES = (QUEUED, CLAIMED, SUBMITTED, CHECKING)
STATE_BYTE = {s: bytes([i + 1]) for i, s in enumerate(STATES)}


def _dumps(d: dict[str, Any]) -> bytes:
    return json.dumps(d, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Receipt:
    """What the worker signs about an execution (see ``receipt.sign_bytes``)."""

    image_digest: str
    model_hash: bytes
    input_hash: bytes
    output_hash: bytes
    signature: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "image_digest": self.image_digest,
            "model_hash": self.model_hash.hex(),
            "input_hash": self.input_hash.hex(),
            "output_hash": self.output_hash.hex(),
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Receipt:
        return cls(
            d["image_digest"],
            bytes.fromhex(d["model_hash"]),
            bytes.fromhex(d["input_hash"]),
            bytes.fromhex(d["output_hash"]),
            bytes.fromhex(d["signature"]),
        )


@dataclass(frozen=True)
class Job:
    id: int
    poster: bytes
    task_type: str
    model: str
    input_hash: bytes
    max_price: int
    priority: int
    claim_blocks: int
    result_blocks: int
    posted_height: int
    claim_deadline: int
    inline_input: bytes = b""
    spec: str = ""
    min_gpu_memory_mib: int = 0
    min_gpu_count: int = 0
    gpu_model: str = ""
    state: str = QUEUED
    worker: bytes = b""
    price: int = 0
    claimed_height: int = 0
    result_deadline: int = 0
    attempts: int = 0
    last_timeout_worker: bytes = b""
    submitted_height: int = 0
    output_hash: bytes = b""
    artifact_ref: str = ""
    compute_units: int = 0
    receipt: Receipt | None = None
    finished_height: int = 0
    paid: int = 0
    burned: int = 0
    refunded: int = 0
    last_error: str = ""

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def escrow(self) -> int:
        """What the escrow account holds for this job."""
        return self.max_price if self.is_open else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "poster": self.poster.hex(),
            "task_type": self.task_type,
            "model": self.model,
            "input_hash": self.input_hash.hex(),
            "inline_input": base64.b64encode(self.inline_input).decode(),
            "spec": self.spec,
            "max_price": str(self.max_price),
            "priority": self.priority,
            "claim_blocks": self.claim_blocks,
            "result_blocks": self.result_blocks,
            "min_gpu_memory_mib": self.min_gpu_memory_mib,
            "min_gpu_count": self.min_gpu_count,
            "gpu_model": self.gpu_model,
            "posted_height": self.posted_height,
            "claim_deadline": self.claim_deadline,
            "state": self.state,
            "worker": self.worker.hex(),
            "price": str(self.price),
            "claimed_height": self.claimed_height,
            "result_deadline": self.result_deadline,
            "attempts": self.attempts,
            "last_timeout_worker": self.last_timeout_worker.hex(),
            "submitted_height": self.submitted_height,
            "output_hash": self.output_hash.hex(),
            "artifact_ref": self.artifact_ref,
            "compute_units": str(self.compute_units),
            "receipt": None if self.receipt is None else self.receipt.to_json(),
            "finished_height": self.finished_height,
            "paid": str(self.paid),
            "burned": str(self.burned),
            "refunded": str(self.refunded),
            "last_error": self.last_error,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Job:
        r = d.get("receipt")
        return cls(
            id=int(d["id"]),
            poster=bytes.fromhex(d["poster"]),
            task_type=d["task_type"],
            model=d["model"],
            input_hash=bytes.fromhex(d["input_hash"]),
            inline_input=base64.b64decode(d.get("inline_input", "")),
            spec=d.get("spec", ""),
            max_price=int(d["max_price"]),
            priority=int(d["priority"]),
            claim_blocks=int(d["claim_blocks"]),
            result_blocks=int(d["result_blocks"]),
            min_gpu_memory_mib=int(d.get("min_gpu_memory_mib", 0)),
            min_gpu_count=int(d.get("min_gpu_count", 0)),
            gpu_model=d.get("gpu_model", ""),
            posted_height=int(d["posted_height"]),
            claim_deadline=int(d["claim_deadline"]),
            state=d["state"],
            worker=bytes.fromhex(d.get("worker", "")),
            price=int(d.get("price", 0)),
            claimed_height=int(d.get("claimed_height", 0)),
            result_deadline=int(d.get("result_deadline", 0)),
            attempts=int(d.get("attempts", 0)),
            last_timeout_worker=bytes.fromhex(d.get("last_timeout_worker", "")),
            submitted_height=int(d.get("submitted_height", 0)),
            output_hash=bytes.fromhex(d.get("output_hash", "")),
            artifact_ref=d.get("artifact_ref", ""),
            compute_units=int(d.get("compute_units", 0)),
            receipt=None if r is None else Receipt.from_json(r),
            finished_height=int(d.get("finished_height", 0)),
            paid=int(d.get("paid", 0)),
            burned=int(d.get("burned", 0)),
            refunded=int(d.get("refunded", 0)),
            last_error=d.get("last_error", ""),
        )

    @property
    def payload_apart(self) -> bool:
        """Whether the inline input and spec are stored once, apart from the record."""
        return len(self.inline_input) + len(self.spec) > PAYLOAD_IN_RECORD

    def payload(self) -> bytes:
        return json.dumps(
            [base64.b64encode(self.inline_input).decode(), self.spec], separators=(",", ":")
        ).encode()

    def encode(self) -> bytes:
        """The store encoding: a positional JSON array (jobs are read and written by
        every message, so this is the hot path; ``to_json`` is the readable form).
        A large inline input and spec are left out (None): ``payload()`` holds them."""
        r = self.receipt
        apart = self.payload_apart
        return json.dumps(
            [
                self.id,
                self.poster.hex(),
                self.task_type,
                self.model,
                self.input_hash.hex(),
                None if apart else base64.b64encode(self.inline_input).decode(),
                None if apart else self.spec,
                str(self.max_price),
                self.priority,
                self.claim_blocks,
                self.result_blocks,
                self.min_gpu_memory_mib,
                self.min_gpu_count,
                self.gpu_model,
                self.posted_height,
                self.claim_deadline,
                self.state,
                self.worker.hex(),
                str(self.price),
                self.claimed_height,
                self.result_deadline,
                self.attempts,
                self.last_timeout_worker.hex(),
                self.submitted_height,
                self.output_hash.hex(),
                self.artifact_ref,
                self.compute_units,
                None
                if r is None
                else [
                    r.image_digest,
                    r.model_hash.hex(),
                    r.input_hash.hex(),
                    r.output_hash.hex(),
                    r.signature.hex(),
                ],
                self.finished_height,
                str(self.paid),
                str(self.burned),
                str(self.refunded),
                self.last_error,
            ],
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, raw: bytes, load_payload: Callable[[int], bytes | None] | None = None) -> Job:
        """From ``encode``'s bytes; ``load_payload(job id)`` reads a payload kept apart."""
        v = json.loads(raw)
        if v[5] is None:
            payload = None if load_payload is None else load_payload(v[0])
            if payload is None:
                raise ValueError(f"job {v[0]} keeps its input apart and it was not found")
            v[5], v[6] = json.loads(payload)
        r = v[27]
        h = bytes.fromhex
        return cls(
            v[0],
            h(v[1]),
            v[2],
            v[3],
            h(v[4]),
            int(v[7]),
            v[8],
            v[9],
            v[10],
            v[14],
            v[15],
            base64.b64decode(v[5]),
            v[6],
            v[11],
            v[12],
            v[13],
            v[16],
            h(v[17]),
            int(v[18]),
            v[19],
            v[20],
            v[21],
            h(v[22]),
            v[23],
            h(v[24]),
            v[25],
            v[26],
            None if r is None else Receipt(r[0], h(r[1]), h(r[2]), h(r[3]), h(r[4])),
            v[28],
            int(v[29]),
            int(v[30]),
            int(v[31]),
            v[32],
        )

    def with_(self, **changes: Any) -> Job:
        """A copy with ``changes`` (what ``dataclasses.replace`` does, several times faster:
        jobs change on every message)."""
        unknown = changes.keys() - _JOB_FIELDS
        if unknown:
            raise TypeError(f"Job has no fields {sorted(unknown)}")
        new = object.__new__(Job)
        d = new.__dict__
        d.update(self.__dict__)
        d.update(changes)
        return new


_JOB_FIELDS = frozenset(f.name for f in fields(Job))


@dataclass(frozen=True)
class Worker:
    """A registered GPU operator and what it can run (its bond lives in staking)."""

    address: bytes
    gpu_model: str
    memory_mib: int
    gpu_count: int
    task_types: tuple[str, ...]
    models: tuple[str, ...]
    price_floor: int
    max_concurrent: int
    registered_height: int
    active: int = 0  # jobs it holds in state CLAIMED

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address.hex(),
            "gpu_model": self.gpu_model,
            "memory_mib": self.memory_mib,
            "gpu_count": self.gpu_count,
            "task_types": list(self.task_types),
            "models": list(self.models),
            "price_floor": str(self.price_floor),
            "max_concurrent": self.max_concurrent,
            "registered_height": self.registered_height,
            "active": self.active,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Worker:
        return cls(
            address=bytes.fromhex(d["address"]),
            gpu_model=d["gpu_model"],
            memory_mib=int(d["memory_mib"]),
            gpu_count=int(d["gpu_count"]),
            task_types=tuple(d["task_types"]),
            models=tuple(d["models"]),
            price_floor=int(d["price_floor"]),
            max_concurrent=int(d["max_concurrent"]),
            registered_height=int(d["registered_height"]),
            active=int(d.get("active", 0)),
        )

    def encode(self) -> bytes:
        """Positional, like ``Job.encode``: read and written by every claim and result."""
        return json.dumps(
            [
                self.address.hex(),
                self.gpu_model,
                self.memory_mib,
                self.gpu_count,
                self.task_types,
                self.models,
                str(self.price_floor),
                self.max_concurrent,
                self.registered_height,
                self.active,
            ],
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Worker:
        v = json.loads(raw)
        return cls(
            bytes.fromhex(v[0]),
            v[1],
            v[2],
            v[3],
            tuple(v[4]),
            tuple(v[5]),
            int(v[6]),
            v[7],
            v[8],
            v[9],
        )


@dataclass(frozen=True)
class Model:
    """A model the marketplace runs: its weights and config are content addresses.

    ``owner`` is the account that registered it with ``MsgRegisterOwnModel``
    (empty for the authority's models and genesis ones), with its ``kind`` and
    ``total_bytes``; these three are written only when set, so a record of the
    authority reads and hashes as before they existed.
    """

    id: str
    task_types: tuple[str, ...]
    weights_sha256: bytes
    config_sha256: bytes
    min_gpu_memory_mib: int
    registered_height: int = 0
    description: str = ""
    owner: bytes = b""
    kind: str = ""
    total_bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "task_types": list(self.task_types),
            "weights_sha256": self.weights_sha256.hex(),
            "config_sha256": self.config_sha256.hex(),
            "min_gpu_memory_mib": self.min_gpu_memory_mib,
            "registered_height": self.registered_height,
            "description": self.description,
        }
        if self.owner:
            d["owner"] = self.owner.hex()
        if self.kind:
            d["kind"] = self.kind
        if self.total_bytes:
            d["total_bytes"] = str(self.total_bytes)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Model:
        return cls(
            id=d["id"],
            task_types=tuple(d["task_types"]),
            weights_sha256=bytes.fromhex(d["weights_sha256"]),
            config_sha256=bytes.fromhex(d["config_sha256"]),
            min_gpu_memory_mib=int(d["min_gpu_memory_mib"]),
            registered_height=int(d.get("registered_height", 0)),
            description=d.get("description", ""),
            owner=bytes.fromhex(d.get("owner", "")),
            kind=d.get("kind", ""),
            total_bytes=int(d.get("total_bytes", 0)),
        )

    def encode(self) -> bytes:
        return _dumps(self.to_json())

    @classmethod
    def decode(cls, raw: bytes) -> Model:
        return cls.from_json(json.loads(raw))
