"""Params of the training module, changed only by the platform authority.

``lora_targets``: the module names a training may adapt (the attention and MLP
projections of GPT-2 and of llama-style causal LMs, tiny-lm's included: what
``compute.runtime.tasks`` adapts for lora-train). ``max_shard_attempts``: how
many times one shard (or a round's aggregate) is posted before it is dropped
(a shard) or the training fails (an aggregate)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from chain.params import params_from_json
from modules.training.errors import ErrInvalidParams

LORA_TARGETS = (
    "c_attn",
    "c_fc",
    "c_proj",
    "down_proj",
    "gate_proj",
    "k_proj",
    "o_proj",
    "q_proj",
    "up_proj",
    "v_proj",
)


@dataclass(frozen=True)
class Params:
    max_rank: int = 64
    max_shards: int = 32
    max_rounds: int = 50
    max_shard_attempts: int = 3
    max_targets: int = 16
    lora_targets: tuple[str, ...] = LORA_TARGETS

    def __post_init__(self) -> None:
        # read back from JSON (the store, genesis, MsgUpdateParams) as a list
        if isinstance(self.lora_targets, list):
            object.__setattr__(self, "lora_targets", tuple(self.lora_targets))

    def validate(self) -> None:
        t = self.lora_targets
        if (
            not isinstance(t, tuple)
            or not t
            or any(not isinstance(x, str) or not 0 < len(x) <= 64 for x in t)
        ):
            raise ErrInvalidParams(f"lora_targets must be a list of module names, got {t!r:.100}")
        if len(set(t)) != len(t):
            raise ErrInvalidParams("lora_targets lists a name twice")
        for f in fields(self):
            if f.name == "lora_targets":
                continue
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ErrInvalidParams(f"{f.name} must be a positive integer, got {v!r}")

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["lora_targets"] = list(self.lora_targets)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Params:
        return params_from_json(cls, d, ErrInvalidParams, "training")
