"""AccountKeeper: what other modules get of auth (see their ``expected.py``)."""

from __future__ import annotations

from chain.context import Ctx
from modules.auth import state
from modules.auth.state import Account


class AccountKeeper:
    """Accounts by address, module account permissions and the platform authority."""

    def ensure_account(self, ctx: Ctx, addr: bytes) -> Account:
        return state.ensure_account(ctx, addr)

    def get_account(self, ctx: Ctx, addr: bytes) -> Account | None:
        return state.get_account(ctx, addr)

    def account_exists(self, ctx: Ctx, addr: bytes) -> bool:
        return state.get_account(ctx, addr) is not None

    def open_sponsored(self, ctx: Ctx, addr: bytes, pubkey: bytes) -> None:
        """A new account whose first tx (sequence 0) someone else paid for is running."""
        state.new_account(ctx, addr, sequence=1, pubkey=pubkey)

    def module_permissions(self, ctx: Ctx, name: str) -> tuple[str, ...] | None:
        acc = state.get_module_account(ctx, name)
        return None if acc is None else acc.permissions

    def authority(self, ctx: Ctx) -> str:
        return state.get_params(ctx).authority
