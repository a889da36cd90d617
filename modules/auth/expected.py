"""What auth needs from other modules: a way to read and write their params."""

from __future__ import annotations

from typing import Any, Protocol

from chain.context import Ctx


class ParamsOwner(Protocol):
    def get_params(self, ctx: Ctx) -> dict[str, Any]: ...
    def set_params(self, ctx: Ctx, params: dict[str, Any]) -> None: ...
