"""JobsKeeper: the job transitions other modules drive, and the keepers jobs drives.

Verification reads ``submitted_between`` (the state index files submitted
results by height, so its draws and challenge windows need no entries of their
own) and calls ``mark_checking``, ``settle_success`` and ``settle_failure``;
handlers and end_block use the rest. Every transition
writes the job once through ``state.put_job`` and emits its event.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from chain.coins import DENOM
from chain.context import Ctx
from chain.crypto import module_address
from modules.jobs import events, settlement, state
from modules.jobs.errors import ErrInvalidJob, ErrJobNotFound, ErrUnknownModel, ErrWrongState
from modules.jobs.expected import (
    AccountKeeper,
    BankKeeper,
    JobHooks,
    MintKeeper,
    ReputationKeeper,
    SlashingKeeper,
    StakingKeeper,
)
from modules.jobs.params import INTERNAL_OF
from modules.jobs.records import (
    CANCELLED,
    CHECKING,
    CLAIMED,
    EXPIRED,
    QUEUED,
    REJECTED,
    SETTLED,
    SUBMITTED,
    Job,
)


class JobsKeeper:
    def __init__(
        self,
        bank: BankKeeper,
        accounts: AccountKeeper,
        staking: StakingKeeper,
        reputation: ReputationKeeper,
        slashing: SlashingKeeper,
        mint: MintKeeper,
    ) -> None:
        self.bank = bank
        self.accounts = accounts
        self.staking = staking
        self.reputation = reputation
        self.slashing = slashing
        self.mint = mint
        # told of every final transition (the wiring appends the training keeper)
        self.hooks: list[JobHooks] = []

    # -- reads ---------------------------------------------------------------
    def get_job(self, ctx: Ctx, job_id: int) -> Job | None:
        return state.get_job(ctx, job_id)

    def must_job(self, ctx: Ctx, job_id: int) -> Job:
        j = state.get_job(ctx, job_id)
        if j is None:
            raise ErrJobNotFound(f"no job {job_id}")
        return j

    def model_task_types(self, ctx: Ctx, model_id: str) -> tuple[str, ...] | None:
        """The task types model ``model_id`` serves; None when it is not registered."""
        m = state.get_model(ctx, model_id)
        return None if m is None else m.task_types

    def min_price(self, ctx: Ctx) -> int:
        return state.get_params(ctx).min_price

    def max_result_blocks(self, ctx: Ctx) -> int:
        return state.get_params(ctx).max_result_blocks

    def submitted_between(self, ctx: Ctx, lo: int, hi: int) -> list[int]:
        """Ids of results submitted at heights lo..hi still waiting (state SUBMITTED)."""
        return state.due_in_state(ctx, SUBMITTED, lo, hi)

    def ids_in_state(self, ctx: Ctx, name: str) -> list[int]:
        return state.due_in_state(ctx, name, 0, (1 << 64) - 2)

    # -- verification's transitions ---------------------------------------------
    def mark_checking(self, ctx: Ctx, job_id: int) -> Job:
        j = self.must_job(ctx, job_id)
        if j.state != SUBMITTED:
            raise ErrWrongState(f"job {job_id} is {j.state}; only a submitted job can be checked")
        new = j.with_(state=CHECKING)
        state.put_job(ctx, new, j)
        return new

    def settle_success(self, ctx: Ctx, job_id: int) -> Job:
        """Passed: consume the price, pay the worker, credit its record and compute."""
        j = self.must_job(ctx, job_id)
        if j.state not in (SUBMITTED, CHECKING):
            raise ErrWrongState(f"job {job_id} is {j.state}; only a result can be settled")
        s = settlement.consume(ctx, self.bank, state.get_params(ctx), j)
        new = j.with_(
            state=SETTLED,
            finished_height=ctx.block.height,
            paid=s.paid,
            burned=s.burned,
            refunded=s.refunded,
        )
        state.put_job(ctx, new, j)
        self.reputation.record_result(ctx, j.worker, True)
        self.mint.record_compute(ctx, j.worker, j.compute_units)
        ctx.emit(events.job_settled(new))
        self.finished(ctx, new)
        return new

    def settle_failure(self, ctx: Ctx, job_id: int, oracles: list[bytes]) -> Job:
        """Caught cheating: refund the poster in full and punish the worker."""
        j = self.must_job(ctx, job_id)
        if j.state not in (SUBMITTED, CHECKING):
            raise ErrWrongState(f"job {job_id} is {j.state}; only a result can be rejected")
        settlement.refund(ctx, self.bank, j, j.max_price)
        new = j.with_(state=REJECTED, finished_height=ctx.block.height, refunded=j.max_price)
        state.put_job(ctx, new, j)
        ctx.emit(events.job_rejected(new))
        self.slashing.punish_cheating(ctx, j.worker, sorted(oracles))
        self.finished(ctx, new)
        return new

    # -- lifecycle helpers -------------------------------------------------------
    def finished(self, ctx: Ctx, new: Job) -> None:
        """Tell the hooks that ``new`` reached a final state."""
        for h in self.hooks:
            h.after_job_final(ctx, new)

    def end_refunded(self, ctx: Ctx, j: Job, final: str, reason: str = "") -> Job:
        """Close an open job with its whole escrow back to the poster; the caller
        emits the job's event, then calls ``finished``."""
        settlement.refund(ctx, self.bank, j, j.max_price)
        new = j.with_(
            state=final,
            finished_height=ctx.block.height,
            refunded=j.max_price,
            last_error=reason or j.last_error,
        )
        state.put_job(ctx, new, j)
        return new

    def free_slot(self, ctx: Ctx, addr: bytes) -> None:
        w = state.get_worker(ctx, addr)
        if w is not None and w.active > 0:
            state.put_worker(ctx, replace(w, active=w.active - 1), w)

    def requeue(self, ctx: Ctx, j: Job, reason: str, timed_out: bool) -> Job:
        """Take a claimed job back from its worker: into the queue again, or expired
        with a refund once it has used up its attempts."""
        assert j.state == CLAIMED
        worker = j.worker
        self.free_slot(ctx, worker)
        attempts = j.attempts + 1
        params = state.get_params(ctx)
        if attempts >= params.max_attempts:
            gone = j.with_(attempts=attempts, last_timeout_worker=worker if timed_out else b"")
            new = self.end_refunded(ctx, gone, EXPIRED, reason)
            ctx.emit(events.job_expired(new, f"{attempts} attempts failed; last: {reason}"))
            self.finished(ctx, new)
            return new
        new = j.with_(
            state=QUEUED,
            worker=b"",
            price=0,
            claimed_height=0,
            result_deadline=0,
            claim_deadline=ctx.block.height + j.claim_blocks,
            attempts=attempts,
            last_timeout_worker=worker if timed_out else b"",
            last_error=reason,
        )
        state.put_job(ctx, new, j)
        ctx.emit(events.job_requeued(new, worker, reason))
        return new

    # -- jobs other modules post ---------------------------------------------------
    def post_for_module(
        self,
        ctx: Ctx,
        module_account: str,
        task_type: str,
        model: str,
        inline_input: bytes,
        max_price: int,
        result_blocks: int,
    ) -> int:
        """Post a job whose poster is the module account ``module_account``, its max
        price escrowed from that account (refunds go back to it); the job's id.

        The internal task types (``INTERNAL_OF``) run on a model that serves the
        task they stand for; the inline input is not held to
        ``max_inline_input_bytes`` (the module writes it, bounded by its own params)."""
        p = state.get_params(ctx)
        m = state.get_model(ctx, model)
        if m is None:
            raise ErrUnknownModel(f"model {model!r} is not registered")
        if INTERNAL_OF.get(task_type, task_type) not in m.task_types:
            need = INTERNAL_OF.get(task_type, task_type)
            raise ErrInvalidJob(f"model {m.id} runs {list(m.task_types)}, not {need}")
        if max_price < p.min_price:
            raise ErrInvalidJob(f"max_price must be at least {p.min_price}avcn")
        blocks = result_blocks or p.default_result_blocks
        if blocks > p.max_result_blocks:
            raise ErrInvalidJob(f"result_blocks is at most {p.max_result_blocks}; got {blocks}")
        h = ctx.block.height
        j = Job(
            id=state.take_job_id(ctx),
            poster=module_address(module_account),
            task_type=task_type,
            model=m.id,
            input_hash=hashlib.sha256(inline_input).digest(),
            inline_input=inline_input,
            max_price=max_price,
            priority=0,
            claim_blocks=p.default_claim_blocks,
            result_blocks=blocks,
            posted_height=h,
            claim_deadline=h + p.default_claim_blocks,
        )
        self.bank.send_module_to_module(
            ctx, module_account, settlement.ESCROW, ((DENOM, max_price),)
        )
        state.put_job(ctx, j)
        ctx.emit(events.job_posted(j))
        return j.id

    def cancel_queued(self, ctx: Ctx, job_id: int, reason: str) -> Job:
        """Cancel a queued job for its poster (a module): refunded, its event, the hooks."""
        j = self.must_job(ctx, job_id)
        if j.state != QUEUED:
            raise ErrWrongState(f"job {job_id} is {j.state}; only a queued job can be cancelled")
        new = self.end_refunded(ctx, j, CANCELLED, reason)
        ctx.emit(events.job_cancelled(new))
        self.finished(ctx, new)
        return new
