"""The daemon's canary steps, each recorded in the state file before the next one.

Canaries are posted by *personas*: a poster key that behaves as a real poster's
does. It claims one drip, waits as long as a real poster waited between its drip
and its first job, then posts as many canaries as a real poster posted jobs
(``target``: the job count of a *settled* real poster, one idle for
``SETTLE_BLOCKS``, drawn at random, so the personas' counts follow the real
posters'), each after a gap drawn from the gaps between real posters' successive
jobs, and once the last one is over (or when its balance cannot pay the next) it
gives its leftover to the pool. A persona is started for a real job seen posted
with the canary odds (``canary.should_post``) times posters/jobs among the
settled posters, so canaries keep to the rate however many each persona posts.
Until a poster has settled there is nothing to imitate, and no persona starts
(``canary_settle_blocks``, the idle time, is a setting). Each canary:

    planned   a template and fresh input chosen, salt drawn (its persona's key)
    prepared  run locally: the expected output hash is known; on the schedule
              (``commit_every`` > 0) it is committed bound to its post with the next
              tick's tx (``oracle.canary_schedule``) and waits a random 1..commit_every
              blocks (``release_at``) before it goes on
    funded    the persona's first canary: its key claimed the drip from the pool
              (modules/drip), as a new user's does; a later one: the previous is posted
    posted    the job is on chain (job id known)
    committed the commitment is on chain (on the schedule: since before the post; by
              job id: no later than the claim, else spoiled)
    submitted the worker's result is in: reveal now
    final     the job is over (revealed, settled, expired…)
    done      (the persona sweeps when all of its canaries are done and it plans no more)

The next canary of a persona is planned (and run locally) once the previous one
is funded (on the schedule: once the previous is run locally and the one before
it has gone on, so its commitment rides a tick before its post is due), so it is
ready when its gap has passed. After a crash every step is
redone only if the chain does not show it done: a funded key is seen on chain,
a persona's posts after its latest known job are looked up by poster, a
commitment by its hash, and a sweep is one only while the key holds more than
its fee. See ``oracle.canary`` for why canaries look the way they do.
"""

from __future__ import annotations

import hashlib
import logging
import random
import secrets
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from chain.client import ChainRefused, QueryFailed
from chain.crypto import PrivateKey
from modules.drip.ante import sponsored_claim
from modules.drip.errors import ErrRateLimited
from modules.drip.msgs import MsgFundPool
from oracle import canary
from oracle.canary_schedule import CommitSchedule, input_hash
from oracle.follower import ChainEvent
from oracle.state import CanaryRecord, OracleState, Persona, PosterSeen

if TYPE_CHECKING:
    from chain.client import NodeClient
    from oracle.expected import RunOutcome
    from oracle.metrics import OracleMetrics

log = logging.getLogger("vcoin.oracle.canary")

MAX_OUTSTANDING = 3  # canaries planned but not yet posted
PRECOMMIT = 8  # job ids committed ahead of a canary's post (``commit_every`` 0)
FEE_GAS_BUDGET = 2_000_000  # gas the poster key may spend (post + sweep)
KEEP_DONE = 100
POOL_LOW_DRIPS = 4  # the oracle tops the drip pool up when it can pay fewer drips than this
POOL_TOP_UP_DRIPS = 16  # drips' worth of coin per top-up: bulk, so no deposit marks a canary
MAX_IMITATED_DELAY = 200  # blocks a funded canary may wait before its post
POST_STEPS = 2  # blocks from the drip to the post when nothing waits: precommit, then post
# (1 for a canary committed on the schedule: it is committed before its drip)
SETTLE_BLOCKS = 100  # default ``canary_settle_blocks``: a real poster idle this long is
# taken to have posted all it will
SWEEP_GAS = 120_000


def posting_delay(template: dict[str, Any], template_dripped: int | None) -> int:
    """Blocks a persona waits between its drip and its first post: a real poster's own
    wait between its drip and the job ``template`` (its first job, when the persona
    imitates a settled poster; 0 when no drip funded it), so the wait does not mark
    canaries either."""
    if template_dripped is None:
        return 0
    gap = int(template.get("posted_height") or 0) - template_dripped
    return max(0, min(MAX_IMITATED_DELAY, gap))


def starts_persona(settled: Sequence[tuple[str, PosterSeen]], rng: random.Random) -> bool:
    """Given that a real job drew a canary: whether it starts a persona. A persona posts
    jobs/posters canaries on average (the settled posters'), so one in that many does.
    None while no poster has settled: there is nothing to imitate yet."""
    if not settled:
        return False
    jobs = sum(p.jobs for _, p in settled)
    return rng.randrange(jobs) < len(settled)


def model_poster(
    settled: Sequence[tuple[str, PosterSeen]], rng: random.Random
) -> tuple[str, PosterSeen] | None:
    """The real poster a new persona imitates (how many jobs, how long before the first):
    any settled poster, each as likely (not each job: that would favour busy posters)."""
    return rng.choice(list(settled)) if settled else None


def draw_gap(gaps: Sequence[int], rng: random.Random) -> int:
    """Blocks between a persona's successive posts: a gap between some real poster's
    successive jobs (from all posters', not one poster's sequence, which would copy it)."""
    return min(MAX_IMITATED_DELAY, rng.choice(list(gaps))) if gaps else 0


def _coin(amount: int) -> list[Any]:
    from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin

    from chain.coins import DENOM

    return [Coin(denom=DENOM, amount=str(amount))]


class CanaryRunner(Protocol):
    """The executor's part in a canary: read a template's input, run the job locally."""

    def input_doc(self, job: dict[str, Any]) -> dict[str, Any]: ...

    def local_run(
        self, job: dict[str, Any], model_hash: str, tag: str
    ) -> AbstractContextManager[RunOutcome]: ...


class ArtifactUploader(Protocol):
    def upload_bytes(self, data: bytes) -> str: ...


@dataclass(frozen=True)
class CanaryDeps:
    """Everything the canary driver uses of the oracle (``Oracle.canary_deps`` builds it)."""

    enabled: bool  # the ``canaries`` setting
    min_observed: int  # ``canary_min_observed``: user jobs to see before imitating the mix
    task_types: tuple[str, ...]  # ``canary_task_types``; empty: any
    address: str  # the oracle's account: funds poster keys, commits, reveals
    account: PrivateKey
    node: NodeClient
    artifacts: ArtifactUploader
    executor: CanaryRunner
    rng: random.Random
    metrics: OracleMetrics
    state: Callable[[], OracleState]  # the oracle's current state (``open`` replaces it)
    save: Callable[[], None]  # write the state file
    start_task: Callable[[str, int, Callable[[], Any]], None]  # run in the background
    model_hash: Callable[[str], str]  # chain model id -> its manifest digest
    settle_blocks: int = SETTLE_BLOCKS  # ``canary_settle_blocks``
    commit_every: int = 0  # ``canary_commit_every``: 0 precommits by job id before the post


class CanaryDriver:
    def __init__(self, deps: CanaryDeps) -> None:
        self.d = deps
        self.schedule = CommitSchedule(deps)  # commitments on the oracle's own schedule

    @property
    def enabled(self) -> bool:
        return self.d.enabled

    def _key(self, rec: CanaryRecord) -> PrivateKey:
        return PrivateKey(bytes.fromhex(rec.poster_secret))

    # -- events ------------------------------------------------------------------------------
    def on_posted(self, e: ChainEvent, height: int) -> None:
        st = self.d.state()
        st.max_job_id = max(st.max_job_id, e.int("job_id"))
        poster = e.get("poster")
        if poster in st.poster_addresses():
            return
        st.note_job(e.int("job_id"))
        if poster:
            st.note_poster(str(poster), height)
        if not self.enabled or st.user_jobs_seen < self.d.min_observed:
            return
        types = self.d.task_types
        if types and e.get("task_type") not in types:
            return
        outstanding = sum(1 for c in st.canaries.values() if c.stage in ("planned", "prepared"))
        if outstanding >= MAX_OUTSTANDING:
            return
        settled = self.settled()
        if not settled:
            return  # no real poster has settled yet: a persona would have nothing to imitate
        rate = int(self.d.node.query("verification", "params")["canary_rate_bps"])
        if canary.should_post(rate, self.share_bps(), self.d.rng) and starts_persona(
            settled, self.d.rng
        ):
            self.plan()

    def settled(self) -> list[tuple[str, PosterSeen]]:
        st = self.d.state()
        return st.settled_posters(st.last_height, self.d.settle_blocks)

    def on_result(self, job_id: int) -> None:
        rec = self.d.state().canary_by_job(job_id)
        if rec is not None and rec.stage == "committed":
            rec.stage = "submitted"

    def on_final(self, job_id: int) -> None:
        rec = self.d.state().canary_by_job(job_id)
        if rec is not None and rec.stage not in ("final", "done"):
            if not rec.outcome:
                rec.outcome = "settled without a reveal"
            rec.stage = "final"

    def share_bps(self) -> int:
        mine = int(
            self.d.node.query("staking", "bond", {"address": self.d.address, "role": "oracle"})[
                "bonded"
            ]
        )
        total = int(self.d.node.query("staking", "active_set", {"role": "oracle"})["total_bonded"])
        return 0 if total <= 0 else min(10_000, mine * 10_000 // total)

    # -- planning and the local run ---------------------------------------------------------
    def plan(self, persona: Persona | None = None) -> CanaryRecord | None:
        """Plan a canary from a random recent real job: ``persona``'s next one, or the
        first of a new persona. None when the template cannot be used (a persona's next
        canary is tried again on the next step)."""
        st = self.d.state()
        if not st.job_mix:
            return None
        template_id = self.d.rng.choice(st.job_mix)
        try:
            job = self.d.node.query("jobs", "job", {"id": template_id})
            art = None
            if not job.get("inline_input"):
                art = self.d.executor.input_doc(job)
        except Exception as e:  # noqa: BLE001 - a template we cannot read is skipped
            log.warning("cannot use job %d as a canary template: %s", template_id, e)
            return None
        p = canary.plan_from(job, art, self.d.rng)
        if p is None:
            return None
        if persona is None:
            persona, wait = self.new_persona(job)
        else:
            wait = draw_gap(st.gaps, self.d.rng)
        rec = CanaryRecord(
            local_id=st.next_canary,
            stage="planned",
            poster_secret=persona.poster_secret,
            poster=persona.poster,
            msg={**p.fields, "inline_hex": p.inline.hex(), "artifact_hex": p.artifact.hex()},
            salt=secrets.token_bytes(canary.SALT_BYTES).hex(),
            template_job=template_id,
            persona=persona.persona_id,
            index=persona.planned,
            wait=wait,
            bound_to_post=self.d.commit_every > 0,
        )
        persona.planned += 1
        st.next_canary += 1
        st.canaries[rec.local_id] = rec
        log.info(
            "canary planned",
            extra={"canary": rec.local_id, "template_job": template_id, "persona": rec.persona},
        )
        return rec

    def new_persona(self, template: dict[str, Any]) -> tuple[Persona, int]:
        """A fresh key imitating a settled real poster: its job count, and its wait between
        its drip and its first job (the persona's and its first canary's). With no poster
        settled (``plan`` called by hand: ``on_posted`` waits for one), one canary waiting
        as the template's poster waited before the template."""
        st = self.d.state()
        model = model_poster(self.settled(), self.d.rng)
        if model is None:
            target, address, first = 1, str(template.get("poster") or ""), template
        else:
            address, seen = model
            target, first = seen.jobs, {"posted_height": seen.first}
        wait = 0
        try:
            d = self.d.node.query("drip", "dripped", {"address": address}) if address else None
            if d and d["dripped"]:
                wait = posting_delay(first, int(d["height"]))
        except QueryFailed:
            pass  # nothing to imitate: post as soon as funded
        key = PrivateKey(secrets.token_bytes(32))
        persona = Persona(st.next_persona, key.secret.hex(), key.bech32, max(1, target))
        st.next_persona += 1
        st.personas[persona.persona_id] = persona
        return persona, wait

    @staticmethod
    def planned_of(rec: CanaryRecord) -> canary.Planned:
        m = dict(rec.msg)
        inline, artifact = bytes.fromhex(m.pop("inline_hex")), bytes.fromhex(m.pop("artifact_hex"))
        return canary.Planned(m, None, inline, artifact)

    def start_next(self) -> bool:
        """Start the local run of a planned canary in the background; False if none."""
        for rec in sorted(self.d.state().canaries.values(), key=lambda c: c.local_id):
            if rec.stage == "planned":
                p = self.planned_of(rec)
                self.d.start_task("canary", rec.local_id, partial(self.expected, p))
                return True
        return False

    def expected(self, p: canary.Planned) -> str:
        """Upload the input if it is an artifact, run the job locally: the expected hash."""
        if p.artifact:
            self.d.artifacts.upload_bytes(p.artifact)
        job = p.pseudo_job()
        with self.d.executor.local_run(job, self.d.model_hash(job["model"]), "canary") as run:
            assert run.output_hash is not None  # local_run raised otherwise
            return run.output_hash

    def prepared(self, local_id: int, result: Any, error: BaseException | None) -> None:
        rec = self.d.state().canaries.get(local_id)
        if rec is None or rec.stage != "planned":
            return  # dropped meanwhile (its persona ended)
        if error is not None:
            rec.stage, rec.outcome = "done", f"failed: {error}"[:300]
            self.d.metrics.canaries.labels("failed").inc()
            log.error("canary %d: %s", local_id, rec.outcome)
            self.end_persona(rec.persona, "failed: a canary's local run failed")
        else:
            rec.expected_output_hash, rec.stage = str(result), "prepared"
        self.d.save()

    # -- chain steps ---------------------------------------------------------------------------
    def act(self) -> None:
        st = self.d.state()
        self.schedule.send_due()
        for rec in sorted(st.canaries.values(), key=lambda c: c.local_id):
            if rec.stage == "done":
                continue
            try:
                self.advance(rec)
            except ChainRefused as e:
                self.d.metrics.canaries.labels("failed").inc()
                log.error("canary %d step %s refused: %s", rec.local_id, rec.stage, e)
                rec.outcome = f"failed at {rec.stage}: {e}"[:300]
                unposted = rec.stage in ("planned", "prepared", "funded")
                rec.stage = "done" if unposted else "final"
                if unposted:  # its persona cannot post the rest in order: it ends
                    self.end_persona(rec.persona, f"failed at canary {rec.local_id}")
            self.d.save()
        for persona in sorted(st.personas.values(), key=lambda p: p.persona_id):
            if persona.swept:
                continue
            try:
                self.tend(persona)
            except ChainRefused as e:
                log.error("persona %d's sweep refused: %s", persona.persona_id, e)
                persona.ended, persona.swept = f"sweep refused: {e}"[:300], True
            self.d.save()
        done = [k for k, c in st.canaries.items() if c.stage == "done"]
        for k in sorted(done)[:-KEEP_DONE]:
            del st.canaries[k]
        live = {c.persona for c in st.canaries.values()}
        swept = [k for k, p in st.personas.items() if p.swept and k not in live]
        for k in sorted(swept)[:-KEEP_DONE]:
            del st.personas[k]

    def persona_of(self, rec: CanaryRecord) -> Persona:
        st = self.d.state()
        if rec.persona not in st.personas:  # a record made by hand (tests), or lost
            st.adopt_orphans()
        return st.personas[rec.persona]

    def advance(self, rec: CanaryRecord) -> None:
        key = self._key(rec)
        persona = self.persona_of(rec)
        if rec.stage == "prepared":
            if rec.bound_to_post and not self.schedule.released(rec):
                return  # not committed yet, or its random wait after the commitment runs
            if rec.index == 0:
                if not self.fund(rec, key):
                    return  # the pool's limit for this block is used up: the next loop retries
            elif persona.posted < rec.index:
                return  # its previous canary is not on chain yet
            rec.stage = "funded"
            self.d.save()
        if rec.stage == "funded":
            if not self.due(rec, persona):
                return  # still imitating a real poster's wait before this post
            found = self.posted_since(persona)  # posted before a crash
            if found is None and rec.index > 0 and not self.affordable(rec, persona):
                rec.stage, rec.outcome = "done", "not posted: its persona cannot pay it"
                self.end_persona(rec.persona, "spent")
                return
            if found is None and not rec.precommitted and not rec.bound_to_post:
                self.precommit(rec)
                self.d.save()
            self.post(rec, key, found)
            self.d.save()
        if rec.stage == "posted":
            self.commit(rec)
        if rec.stage == "submitted":
            self.reveal(rec)
        if rec.stage == "final":
            rec.stage = "done"  # its persona sweeps once it is over

    def tend(self, persona: Persona) -> None:
        """Plan a persona's next canary once the previous is funded; sweep the persona once
        it plans no more and all its canaries are done."""
        mine = self.d.state().canaries_of(persona.persona_id)
        if not persona.ended and persona.planned < persona.target:
            if self.may_plan_next(mine):
                self.plan(persona)
            return
        if all(c.stage == "done" for c in mine):
            self.sweep(persona)
            persona.swept = True
            if not persona.ended:
                persona.ended = "posted all"
            log.info("persona swept", extra={"persona": persona.persona_id})

    def may_plan_next(self, mine: Sequence[CanaryRecord]) -> bool:
        """Plan a persona's next canary once the previous has gone on (``funded``); on the
        schedule one step sooner, once the previous is run locally and the one before it
        has gone on, so its commitment rides a tick before its post is due."""
        if any(c.stage == "planned" for c in mine):
            return False
        waiting = sum(1 for c in mine if c.stage == "prepared")
        return waiting == 0 or (self.d.commit_every > 0 and waiting == 1)

    def end_persona(self, persona_id: int, why: str) -> None:
        """The persona plans no more; its canaries not yet posted are dropped (those on
        chain go on to their end; the persona sweeps after them)."""
        persona = self.d.state().personas.get(persona_id)
        if persona is None or persona.ended:
            return
        persona.ended = why[:300]
        for c in self.d.state().canaries_of(persona_id):
            if c.stage in ("planned", "prepared", "funded"):
                c.stage, c.outcome = "done", f"dropped: its persona ended ({why})"[:300]

    def affordable(self, rec: CanaryRecord, persona: Persona) -> bool:
        """Whether the persona's key can still pay this canary's price and fees."""
        return self.d.node.balance(persona.poster) >= self.cost(rec)

    def precommit(self, rec: CanaryRecord) -> None:
        """Commit for the next few job ids before posting (one tx), so the commitment
        is older than any claim even when a worker claims in the very next block.
        The commitments that do not name the canary's id stay as decoys until their
        ``canary_ttl_blocks`` run out."""
        first = self.d.state().max_job_id + 1
        if first <= 1:
            return  # no job seen yet: nothing to predict from; commit after posting
        ids = list(range(first, first + PRECOMMIT))
        msgs = [
            canary.commit_msg(self.d.address, j, rec.expected_output_hash, rec.salt) for j in ids
        ]
        resp = self.d.node.send_tx(self.d.account, msgs, gas="auto")
        rec.precommitted, rec.commit_height = ids, resp.height

    def posted_since(self, persona: Persona) -> dict[str, Any] | None:
        """The persona's first job after its latest known one: a post that landed before a
        crash, before the state file knew of it. None when there is none."""
        q = {"poster": persona.poster, "after": persona.last_job, "limit": 1}
        mine: list[dict[str, Any]] = self.d.node.query("jobs", "jobs", q)["jobs"]
        return mine[0] if mine else None

    def post(self, rec: CanaryRecord, key: PrivateKey, found: dict[str, Any] | None = None) -> None:
        """Post the canary with its persona's key; ``found``: it is on chain already."""
        persona = self.persona_of(rec)
        if found is None:
            found = self.posted_since(persona)
        if found is not None:
            rec.job_id, rec.posted_height = int(found["id"]), int(found["posted_height"])
        else:
            p = self.planned_of(rec)
            ih = hashlib.sha256(p.artifact).hexdigest() if p.artifact else ""
            msg = canary.post_msg(key.bech32, p.fields, p.inline, ih)
            resp = self.d.node.send_tx(key, [msg], gas="auto")
            rec.job_id = int(resp.attributes("JobPosted", "job_id")[0])
            rec.posted_height = resp.height
        self.d.state().max_job_id = max(self.d.state().max_job_id, rec.job_id)
        persona.posted = max(persona.posted, rec.index + 1)
        persona.last_posted, persona.last_job = rec.posted_height, rec.job_id
        if persona.posted >= persona.target and not persona.ended:
            persona.ended = "posted all"
        rec.stage = "posted"
        if rec.bound_to_post:
            rec.stage = "committed"  # on the schedule, before it was funded
        elif rec.job_id in rec.precommitted:
            rec.stage = "committed"  # its commitment landed before the post
            self.d.metrics.canaries.labels("committed").inc()
        else:
            rec.commit_height = 0
        self.d.metrics.canaries.labels("posted").inc()
        log.info("canary posted", extra={"canary": rec.local_id, "job_id": rec.job_id})

    def commit(self, rec: CanaryRecord) -> None:
        c = canary.commitment(rec.job_id, rec.expected_output_hash, rec.salt).hex()
        try:
            found = self.d.node.query("verification", "canary", {"commitment": c})
            rec.commit_height = int(found["height"])
        except QueryFailed:
            found = None
        if found is None:
            msg = canary.commit_msg(self.d.address, rec.job_id, rec.expected_output_hash, rec.salt)
            resp = self.d.node.send_tx(self.d.account, [msg], gas="auto")
            rec.commit_height = resp.height
        job = self.d.node.query("jobs", "job", {"id": rec.job_id})
        claimed = int(job.get("claimed_height") or 0)
        if claimed and rec.commit_height and claimed < rec.commit_height:
            rec.stage, rec.outcome = "final", "spoiled: claimed before the commitment landed"
            self.d.metrics.canaries.labels("spoiled").inc()
            log.warning("canary spoiled", extra={"canary": rec.local_id, "job_id": rec.job_id})
            return
        rec.stage = "committed"
        self.d.metrics.canaries.labels("committed").inc()
        if job.get("state") in ("submitted", "checking"):
            rec.stage = "submitted"  # the result came in while we were committing

    def reveal(self, rec: CanaryRecord) -> None:
        msg = canary.reveal_msg(
            self.d.address,
            rec.job_id,
            rec.expected_output_hash,
            rec.salt,
            self._key(rec),  # the poster key: the chain takes a canary reveal from its owner only
            self.d.node.chain_id(),
            post=(rec.poster, input_hash(rec)) if rec.bound_to_post else None,
        )
        resp = self.d.node.send_tx(self.d.account, [msg], gas="auto")
        matched = resp.attributes("CanaryRevealed", "matched") == ["true"]
        rec.outcome = "matched" if matched else "mismatched"
        rec.stage = "final"
        self.d.metrics.canaries.labels(rec.outcome).inc()
        log.info(
            "canary revealed: %s", rec.outcome, extra={"canary": rec.local_id, "job_id": rec.job_id}
        )

    def sweep(self, persona: Persona) -> None:
        node = self.d.node
        key = PrivateKey(bytes.fromhex(persona.poster_secret))
        bal = node.balance(key.bech32)
        fee = SWEEP_GAS * node.min_gas_price()
        if bal > fee:  # back into the pool, as any key may give back: nothing points home
            back = MsgFundPool(depositor=key.bech32, amount=str(bal - fee))
            node.send_tx(key, [back], gas=SWEEP_GAS, fee=fee)

    # -- funding through the drip pool ------------------------------------------------------------
    def due(self, rec: CanaryRecord, persona: Persona) -> bool:
        """Whether the persona has waited ``rec.wait`` since its drip (its first canary) or
        since its previous post (the next ones), as the real posters it imitates do."""
        node = self.d.node
        if rec.index == 0:
            try:
                mine = node.query("drip", "dripped", {"address": rec.poster})
            except QueryFailed:
                return True
            if not mine["dripped"]:
                return True
            since = int(mine["height"])
        elif persona.posted < rec.index:
            return False
        else:
            since = persona.last_posted
        steps = 1 if rec.bound_to_post else POST_STEPS  # committed already: no precommit
        wait = max(0, rec.wait - steps)  # the post lands that many blocks later
        return node.latest_height() >= since + wait

    def cost(self, rec: CanaryRecord) -> int:
        """What the poster key keeps for a canary: its price and the fee budget."""
        return int(rec.msg["max_price"]) + FEE_GAS_BUDGET * self.d.node.min_gas_price()

    def fund(self, rec: CanaryRecord, key: PrivateKey) -> bool:
        """The poster key claims its drip from the pool, as a real user's new key does;
        the oracle tops the pool up in bulk beforehand when it runs low. False when the
        block's drip limit is used up (try again later). A key that already exists
        claimed before a crash."""
        node = self.d.node
        if node.account(key.bech32) is not None:
            return True
        pool = node.query("drip", "pool")
        drip = int(pool["drip_amount"])
        if self.cost(rec) > drip:
            raise ChainRefused(
                "drip",
                0,
                f"insufficient drip: {drip}avcn cannot pay price and fees {self.cost(rec)}avcn",
            )
        if int(pool["drips_left"]) < POOL_LOW_DRIPS:
            top_up = MsgFundPool(depositor=self.d.address, amount=str(POOL_TOP_UP_DRIPS * drip))
            node.send_tx(self.d.account, [top_up], gas="auto")
        r = node.broadcast_tx_commit(sponsored_claim(key, node.chain_id()))
        check = r.get("check_tx") or {}
        res = check if int(check.get("code") or 0) else (r.get("tx_result") or {})
        space, code = str(res.get("codespace") or ""), int(res.get("code") or 0)
        if code == 0:
            return True
        if (space, code) == ("drip", ErrRateLimited.code):
            return False
        raise ChainRefused(space, code, str(res.get("log") or ""))
