"""Which jobs this worker claims: task types, models, price floor, hardware, capacity.

The chain enforces eligibility too (``modules/jobs/eligibility.py``); the
policy applies the same rules first, plus the operator's own (a price floor,
a subset of models), so the worker claims only what it will win and run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from chain.coins import DENOM

LORA_TRAIN = "lora-train"
# The training module's internal task types (``modules/training``): one shard's local
# training of a round, and the round's aggregate. Only that module posts them, and a
# model that serves lora-train may run them, so a worker that serves lora-train
# advertises (registers) both.
TRAINING_TASKS = ("lora-shard", "lora-aggregate")


def advertised(types: Iterable[str]) -> list[str]:
    """``types`` (sorted) and, with ``lora-train`` among them, the training tasks that
    the chain's jobs module knows (a chain without them would refuse the registration)."""
    from modules.jobs import params

    out = set(types)
    if LORA_TRAIN in out:
        known = set(params.TASK_TYPES) | set(getattr(params, "INTERNAL_TASK_TYPES", ()))
        out |= {t for t in TRAINING_TASKS if t in known}
    return sorted(out)


def unregistered(registered: Iterable[str]) -> list[str]:
    """The task types a worker registered for ``registered`` would also advertise today
    but has not (a worker registered for lora-train before the chain had distributed
    training): jobs of those types are never offered to it until it registers again."""
    have = set(registered)
    return [t for t in advertised(have) if t not in have]


@dataclass(frozen=True)
class JobInfo:
    """What a claim decision needs, from a JobPosted event or a job query."""

    id: int
    task_type: str
    model: str
    max_price: int
    poster: str = ""
    min_gpu_memory_mib: int = 0
    min_gpu_count: int = 0
    gpu_model: str = ""
    state: str = "queued"

    @classmethod
    def from_event(cls, attrs: dict[str, str]) -> JobInfo:
        return cls(
            id=int(attrs["job_id"]),
            task_type=attrs.get("task_type", ""),
            model=attrs.get("model", ""),
            max_price=_avcn(attrs.get("max_price", "0")),
            poster=attrs.get("poster", ""),
            min_gpu_memory_mib=int(attrs.get("min_gpu_memory_mib") or 0),
            min_gpu_count=int(attrs.get("min_gpu_count") or 0),
        )

    @classmethod
    def from_query(cls, job: dict[str, Any]) -> JobInfo:
        return cls(
            id=int(job["id"]),
            task_type=str(job["task_type"]),
            model=str(job["model"]),
            max_price=int(job["max_price"]),
            poster=str(job.get("poster", "")),
            min_gpu_memory_mib=int(job.get("min_gpu_memory_mib") or 0),
            min_gpu_count=int(job.get("min_gpu_count") or 0),
            gpu_model=str(job.get("gpu_model") or ""),
            state=str(job.get("state", "queued")),
        )


def _avcn(text: str) -> int:
    t = text.strip()
    return int(t.removesuffix(DENOM)) if t.removesuffix(DENOM).isdigit() else 0


@dataclass(frozen=True)
class ClaimPolicy:
    address: str
    task_types: frozenset[str]
    models: frozenset[str]
    price_floor: int
    max_concurrent: int
    memory_mib: int
    gpu_count: int
    gpu_model: str
    model_memory: tuple[tuple[str, int], ...] = ()  # model id -> min GPU memory (MiB)

    def refuse(self, job: JobInfo) -> str | None:
        """Why this worker would not claim ``job``; None when it would."""
        if job.state != "queued":
            return f"the job is {job.state}"
        if job.poster and job.poster == self.address:
            return "this worker posted it"
        if job.model not in self.models:
            return f"model {job.model} is not served here"
        if job.task_type not in self.task_types:
            return f"task type {job.task_type} is not run here"
        if job.max_price < self.price_floor:
            return f"max price {job.max_price}{DENOM} is under the floor {self.price_floor}{DENOM}"
        need = max(job.min_gpu_memory_mib, dict(self.model_memory).get(job.model, 0))
        if need > self.memory_mib:
            return f"it needs {need} MiB of GPU memory; this worker has {self.memory_mib}"
        if job.min_gpu_count > self.gpu_count:
            return f"it needs {job.min_gpu_count} GPUs; this worker has {self.gpu_count}"
        if job.gpu_model and job.gpu_model.lower() not in self.gpu_model.lower():
            return f"it needs a {job.gpu_model} GPU"
        return None
