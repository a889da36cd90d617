"""The slices of staking and reputation that slashing uses."""

from __future__ import annotations

from typing import Protocol

from chain.context import Ctx


class StakingKeeper(Protocol):
    def bonded(self, ctx: Ctx, addr: bytes, role: str) -> int: ...
    def jail_blocks(self, ctx: Ctx) -> int: ...
    def jail(self, ctx: Ctx, addr: bytes, role: str, until_height: int) -> None: ...
    def jailed_until(self, ctx: Ctx, addr: bytes, role: str) -> int: ...
    def tombstone(self, ctx: Ctx, addr: bytes, role: str) -> None: ...
    def slash(
        self,
        ctx: Ctx,
        addr: bytes,
        role: str,
        bps: int,
        rewards: list[tuple[bytes, int]] | None = None,
    ) -> int: ...


class ReputationKeeper(Protocol):
    def score(self, ctx: Ctx, addr: bytes) -> int: ...
    def record_result(self, ctx: Ctx, addr: bytes, success: bool) -> None: ...
    def add_penalty(
        self, ctx: Ctx, addr: bytes, points_bps: int, reason: str = "penalty"
    ) -> None: ...
    def remove_penalty(
        self, ctx: Ctx, addr: bytes, points_bps: int, reason: str = "penalty withdrawn"
    ) -> None: ...
