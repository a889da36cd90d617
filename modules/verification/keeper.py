"""VerificationKeeper: the sampling draw, the tally and the verdict.

Life of a result submitted in block h:

1. The draw, at the end of block h + 1, uses that block's hash, which did not
   exist when the worker submitted: ``picked = uint64(sha256("vcoin/sample/v1"
   ‖ block hash ‖ job id)[:8]) mod 10000 < rate_bps``, where ``rate_bps`` is
   the result's risk (``risk.py``: the worker's score, bond and age in jobs,
   and the job's price, as they stand at the draw).
2. Not picked: the result waits out the challenge window and settles as passed
   at the end of block h + challenge_window_blocks. Nothing is stored for it
   here: the jobs state index files submitted results by submission height, so
   the draw and the window end are range reads of it.
3. Picked: the job turns CHECKING, with a pending record here, and waits for
   attestations until drawn height + attest_window_blocks.
4. A verdict: a quorum of oracle stake (as soon as it forms), a canary reveal
   (any time before settlement), or the window rule at the deadline:

   * if the oracles that attested hold at least ``window_min_stake_bps`` of the
     active oracle stake, the side with more attesting stake wins;
   * otherwise (nobody, or too little stake, attested; or a tie) the result is
     settled as passed, like an unpicked one ("lapsed"): funds are never locked
     forever by absent oracles, and sampling plus canaries stay the deterrent.

A verdict reached by a tx (a quorum, a canary reveal) is recorded at once
(stage DECIDED: later attestations and reveals are refused) and settled at the
end of the same block, so the attesting oracle's gas never pays for the
settlement and a verdict always settles in its own block. Oracles whose
attestation disagrees with the verdict are penalised through
``SlashingKeeper.penalise_oracle`` (its ``oracle_penalty_bps`` param). A lapse
is no verdict of the oracles (nobody outvoted anybody), so it penalises nobody.

Plants (oracle canaries, ``canary.py``): a planter commits to a job's right
output hash before the claim, its own worker account submits a wrong one, and
once the result has its verdict the planter reveals (``reveal_plant``). Every
oracle that attested the wrong result as a pass is punished as a caught
cheater in the oracle role (``SlashingKeeper.punish_cheating``: −20 points,
jail, and the slash and tombstone lines), on top of any outvote penalty. An
oracle that attested fail is made whole: if a quorum of the lazy outvoted it,
its outvote points come back (``withdraw_oracle_penalty``; settlement records
them on its attestation). One that did not attest is untouched.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from chain.context import Ctx
from modules.verification import events, state
from modules.verification.expected import (
    AccountKeeper,
    JobOwners,
    JobsKeeper,
    JobView,
    ReputationKeeper,
    SlashingKeeper,
    StakingKeeper,
)
from modules.verification.params import BPS
from modules.verification.records import CHECKING, DECIDED, FAIL, PASS, Attestation, Pending
from modules.verification.risk import Risk, RiskInputs, SlashTerms

ORACLE = "oracle"
WORKER = "worker"
SAMPLE_DOMAIN = b"vcoin/sample/v1"
SUBSET_DOMAIN = b"vcoin/subset/v1"


def draw_value(block_hash: bytes, job_id: int) -> int:
    """The draw in [0, 10000) for ``job_id`` from ``block_hash``."""
    seed = hashlib.sha256(SAMPLE_DOMAIN + block_hash + job_id.to_bytes(8, "big")).digest()
    return int.from_bytes(seed[:8], "big") % BPS


def subset_rows(block_hash: bytes, job_id: int, n: int, k: int) -> list[int]:
    """``min(k, n)`` distinct rows of ``n``, sorted, drawn from ``block_hash``: the rows of
    an embedding result an oracle re-embeds (``embed_check_rows``). The hash is the draw
    block's, which did not exist when the worker submitted, so it cannot fake around them.

    A partial Fisher–Yates shuffle: step ``i`` swaps row ``i`` with row ``i + u_i mod
    (n − i)``, ``u_i = uint64(sha256(domain ‖ hash ‖ job id ‖ i)[:8])``.
    """
    k = max(0, min(k, n))
    swapped: dict[int, int] = {}
    for i in range(k):
        seed = SUBSET_DOMAIN + block_hash + job_id.to_bytes(8, "big") + i.to_bytes(4, "big")
        j = i + int.from_bytes(hashlib.sha256(seed).digest()[:8], "big") % (n - i)
        swapped[i], swapped[j] = swapped.get(j, j), swapped.get(i, i)
    return sorted(swapped.get(i, i) for i in range(k))


class VerificationKeeper:
    def __init__(
        self,
        jobs: JobsKeeper,
        staking: StakingKeeper,
        reputation: ReputationKeeper,
        slashing: SlashingKeeper,
        accounts: AccountKeeper,
    ) -> None:
        self.jobs = jobs
        self.staking = staking
        self.reputation = reputation
        self.slashing = slashing
        self.accounts = accounts  # a reveal's controller key: the job's poster or worker
        # modules that post jobs for their records (training): a job's owner (the wiring)
        self.owners: list[JobOwners] = []

    def controller_of(self, ctx: Ctx, job: JobView) -> tuple[bytes, str]:
        """Who controls ``job`` as a canary, and as what: the owner of the record a module
        posted it for (a training's poster: "training poster"), else its poster."""
        for o in self.owners:
            owner = o.job_owner(ctx, job)
            if owner is not None:
                return owner, "training poster"
        return job.poster, "poster"

    # -- stakes ----------------------------------------------------------------
    def oracle_stake(self, ctx: Ctx) -> int:
        active = self.staking.active_set(ctx, ORACLE)
        return sum(self.staking.bonded(ctx, a, ORACLE) for a in active)

    def tally(self, ctx: Ctx, job_id: int) -> tuple[int, int, list[Attestation]]:
        atts = state.attestations(ctx, job_id)
        passed = sum(a.stake for a in atts if a.verdict == PASS)
        return passed, sum(a.stake for a in atts) - passed, atts

    # -- the draw ----------------------------------------------------------------
    def risk(
        self, ctx: Ctx, worker: bytes, price: int, task_type: str = "", spec: str = ""
    ) -> Risk:
        """The audit rate of a result of ``price``, ``task_type`` and ``spec`` by
        ``worker`` now, and its figures."""
        stats = self.reputation.stats(ctx, worker)
        stake = self.staking.bonded(ctx, worker, WORKER)
        inputs = RiskInputs(stats.score_bps, stake, price, stats.total)
        terms = SlashTerms(*self.slashing.slash_terms(ctx))
        return state.get_params(ctx).risk(inputs, terms, task_type, spec)

    def draw(self, ctx: Ctx, job: JobView) -> None:
        params = state.get_params(ctx)
        h = ctx.block.height
        if job.task_type in params.always_check_tasks:
            rate = BPS  # always_check_tasks: every result of the type is checked
        else:
            rate = self.risk(ctx, job.worker, job.price, job.task_type, job.spec).rate_bps
        picked = draw_value(ctx.block.hash, job.id) < rate
        ctx.emit(events.result_sampled(job.id, job.worker, picked, rate))
        if picked:
            self.jobs.mark_checking(ctx, job.id)
            due = h + params.attest_window_blocks
            state.put_pending(
                ctx, Pending(job.id, job.worker, job.submitted_height, CHECKING, due, rate, h)
            )
            ctx.emit(events.verification_requested(job.id, job.worker, due))

    # -- verdicts ------------------------------------------------------------------
    def after_attestation(self, ctx: Ctx, p: Pending) -> None:
        """Decide at once if one side's stake reaches the quorum."""
        quorum = state.get_params(ctx).quorum_bps
        total = self.oracle_stake(ctx)
        passed, failed, _ = self.tally(ctx, p.job_id)
        if total and passed * BPS >= quorum * total:
            self.conclude(ctx, p, PASS, "quorum")
        elif total and failed * BPS >= quorum * total:
            self.conclude(ctx, p, FAIL, "quorum")

    def deadline(self, ctx: Ctx, p: Pending) -> None:
        """The window rule (see the module doc)."""
        params = state.get_params(ctx)
        total = self.oracle_stake(ctx)
        passed, failed, _ = self.tally(ctx, p.job_id)
        attested = passed + failed
        if attested and attested * BPS >= params.window_min_stake_bps * total and passed != failed:
            self.settle(ctx, p.job_id, PASS if passed > failed else FAIL, "window", p)
        else:
            self.settle(ctx, p.job_id, PASS, "lapsed", p, penalise=False)

    def conclude(
        self, ctx: Ctx, p: Pending, verdict: str, how: str, accusers: tuple[bytes, ...] = ()
    ) -> None:
        """Record a verdict reached by a tx; end_block of this block settles it."""
        new = Pending(
            p.job_id,
            p.worker,
            p.submitted_height,
            DECIDED,
            ctx.block.height,
            p.rate_bps,
            p.drawn_height,
            verdict,
            how,
            accusers,
        )
        state.put_pending(ctx, new, state.get_pending(ctx, p.job_id))

    def settle(
        self,
        ctx: Ctx,
        job_id: int,
        verdict: str,
        how: str,
        p: Pending | None = None,
        penalise: bool = True,
    ) -> None:
        """Settle the job by ``verdict`` now and, if ``penalise``, penalise the dissenting
        oracles (a lapse does not: nobody outvoted them)."""
        passed, failed, atts = self.tally(ctx, job_id) if p is not None else (0, 0, [])
        if p is not None:
            state.delete_pending(ctx, p)
        if verdict == PASS:
            self.jobs.settle_success(ctx, job_id)
        else:
            against = {a.oracle for a in atts if a.verdict == FAIL}
            accusers = set(p.accusers) if p is not None else set()
            self.jobs.settle_failure(ctx, job_id, sorted(against | accusers))
        for a in atts:
            if penalise and a.verdict != verdict:
                points = self.slashing.penalise_oracle(ctx, a.oracle)
                if points:
                    state.set_attestation(ctx, replace(a, penalty_bps=points))
        total = self.oracle_stake(ctx) if atts else 0
        ctx.emit(events.verdict_reached(job_id, verdict, how, passed, failed, total))

    # -- plants ------------------------------------------------------------------------
    def reveal_plant(self, ctx: Ctx, job_id: int, planter: bytes) -> list[bytes]:
        """Punish the oracles that passed the planted wrong result of ``job_id``; the
        caller has checked the commitment and that the result is wrong."""
        atts = state.attestations(ctx, job_id)
        caught = sorted({a.oracle for a in atts if a.verdict == PASS})
        for oracle in caught:
            ctx.emit(events.plant_passed(job_id, oracle))
            self.slashing.punish_cheating(ctx, oracle, [planter], ORACLE)
        for a in atts:
            if a.verdict == FAIL and a.penalty_bps:
                self.slashing.withdraw_oracle_penalty(ctx, a.oracle, a.penalty_bps)
                state.set_attestation(ctx, replace(a, penalty_bps=0))
        ctx.emit(events.plant_revealed(job_id, planter, len(caught)))
        return caught

    # -- end of block ----------------------------------------------------------------
    def end_block(self, ctx: Ctx) -> None:
        """Verdicts and attestation deadlines first, then the draws of the results
        submitted in the last block, then the results whose challenge window ends."""
        h = ctx.block.height
        for job_id in state.due_timers(ctx, h):
            p = state.get_pending(ctx, job_id)
            if p is None:
                continue
            if p.stage == DECIDED:
                self.settle(ctx, job_id, p.verdict, p.how, p)
            else:
                self.deadline(ctx, p)
        for job_id in self.jobs.submitted_between(ctx, h - 1, h - 1):
            job = self.jobs.get_job(ctx, job_id)
            if job is not None:
                self.draw(ctx, job)
        window = state.get_params(ctx).challenge_window_blocks
        for job_id in self.jobs.submitted_between(ctx, 0, h - window):
            self.settle(ctx, job_id, PASS, "unpicked")
        for commitment in state.expired_canaries(ctx, h):
            c = state.get_canary(ctx, commitment)
            if c is not None:
                state.delete_canary(ctx, c)
                ctx.emit(events.canary_expired(commitment))
