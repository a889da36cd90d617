"""The slice of bank that staking uses."""

from __future__ import annotations

from typing import Protocol

from chain.coins import Coins
from chain.context import Ctx


class BankKeeper(Protocol):
    def balance(self, ctx: Ctx, addr: bytes, denom: str) -> int: ...
    def send_to_module(self, ctx: Ctx, sender: bytes, module: str, coins: Coins) -> None: ...
    def send_from_module(self, ctx: Ctx, module: str, recipient: bytes, coins: Coins) -> None: ...
    def send_module_to_module(self, ctx: Ctx, src: str, dst: str, coins: Coins) -> None: ...
