"""The slices of bank and staking that mint uses."""

from __future__ import annotations

from typing import Protocol

from chain.coins import Coins
from chain.context import Ctx


class BankKeeper(Protocol):
    def mint(self, ctx: Ctx, module: str, coins: Coins) -> None: ...
    def send_from_module(self, ctx: Ctx, module: str, recipient: bytes, coins: Coins) -> None: ...
    def send_module_to_module(self, ctx: Ctx, src: str, dst: str, coins: Coins) -> None: ...
    def balance(self, ctx: Ctx, addr: bytes, denom: str) -> int: ...


class StakingKeeper(Protocol):
    def is_tombstoned(self, ctx: Ctx, addr: bytes, role: str) -> bool: ...
