"""The slice of staking that reputation uses."""

from __future__ import annotations

from typing import Protocol

from chain.context import Ctx


class StakingKeeper(Protocol):
    def bonded(self, ctx: Ctx, addr: bytes, role: str) -> int: ...
    def is_tombstoned(self, ctx: Ctx, addr: bytes, role: str) -> bool: ...
