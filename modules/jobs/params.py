"""Params of the jobs module; the platform authority changes them with MsgUpdateParams.

Money: on a successful verdict the job's price is consumed: ``burn_bps`` of it
is burned, the rest goes to the treasury, and the treasury pays the worker
``payout_bps`` of the price, so the treasury keeps ``10000 - burn_bps -
payout_bps`` of it. Windows are in blocks.

Models: the authority registers any model for free (``MsgRegisterModel``); any
account may register its own (``MsgRegisterOwnModel``, "bring your own model")
by paying ``model_registration_fee`` avcn, split as a consumed price is
(``burn_bps`` burned, the rest to the treasury), for a model of one of
``model_kinds`` whose files total at most ``max_model_bytes``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from chain.params import params_from_json
from modules.jobs.errors import ErrInvalidParams

TASK_TYPES = ("text-generation", "embedding", "lora-train")
# Task types only a module posts (``JobsKeeper.post_for_module``; MsgPostJob refuses
# them): the training module's shard and aggregate jobs (modules/training). A model
# runs them iff it serves INTERNAL_OF[t]; a worker registers them like any task type.
INTERNAL_TASK_TYPES = ("lora-shard", "lora-aggregate")
INTERNAL_OF = {"lora-shard": "lora-train", "lora-aggregate": "lora-train"}
WORKER_TASK_TYPES = TASK_TYPES + INTERNAL_TASK_TYPES
# The task types each model kind serves: what the job runtime loads
# (compute.runtime.models.KIND_TASKS, which a test holds equal to this).
MODEL_KIND_TASKS: dict[str, tuple[str, ...]] = {
    "causal-lm": ("lora-train", "text-generation"),
    "sentence-embedding": ("embedding",),
}
VCN = 10**18


@dataclass(frozen=True)
class Params:
    burn_bps: int = 1000
    payout_bps: int = 8000
    min_price: int = 1  # avcn; a job must offer at least this
    max_priority: int = 9
    max_inline_input_bytes: int = 4096
    max_spec_bytes: int = 4096
    default_claim_blocks: int = 600  # a job no one claims within this expires and is refunded
    default_result_blocks: int = 600  # a claimed job must get its result within this
    max_claim_blocks: int = 1_000_000
    max_result_blocks: int = 100_000
    max_attempts: int = 3  # missed deadlines and give-backs before a job expires
    max_compute_units: int = 10**15
    max_worker_models: int = 64
    max_concurrent_jobs: int = 1024
    max_page: int = 200
    model_registration_fee: int = 100 * VCN  # avcn an account pays to register its own model
    max_model_bytes: int = 16 << 30  # the files of a model registered by an account, in all
    model_kinds: tuple[str, ...] = ("causal-lm", "sentence-embedding")  # what accounts may add

    def __post_init__(self) -> None:
        # read back from JSON (the store, genesis, MsgUpdateParams) as a list
        if isinstance(self.model_kinds, list):
            object.__setattr__(self, "model_kinds", tuple(self.model_kinds))

    def validate(self) -> None:
        kinds = self.model_kinds
        if not isinstance(kinds, tuple) or any(
            not isinstance(k, str) or k not in MODEL_KIND_TASKS for k in kinds
        ):
            raise ErrInvalidParams(
                f"model_kinds must be a list of {sorted(MODEL_KIND_TASKS)}, got {kinds!r}"
            )
        if len(set(kinds)) != len(kinds):
            raise ErrInvalidParams("model_kinds lists a kind twice")
        for f in fields(self):
            if f.name == "model_kinds":
                continue
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ErrInvalidParams(f"{f.name} must be a non-negative integer, got {v!r}")
        if self.burn_bps + self.payout_bps > 10_000:
            raise ErrInvalidParams(
                f"burn_bps + payout_bps must be at most 10000 (the treasury cannot pay out "
                f"more than it received); got {self.burn_bps} + {self.payout_bps}"
            )
        if self.min_price < 1:
            raise ErrInvalidParams("min_price must be at least 1 avcn")
        for lo, hi in (
            (self.default_claim_blocks, self.max_claim_blocks),
            (self.default_result_blocks, self.max_result_blocks),
        ):
            if not 1 <= lo <= hi:
                raise ErrInvalidParams("deadline defaults must be ≥ 1 and ≤ their maximum")
        if self.max_attempts < 1 or self.max_page < 1 or self.max_concurrent_jobs < 1:
            raise ErrInvalidParams("max_attempts, max_page and max_concurrent_jobs must be ≥ 1")

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["model_kinds"] = list(self.model_kinds)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Params:
        return params_from_json(cls, d, ErrInvalidParams, "jobs")
