"""MintKeeper: the epoch emission, and what jobs and verification call (through
their ``expected.py``):

``record_compute(ctx, worker, units)``
    adds verified compute units to the worker's count for the current epoch.

At the end of the block where ``epoch_blocks`` have passed since the epoch
began, ``end_block`` mints ``emission_per_epoch`` into the mint module
account and pays each worker ``emission × units // total_units`` in address
order. What integer division leaves over, and the share of a worker
tombstoned since it did the work, goes to the treasury, so exactly the
emission leaves the mint account. An epoch without units mints nothing.
Only this module mints: its account alone has bank's ``minter`` permission.
"""

from __future__ import annotations

from chain.coins import DENOM
from chain.context import Ctx
from modules.mint import events, state
from modules.mint.expected import BankKeeper, StakingKeeper
from modules.mint.keys import ACCOUNT

TREASURY = "treasury"


class MintKeeper:
    def __init__(self, bank: BankKeeper, staking: StakingKeeper) -> None:
        self.bank = bank
        self.staking = staking

    def record_compute(self, ctx: Ctx, worker: bytes, units: int) -> None:
        if units < 0:
            raise ValueError("compute units are non-negative")
        if units:
            state.set_units(ctx, worker, state.units_of(ctx, worker) + units)

    def platform_mint(self, ctx: Ctx, to: bytes, amount: int) -> None:
        """The platform authority's mint (VCoin.sol's ``mint``, through the EVM's
        mint precompile, which checked the authority): minted into this module's
        account, counted in the total minted, paid out at once."""
        if amount <= 0:
            raise ValueError("a mint is of a positive amount")
        coins = ((DENOM, amount),)
        self.bank.mint(ctx, ACCOUNT, coins)
        state.set_total_minted(ctx, state.total_minted(ctx) + amount)
        self.bank.send_from_module(ctx, ACCOUNT, to, coins)
        ctx.emit(events.platform_minted(to, amount))

    def total_minted(self, ctx: Ctx) -> int:
        return state.total_minted(ctx)

    def end_block(self, ctx: Ctx) -> None:
        number, start = state.epoch(ctx)
        if ctx.block.height - start < state.get_params(ctx).epoch_blocks:
            return
        self._distribute(ctx, number)
        state.set_epoch(ctx, number + 1, ctx.block.height)

    def _distribute(self, ctx: Ctx, number: int) -> None:
        work = list(state.iterate_units(ctx))
        total = state.total_units(ctx)
        for addr, _ in work:
            state.set_units(ctx, addr, 0)
        emission = state.get_params(ctx).emission_per_epoch
        if total == 0 or emission == 0:
            return
        self.bank.mint(ctx, ACCOUNT, ((DENOM, emission),))
        state.set_total_minted(ctx, state.total_minted(ctx) + emission)
        paid = 0
        for addr, n in work:
            share = emission * n // total
            if share == 0 or self.staking.is_tombstoned(ctx, addr, "worker"):
                continue
            self.bank.send_from_module(ctx, ACCOUNT, addr, ((DENOM, share),))
            paid += share
            ctx.emit(events.mint_reward(number, addr, n, share))
        if emission - paid:
            self.bank.send_module_to_module(ctx, ACCOUNT, TREASURY, ((DENOM, emission - paid),))
        ctx.emit(events.minted(number, emission, total, len(work), emission - paid))
