"""Params of the staking module, changed only by the platform authority."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from chain.coins import DECIMALS
from chain.params import params_from_json
from modules.staking.errors import ErrInvalidParams

VCN = 10**DECIMALS


@dataclass(frozen=True)
class Params:
    """Bond minimums are in avcn; periods in blocks (1 s blocks on the devnet)."""

    min_bond_worker: int = 1_000 * VCN
    min_bond_oracle: int = 10_000 * VCN
    min_bond_validator: int = 100_000 * VCN
    unbonding_blocks: int = 86_400  # a day at 1 s blocks; slashable until released
    jail_blocks: int = 3_600  # how long caught cheating keeps a worker out
    max_unbonding_entries: int = 7  # per (address, role): bounds the cost of a slash
    # Share of every slash paid to the addresses that proved the fault
    # (the attesting oracles), split by weight; the rest goes to the treasury.
    slash_reward_share_bps: int = 1_000

    def min_bond(self, role: str) -> int:
        v: int = getattr(self, f"min_bond_{role}")
        return v

    def validate(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ErrInvalidParams(f"{f.name} must be a non-negative integer, got {v!r}")
        if self.min_bond_worker < 1 or self.min_bond_oracle < 1 or self.min_bond_validator < 1:
            raise ErrInvalidParams("every min_bond must be at least 1avcn")
        if self.max_unbonding_entries < 1:
            raise ErrInvalidParams("max_unbonding_entries must be at least 1")
        if self.slash_reward_share_bps > 10_000:
            raise ErrInvalidParams("slash_reward_share_bps is at most 10000 (100 %)")

    def to_json(self) -> dict[str, Any]:
        # Amounts travel as strings: avcn values pass 2^53 and JSON readers round them.
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Params:
        return params_from_json(cls, d, ErrInvalidParams, "staking", int_strings=True)
