"""Params of the drip module, changed only by the platform authority."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from chain.coins import DECIMALS
from chain.params import params_from_json
from modules.drip.errors import ErrInvalidParams

VCN = 10**DECIMALS


@dataclass(frozen=True)
class Params:
    """``drip_amount`` avcn per drip; ``max_drips_per_block`` bounds how fast
    anyone (a crowd of fresh keys included) can drain the pool;
    ``claim_gas_limit`` is the most gas a sponsored (fee-free) claim may ask."""

    drip_amount: int = 10 * VCN
    max_drips_per_block: int = 4
    claim_gas_limit: int = 200_000

    def validate(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ErrInvalidParams(f"{f.name} must be a positive integer, got {v!r}")

    def to_json(self) -> dict[str, Any]:
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Params:
        return params_from_json(cls, d, ErrInvalidParams, "drip", int_strings=True)
