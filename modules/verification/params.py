"""Params of the verification module; the platform authority changes them.

Sampling rate as a function of the worker's reputation score (bps, 0..10000):

    rate_bps(score) = min(max_sample_bps,
                          base_sample_bps + (10000 - score) × low_rep_factor_bps / 10000)

With the defaults: 10 % at score 100.00, 30 % at 50.00, 50 % at 0 (the cap).

Quorum: a verdict stands as soon as the stake that attested it reaches
``quorum_bps`` of the stake of all active oracles (``stake × 10000 ≥
quorum_bps × total``; 6666 makes two of three equal oracles enough and one of
two not). If ``attest_window_blocks`` pass without that, the window's rule
decides (see ``verdict.py``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from chain.params import params_from_json
from modules.verification.errors import ErrInvalidParams

BPS = 10_000


@dataclass(frozen=True)
class Params:
    challenge_window_blocks: int = 20  # an unpicked result settles this long after submission
    base_sample_bps: int = 1000
    low_rep_factor_bps: int = 4000
    max_sample_bps: int = 5000
    attest_window_blocks: int = 300  # how long a picked job waits for a quorum
    quorum_bps: int = 6666
    window_min_stake_bps: int = 3334  # share of oracle stake that must attest for the window rule
    similarity_threshold_bps: int = 9500
    canary_rate_bps: int = 500  # the share of jobs oracles post as canaries (they read this)
    canary_ttl_blocks: int = 100_000  # an unrevealed commitment is dropped after this

    def validate(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ErrInvalidParams(f"{f.name} must be a non-negative integer, got {v!r}")
        for name in (
            "base_sample_bps",
            "low_rep_factor_bps",
            "max_sample_bps",
            "quorum_bps",
            "window_min_stake_bps",
            "similarity_threshold_bps",
            "canary_rate_bps",
        ):
            if getattr(self, name) > BPS:
                raise ErrInvalidParams(f"{name} is in basis points: at most {BPS}")
        if self.quorum_bps <= BPS // 2:
            raise ErrInvalidParams("quorum_bps must be over 5000 so two verdicts cannot both stand")
        if min(self.challenge_window_blocks, self.attest_window_blocks, self.canary_ttl_blocks) < 1:
            raise ErrInvalidParams(
                "challenge_window_blocks, attest_window_blocks and canary_ttl_blocks must be ≥ 1"
                " (a result is drawn in the block after it lands, before its window can end)"
            )

    def sample_rate_bps(self, score_bps: int) -> int:
        score = min(max(score_bps, 0), BPS)
        extra = (BPS - score) * self.low_rep_factor_bps // BPS
        return min(self.max_sample_bps, self.base_sample_bps + extra)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Params:
        return params_from_json(cls, d, ErrInvalidParams, "verification")
