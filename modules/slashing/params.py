"""Params of the slashing module, changed only by the platform authority.

Values named ``*_bps`` are basis points (10000 = 100 %, or 100.00
reputation points); the others count blocks. A caught worker's jail length is
staking's ``jail_blocks``; the reward share paid to the attesting oracles is
staking's ``slash_reward_share_bps``.

The validator params apply under CometBFT (``keeper.py``): a validator that
signs fewer than ``min_signed_per_window_bps`` of the last
``signed_blocks_window`` blocks is jailed for ``downtime_jail_blocks`` and
loses ``slash_fraction_downtime_bps`` of its bond; one caught signing twice
(CometBFT's evidence) loses ``slash_fraction_double_sign_bps`` and is
tombstoned.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from chain.params import params_from_json
from modules.slashing.errors import ErrInvalidParams

# each validator's window is a bitmap rewritten every block: 1 250 bytes at most
MAX_SIGNED_BLOCKS_WINDOW = 10_000
MAX_JAIL_BLOCKS = 2**62


@dataclass(frozen=True)
class Params:
    cheat_penalty_bps: int = 2_000  # −20 reputation points per caught cheat
    slash_below_bps: int = 5_000  # score under 50 after the penalty: slash
    slash_fraction_bps: int = 1_000  # … 10 % of the worker's bond and unbonding
    tombstone_below_bps: int = 3_000  # score under 30 after the penalty: banned for good
    oracle_penalty_bps: int = 500  # −5 points for an attestation against the quorum
    # validators under CometBFT
    signed_blocks_window: int = 100  # the sliding window of blocks that counts missed ones
    min_signed_per_window_bps: int = 5_000  # sign at least half of the window …
    downtime_jail_blocks: int = 600  # … or be jailed this long
    slash_fraction_downtime_bps: int = 1  # … and lose 0.01 % of the validator bond
    slash_fraction_double_sign_bps: int = 500  # a double sign: 5 %, and tombstoned

    def validate(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool):
                raise ErrInvalidParams(f"{f.name} must be an integer, got {v!r}")
            if f.name.endswith("_bps") and not 0 <= v <= 10_000:
                raise ErrInvalidParams(f"{f.name} must be an integer in 0..10000, got {v!r}")
        if not 1 <= self.signed_blocks_window <= MAX_SIGNED_BLOCKS_WINDOW:
            raise ErrInvalidParams(
                f"signed_blocks_window must be in 1..{MAX_SIGNED_BLOCKS_WINDOW}, "
                f"got {self.signed_blocks_window}"
            )
        if not 1 <= self.downtime_jail_blocks <= MAX_JAIL_BLOCKS:
            raise ErrInvalidParams(
                f"downtime_jail_blocks must be in 1..{MAX_JAIL_BLOCKS}, "
                f"got {self.downtime_jail_blocks}"
            )

    def max_missed_blocks(self) -> int:
        """The most blocks of the window a validator may miss and stay in the set."""
        w = self.signed_blocks_window
        return w - w * self.min_signed_per_window_bps // 10_000

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Params:
        return params_from_json(cls, d, ErrInvalidParams, "slashing")
