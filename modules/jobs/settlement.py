"""Money movements of a job: consume the price on success, refund the escrow otherwise.

On a successful verdict, in the same block:

    escrow ──burn_bps × price──▶ burn module ──▶ burned        (FeeBurned)
    escrow ──the rest of price─▶ treasury                       (TreasuryCredited)
    treasury ──payout_bps × price──▶ worker                     (WorkerPaid)
    escrow ──max_price − price──▶ poster                        (EscrowRefunded)

Every other end (rejected, cancelled, expired, failed) returns the whole
escrow (the max price) to the poster. Rounding is down on the burn and the
payout, so the treasury keeps any remainder and never pays out more than it got.
"""

from __future__ import annotations

from dataclasses import dataclass

from chain.coins import DENOM
from chain.context import Ctx
from modules.jobs import events
from modules.jobs.expected import BankKeeper
from modules.jobs.params import Params
from modules.jobs.records import Job

ESCROW = "escrow"
TREASURY = "treasury"
BURN = "burn"


@dataclass(frozen=True)
class Split:
    burned: int
    to_treasury: int
    paid: int
    refunded: int


def split(params: Params, price: int, max_price: int) -> Split:
    burned = price * params.burn_bps // 10_000
    return Split(
        burned=burned,
        to_treasury=price - burned,
        paid=price * params.payout_bps // 10_000,
        refunded=max_price - price,
    )


def consume(ctx: Ctx, bank: BankKeeper, params: Params, job: Job) -> Split:
    """Consume ``job.price`` from the escrow, pay the worker and refund the rest."""
    s = split(params, job.price, job.max_price)
    if s.burned:
        bank.send_module_to_module(ctx, ESCROW, BURN, ((DENOM, s.burned),))
        bank.burn(ctx, BURN, ((DENOM, s.burned),))
        ctx.emit(events.fee_burned(job.id, s.burned))
    if s.to_treasury:
        bank.send_module_to_module(ctx, ESCROW, TREASURY, ((DENOM, s.to_treasury),))
        ctx.emit(events.treasury_credited(job.id, s.to_treasury))
    if s.paid:
        bank.send_from_module(ctx, TREASURY, job.worker, ((DENOM, s.paid),))
        ctx.emit(events.worker_paid(job.id, job.worker, s.paid))
    if s.refunded:
        refund(ctx, bank, job, s.refunded)
    return s


def refund(ctx: Ctx, bank: BankKeeper, job: Job, amount: int) -> None:
    bank.send_from_module(ctx, ESCROW, job.poster, ((DENOM, amount),))
    ctx.emit(events.escrow_refunded(job.id, job.poster, amount))


def take_escrow(ctx: Ctx, bank: BankKeeper, poster: bytes, amount: int) -> None:
    bank.send_to_module(ctx, poster, ESCROW, ((DENOM, amount),))
