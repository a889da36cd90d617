"""TrainingKeeper: post and cancel trainings, and move each one on as its jobs end.

The jobs module calls ``after_job_final`` at every final transition of every job
(``modules.jobs.expected.JobHooks``); a job this module did not post is ignored
after one comparison of its poster. The rules are the package docstring's."""

from __future__ import annotations

from chain.coins import DENOM
from chain.context import Ctx
from chain.crypto import module_address, to_bech32
from chain.errors import ChainError
from modules.training import events, state
from modules.training.errors import (
    ErrInvalidTraining,
    ErrNotPoster,
    ErrNotRunning,
    ErrTrainingNotFound,
)
from modules.training.expected import BankKeeper, JobId, JobsKeeper, JobView
from modules.training.keys import MODULE_ACCOUNT
from modules.training.msgs import CancelTraining, PostTraining
from modules.training.records import (
    ACCEPTED,
    AGGREGATE,
    CANCELLED,
    COMPLETED,
    DROPPED,
    FAILED,
    OPEN,
    RUNNING,
    SHARD,
    Round,
    Shard,
    Training,
    aggregate_input,
    shard_input,
    shard_weight,
)

SETTLED = "settled"  # the jobs module's state of a job that passed
QUEUED = "queued"
LORA_TRAIN = "lora-train"


class TrainingKeeper:
    def __init__(self, bank: BankKeeper, jobs: JobsKeeper) -> None:
        self.bank = bank
        self.jobs = jobs
        self.account = module_address(MODULE_ACCOUNT)

    # -- reads -----------------------------------------------------------------
    def must(self, ctx: Ctx, tid: int) -> Training:
        t = state.get_training(ctx, tid)
        if t is None:
            raise ErrTrainingNotFound(f"no training {tid}")
        return t

    def job_owner(self, ctx: Ctx, job: JobId) -> bytes | None:
        """The poster of the training a job of this module belongs to (None for any other
        job): the controller of its shard and aggregate jobs as canaries
        (``modules.verification.expected.JobOwners``), since the module account that
        posts them has no key. A canary training's persona reveals its shards this way."""
        if job.poster != self.account:
            return None
        ref = state.get_job_ref(ctx, job.id)
        t = None if ref is None else state.get_training(ctx, int(ref["training"]))
        return None if t is None else t.poster

    # -- messages --------------------------------------------------------------
    def check(self, ctx: Ctx, m: PostTraining) -> None:
        """The checks of a post that read params and state; each names its field."""
        p = state.get_params(ctx)
        c = m.config
        if c.rank > p.max_rank:
            raise ErrInvalidTraining(f"rank is at most {p.max_rank} (param max_rank); got {c.rank}")
        if m.shards > p.max_shards:
            raise ErrInvalidTraining(
                f"shards is at most {p.max_shards} (param max_shards); got {m.shards}"
            )
        if m.rounds > p.max_rounds:
            raise ErrInvalidTraining(
                f"rounds is at most {p.max_rounds} (param max_rounds); got {m.rounds}"
            )
        if len(c.targets) > p.max_targets:
            raise ErrInvalidTraining(f"target_modules names at most {p.max_targets} modules")
        for name in c.targets:
            if name not in p.lora_targets:
                raise ErrInvalidTraining(
                    f"target_modules: {name!r:.64} is not a LoRA target; "
                    f"known: {list(p.lora_targets)}"
                )
        lo = self.jobs.min_price(ctx)
        for what, v in (
            ("price_per_shard", m.price_per_shard),
            ("aggregate_price", m.aggregate_price),
        ):
            if v < lo:
                raise ErrInvalidTraining(f"{what} must be at least {lo}avcn (the jobs min_price)")
        most = self.jobs.max_result_blocks(ctx)
        if m.shard_blocks > most:
            raise ErrInvalidTraining(f"shard_blocks is at most {most} (jobs max_result_blocks)")
        types = self.jobs.model_task_types(ctx, m.model)
        if types is None:
            raise ErrInvalidTraining(f"model {m.model!r} is not registered")
        if LORA_TRAIN not in types:
            raise ErrInvalidTraining(f"model {m.model!r} does not serve {LORA_TRAIN}")

    def post(self, ctx: Ctx, m: PostTraining) -> Training:
        self.check(ctx, m)
        escrow = m.escrow
        self.bank.send_to_module(ctx, m.poster, MODULE_ACCOUNT, ((DENOM, escrow),))
        t = Training(
            id=state.take_id(ctx),
            poster=m.poster,
            model=m.model,
            dataset=m.dataset,
            manifest=m.manifest,
            records=m.records,
            shards=m.shards,
            rounds=m.rounds,
            config=m.config,
            price_per_shard=m.price_per_shard,
            aggregate_price=m.aggregate_price,
            shard_blocks=m.shard_blocks,
            escrow_left=escrow,
            posted_height=ctx.block.height,
            aggregation=m.aggregation,
        )
        ctx.emit(events.posted(t, escrow))
        self._start_round(ctx, t, 0, "")
        return t

    def cancel(self, ctx: Ctx, c: CancelTraining) -> None:
        t = self.must(ctx, c.training_id)
        if t.poster != c.poster:
            raise ErrNotPoster(f"training {t.id} was posted by {to_bech32(t.poster)}")
        if t.state != RUNNING:
            raise ErrNotRunning(
                f"training {t.id} is {t.state}; only a running one can be cancelled"
            )
        t.state = CANCELLED
        t.finished_height = ctx.block.height
        state.put_training(ctx, t)  # from here on, the hook sends its jobs' refunds on
        rd = state.get_round(ctx, t.id, t.round)
        open_jobs = [] if rd is None else [s.job_id for s in rd.shards if s.state == OPEN]
        if rd is not None and rd.aggregate_job and not rd.global_out:
            open_jobs.append(rd.aggregate_job)
        refunded = 0
        for job_id in sorted(open_jobs):
            j = self.jobs.get_job(ctx, job_id)
            if j is not None and j.state == QUEUED:
                refunded += self.jobs.cancel_queued(
                    ctx, job_id, f"training {t.id} cancelled"
                ).refunded
        refunded += self._refund_left(ctx, t)
        state.put_training(ctx, t)
        ctx.emit(events.cancelled(t, refunded))

    # -- the jobs module's hook ------------------------------------------------
    def after_job_final(self, ctx: Ctx, job: JobView) -> None:
        if job.poster != self.account:
            return
        ref = state.get_job_ref(ctx, job.id)
        if ref is None:
            return
        t = state.get_training(ctx, int(ref["training"]))
        if t is None:  # an index entry without its training (a hand-made genesis)
            return
        refund = job.refunded
        if t.state != RUNNING:
            if refund:  # a cancelled training's job that was in flight
                self.bank.send_from_module(ctx, MODULE_ACCOUNT, t.poster, ((DENOM, refund),))
            return
        t.escrow_left += refund
        rd = state.get_round(ctx, t.id, int(ref["round"]))
        if rd is None or rd.round != t.round:
            state.put_training(ctx, t)
            return
        if ref.get("aggregate"):
            self._aggregate_ended(ctx, t, rd, job)
        else:
            self._shard_ended(ctx, t, rd, rd.shards[int(ref["shard"])], job)

    # -- rounds ------------------------------------------------------------------
    def _start_round(self, ctx: Ctx, t: Training, r: int, global_in: str) -> None:
        t.round = r
        rd = Round(
            r, global_in, [Shard(i, shard_weight(t.records, t.shards, i)) for i in range(t.shards)]
        )
        for s in rd.shards:
            self._post_shard(ctx, t, rd, s, "")
        ctx.emit(events.round_started(t, r, [s.job_id for s in rd.shards if s.state == OPEN]))
        self._after_shards(ctx, t, rd)

    def _post_shard(self, ctx: Ctx, t: Training, rd: Round, s: Shard, why: str) -> None:
        """Post shard ``s``'s job (again, after ``why``), or drop it when out of
        attempts or budget."""
        most = state.get_params(ctx).max_shard_attempts
        if s.attempts >= most:
            self._drop(ctx, t, rd, s, f"{s.attempts} attempts used; last: {why}")
            return
        if t.escrow_left < t.price_per_shard:
            self._drop(ctx, t, rd, s, f"the training's budget is short ({t.escrow_left}avcn left)")
            return
        old = s.job_id
        try:
            s.job_id = self.jobs.post_for_module(
                ctx,
                MODULE_ACCOUNT,
                SHARD,
                t.model,
                shard_input(t, rd, s.shard),
                t.price_per_shard,
                t.shard_blocks,
            )
        except ChainError as e:  # the jobs params changed under it: never halt the block
            self._drop(ctx, t, rd, s, f"the jobs module refused its job: {e.message}")
            return
        t.escrow_left -= t.price_per_shard
        s.attempts += 1
        state.set_job_ref(ctx, s.job_id, {"training": t.id, "round": rd.round, "shard": s.shard})
        if old:
            ctx.emit(events.shard_requeued(t, rd.round, s.shard, old, s.job_id, why))

    def _drop(self, ctx: Ctx, t: Training, rd: Round, s: Shard, why: str) -> None:
        s.state = DROPPED
        ctx.emit(events.shard_dropped(t, rd.round, s.shard, why))

    def _shard_ended(self, ctx: Ctx, t: Training, rd: Round, s: Shard, job: JobView) -> None:
        if s.job_id == job.id and s.state == OPEN:
            if job.state == SETTLED:
                s.state = ACCEPTED
                s.worker = to_bech32(job.worker)
                s.output = job.output_hash.hex()
            else:
                self._post_shard(ctx, t, rd, s, f"job {job.id} {job.state}")
        self._after_shards(ctx, t, rd)

    def _after_shards(self, ctx: Ctx, t: Training, rd: Round) -> None:
        """Once every shard is accepted or dropped, post the aggregate (or fail);
        then store the training and the round."""
        if rd.settled() and not rd.aggregate_job and t.state == RUNNING:
            if not any(s.state == ACCEPTED for s in rd.shards):
                self._fail(ctx, t, f"no shard of round {rd.round} was accepted")
            else:
                self._post_aggregate(ctx, t, rd, "")
        state.put_round(ctx, t.id, rd)
        state.put_training(ctx, t)

    def _post_aggregate(self, ctx: Ctx, t: Training, rd: Round, why: str) -> None:
        most = state.get_params(ctx).max_shard_attempts
        if rd.aggregate_attempts >= most:
            self._fail(
                ctx,
                t,
                f"round {rd.round}'s aggregate: {rd.aggregate_attempts} attempts used; last: {why}",
            )
            return
        if t.escrow_left < t.aggregate_price:
            self._fail(ctx, t, f"the budget is short for round {rd.round}'s aggregate")
            return
        try:
            rd.aggregate_job = self.jobs.post_for_module(
                ctx,
                MODULE_ACCOUNT,
                AGGREGATE,
                t.model,
                aggregate_input(t, rd),
                t.aggregate_price,
                t.shard_blocks,
            )
        except ChainError as e:  # the jobs params changed under it: never halt the block
            self._fail(ctx, t, f"the jobs module refused round {rd.round}'s aggregate: {e.message}")
            return
        t.escrow_left -= t.aggregate_price
        rd.aggregate_attempts += 1
        ref = {"training": t.id, "round": rd.round, "aggregate": True}
        state.set_job_ref(ctx, rd.aggregate_job, ref)
        accepted = sum(1 for s in rd.shards if s.state == ACCEPTED)
        ctx.emit(events.aggregate_posted(t, rd.round, rd.aggregate_job, accepted))

    def _aggregate_ended(self, ctx: Ctx, t: Training, rd: Round, job: JobView) -> None:
        if rd.aggregate_job != job.id:
            state.put_training(ctx, t)
            return
        if job.state != SETTLED:
            self._post_aggregate(ctx, t, rd, f"job {job.id} {job.state}")
            state.put_round(ctx, t.id, rd)
            state.put_training(ctx, t)
            return
        rd.global_out = job.output_hash.hex()
        state.put_round(ctx, t.id, rd)
        ctx.emit(events.round_aggregated(t, rd.round, rd.global_out))
        if rd.round + 1 < t.rounds:
            self._start_round(ctx, t, rd.round + 1, rd.global_out)
            return
        t.adapter = rd.global_out
        t.state = COMPLETED
        t.finished_height = ctx.block.height
        refunded = self._refund_left(ctx, t)
        state.put_training(ctx, t)
        ctx.emit(events.completed(t, refunded))

    # -- ends ----------------------------------------------------------------------
    def _refund_left(self, ctx: Ctx, t: Training) -> int:
        """Send the unspent escrow back to the poster; what was sent."""
        left = t.escrow_left
        if left:
            self.bank.send_from_module(ctx, MODULE_ACCOUNT, t.poster, ((DENOM, left),))
        t.escrow_left = 0
        return left

    def _fail(self, ctx: Ctx, t: Training, why: str) -> None:
        t.state = FAILED
        t.finished_height = ctx.block.height
        refunded = self._refund_left(ctx, t)
        ctx.emit(events.failed(t, why, refunded))
