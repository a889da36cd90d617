"""Params of the slashing module, changed only by the platform authority.

All values are basis points (10000 = 100 %, or 100.00 reputation points).
The jail length is staking's ``jail_blocks``; the reward share paid to the
attesting oracles is staking's ``slash_reward_share_bps``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from chain.params import params_from_json
from modules.slashing.errors import ErrInvalidParams


@dataclass(frozen=True)
class Params:
    cheat_penalty_bps: int = 2_000  # −20 reputation points per caught cheat
    slash_below_bps: int = 5_000  # score under 50 after the penalty: slash
    slash_fraction_bps: int = 1_000  # … 10 % of the worker's bond and unbonding
    tombstone_below_bps: int = 3_000  # score under 30 after the penalty: banned for good
    oracle_penalty_bps: int = 500  # −5 points for an attestation against the quorum

    def validate(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 10_000:
                raise ErrInvalidParams(f"{f.name} must be an integer in 0..10000, got {v!r}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Params:
        return params_from_json(cls, d, ErrInvalidParams, "slashing")
