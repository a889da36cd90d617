"""Params of the mint module; only the platform authority changes the emission."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from chain.coins import DECIMALS, MAX_AMOUNT
from chain.params import params_from_json
from modules.mint.errors import ErrInvalidParams

VCN = 10**DECIMALS


@dataclass(frozen=True)
class Params:
    epoch_blocks: int = 3_600  # an hour at 1 s blocks
    emission_per_epoch: int = 1_000 * VCN  # avcn minted per epoch with verified work; 0 stops it

    def validate(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ErrInvalidParams(f"{f.name} must be a non-negative integer, got {v!r}")
        if self.epoch_blocks < 1:
            raise ErrInvalidParams("epoch_blocks must be at least 1")
        if self.emission_per_epoch > MAX_AMOUNT:
            raise ErrInvalidParams("emission_per_epoch is over 2^256-1")

    def to_json(self) -> dict[str, Any]:
        # Amounts travel as strings: avcn values pass 2^53 and JSON readers round them.
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Params:
        return params_from_json(cls, d, ErrInvalidParams, "mint", int_strings=True)
