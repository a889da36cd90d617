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

    def module_permissions(self, ctx: Ctx, name: str) -> tuple[str, ...] | None:
        acc = state.get_module_account(ctx, name)
        return None if acc is None else acc.permissions

    def authority(self, ctx: Ctx) -> str:
        return state.get_params(ctx).authority
