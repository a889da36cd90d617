"""What auth needs from other modules: a way to read and write their params, and
a bank that takes the fee (the ante handler)."""

from __future__ import annotations

from typing import Any, Protocol

from chain.coins import Coins
from chain.context import Ctx


class ParamsOwner(Protocol):
    def get_params(self, ctx: Ctx) -> dict[str, Any]: ...
    def set_params(self, ctx: Ctx, params: dict[str, Any]) -> None: ...


class FeeBank(Protocol):
    def send_to_module(self, ctx: Ctx, sender: bytes, module: str, coins: Coins) -> None: ...
