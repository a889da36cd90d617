"""Params of the reputation module, changed only by the platform authority."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from chain.coins import DECIMALS
from chain.params import params_from_json
from modules.reputation.errors import ErrInvalidParams

VCN = 10**DECIMALS
MAX_WINDOW_SLOTS = 256


@dataclass(frozen=True)
class Params:
    """Uptime is counted in slots of ``heartbeat_interval_blocks``; a worker is
    up in a slot if it sent a heartbeat in it, and its uptime is the share of
    the last ``uptime_window_slots`` slots it was up in. ``*_reference_bond``
    is the bond at which stake weight reaches 1 (it grows linearly below)."""

    heartbeat_interval_blocks: int = 60
    uptime_window_slots: int = 60
    worker_reference_bond: int = 1_000 * VCN
    oracle_reference_bond: int = 10_000 * VCN

    def validate(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ErrInvalidParams(f"{f.name} must be a positive integer, got {v!r}")
        if self.uptime_window_slots > MAX_WINDOW_SLOTS:
            raise ErrInvalidParams(f"uptime_window_slots is at most {MAX_WINDOW_SLOTS}")

    def to_json(self) -> dict[str, Any]:
        # Amounts travel as strings: avcn values pass 2^53 and JSON readers round them.
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Params:
        return params_from_json(cls, d, ErrInvalidParams, "reputation", int_strings=True)
