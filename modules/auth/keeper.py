"""AccountKeeper: what other modules get of auth (see their ``expected.py``)."""

from __future__ import annotations

from dataclasses import replace

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
        return state.account_record(ctx, addr) is not None

    def open_sponsored(self, ctx: Ctx, addr: bytes, pubkey: bytes) -> None:
        """A new account whose first tx (sequence 0) someone else paid for is running."""
        state.new_account(ctx, addr, sequence=1, pubkey=pubkey)

    def module_permissions(self, ctx: Ctx, name: str) -> tuple[str, ...] | None:
        acc = state.get_module_account(ctx, name)
        return None if acc is None else acc.permissions

    def authority(self, ctx: Ctx) -> str:
        return state.get_params(ctx).authority

    # -- the EVM's view of an account (modules/evm): its nonce is the sequence --
    def sequence(self, ctx: Ctx, addr: bytes) -> int:
        return state.sequence_of(ctx, addr)

    def set_sequence(self, ctx: Ctx, addr: bytes, sequence: int) -> None:
        """The account's sequence (the EVM nonce); the account is made if new."""
        acc = state.ensure_account(ctx, addr)
        if acc.sequence != sequence:
            state.set_account(ctx, replace(acc, sequence=sequence))

    def remove_account(self, ctx: Ctx, addr: bytes) -> None:
        """Forget a keyless account: a contract destroyed in the tx that made it
        (EIP-6780). An account with a public key or a module account stays."""
        acc = state.get_account(ctx, addr)
        if acc is not None and acc.pubkey is None and acc.module is None:
            state.delete_account(ctx, addr)
