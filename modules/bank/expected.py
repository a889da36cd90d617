"""The slice of auth that bank uses."""

from __future__ import annotations

from typing import Protocol

from chain.context import Ctx


class AccountKeeper(Protocol):
    def ensure_account(self, ctx: Ctx, addr: bytes) -> object: ...
    def module_permissions(self, ctx: Ctx, name: str) -> tuple[str, ...] | None: ...
