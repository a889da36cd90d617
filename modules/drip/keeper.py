"""DripKeeper: the pool's rules, shared by the message handlers and the ante
that sponsors a new key's first claim."""

from __future__ import annotations

from chain.coins import DENOM
from chain.context import Ctx
from chain.crypto import module_address, to_bech32
from modules.drip import events, state
from modules.drip.errors import ErrAlreadyDripped, ErrPoolEmpty, ErrRateLimited
from modules.drip.expected import AccountKeeper, BankKeeper
from modules.drip.keys import POOL


class DripKeeper:
    def __init__(self, bank: BankKeeper, accounts: AccountKeeper) -> None:
        self.bank = bank
        self.accounts = accounts

    def pool_balance(self, ctx: Ctx) -> int:
        return self.bank.balance(ctx, module_address(POOL), DENOM)

    def fund(self, ctx: Ctx, depositor: bytes, amount: int) -> None:
        self.bank.send_to_module(ctx, depositor, POOL, ((DENOM, amount),))
        ctx.emit(events.pool_funded(depositor, amount, self.pool_balance(ctx)))

    def check_drip(self, ctx: Ctx, recipient: bytes) -> int:
        """The amount ``recipient`` may take now; raises why it may not."""
        p = state.get_params(ctx)
        at = state.dripped_at(ctx, recipient)
        if at is not None:
            raise ErrAlreadyDripped(f"{to_bech32(recipient)} had its drip at height {at}")
        used = state.drips_in_block(ctx, ctx.block.height)
        if used >= p.max_drips_per_block:
            raise ErrRateLimited(
                f"{used} drips in block {ctx.block.height} already "
                f"(max_drips_per_block {p.max_drips_per_block}); try the next block"
            )
        have = self.pool_balance(ctx)
        if have < p.drip_amount:
            raise ErrPoolEmpty(f"the pool holds {have}avcn, a drip is {p.drip_amount}avcn")
        return p.drip_amount

    def drip(self, ctx: Ctx, recipient: bytes) -> None:
        amount = self.check_drip(ctx, recipient)
        height = ctx.block.height
        state.set_drips_in_block(ctx, height, state.drips_in_block(ctx, height) + 1)
        state.set_dripped(ctx, recipient, height)
        self.bank.send_from_module(ctx, POOL, recipient, ((DENOM, amount),))
        ctx.emit(events.dripped(recipient, amount))
