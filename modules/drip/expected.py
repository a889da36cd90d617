"""The slices of auth and bank that the drip module uses."""

from __future__ import annotations

from typing import Protocol

from chain.coins import Coins
from chain.context import Ctx


class BankKeeper(Protocol):
    def balance(self, ctx: Ctx, addr: bytes, denom: str) -> int: ...
    def send_to_module(self, ctx: Ctx, sender: bytes, module: str, coins: Coins) -> None: ...
    def send_from_module(self, ctx: Ctx, module: str, recipient: bytes, coins: Coins) -> None: ...


class AccountKeeper(Protocol):
    def account_exists(self, ctx: Ctx, addr: bytes) -> bool: ...
    def open_sponsored(self, ctx: Ctx, addr: bytes, pubkey: bytes) -> None:
        """Create the account at ``addr`` with ``pubkey``, its sequence already used once."""
        ...
