"""The oracle daemon: follow the chain, re-execute the jobs picked for checking, attest.

One loop, one thread that talks to the chain (so the account's sequence is
never raced), and one background thread for the heavy work (a re-execution
or a canary's or the plant worker's local run):

    loop:  read new blocks (follower) → record what they ask of us (state file)
           → collect a finished re-execution and attest it
           → canary steps (fund, post, commit, reveal, sweep), job and training canaries
           → plant steps (oracle.plant: bond a plant worker, commit, claim, submit, reveal)
           → start the next re-execution, earliest deadline first
           → sleep until the websocket says a block committed (or poll_s)

Guarantees, and what gives them:

* **Never skips a job it was due to check.** Every block is read by height
  from ``last_height + 1``; a block's new checks are written to the state
  file in the same atomic write that moves ``last_height`` past it. At start
  the daemon also lists the chain's ``verification/checking`` jobs and adds
  any it owes (so even a lost state file loses nothing still checkable).
* **Never attests twice.** Before re-executing, and again right before
  broadcasting, it asks the chain whether its attestation for the job is
  already there (``verification/status``); a crash between broadcast and
  state write is therefore harmless, and the chain refuses a second
  attestation anyway (``ErrAlreadyAttested``).
* **Never attests half-way.** SIGTERM stops new work; a re-execution in
  flight gets ``shutdown_grace_s`` to finish (then it is attested, being a
  complete check), else it is abandoned: nothing is sent, the job stays owed
  in the state file and is re-checked after a restart if still open.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

from chain.client import NodeClient, NodeError, QueryFailed, TxResponse
from chain.crypto import PrivateKey
from oracle import attest as attest_mod
from oracle.canary_flow import CanaryDeps, CanaryDriver
from oracle.canary_training import TrainingCanaries
from oracle.config import OracleConfig
from oracle.executor import Abstain, Checked, Executor
from oracle.follower import ChainEvent, Waker, block_events
from oracle.metrics import OracleMetrics
from oracle.plant import PlantDeps, Planter
from oracle.similarity import Policy
from oracle.state import Check, OracleState, StateFile
from oracle.training_check import TRAINING_TASKS

log = logging.getLogger("vcoin.oracle")

VERIFICATION = "verification"
ERR_JOB_NOT_FOUND, ERR_NOT_PICKED, ERR_ALREADY_ATTESTED = 5, 6, 7
MAX_BLOCKS_PER_SAVE = 100


@dataclass
class Task:
    kind: str  # "check" | "canary"
    key: int  # job id, or canary local id
    started: float = field(default_factory=time.monotonic)
    result: Any = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class Oracle:
    def __init__(
        self,
        cfg: OracleConfig,
        account: PrivateKey,
        signer: SigningKey,
        node: NodeClient,
        artifacts: Any,
        executor: Executor,
        metrics: OracleMetrics | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.cfg = cfg
        self.account = account
        self.address = account.bech32
        self.signer = signer
        self.node = node
        self.artifacts = artifacts
        self.executor = executor
        self.metrics = metrics or OracleMetrics()
        self.rng = rng or random.SystemRandom()
        self.files = StateFile(cfg.home_path / "state.json")
        self.state = OracleState()
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.task: Task | None = None
        self.retry_at: dict[int, float] = {}
        self.chain_id = ""
        self.canaries = CanaryDriver(self.canary_deps())
        # canary trainings: their round-0 shard jobs are canaries (oracle.canary_training)
        self.tcanaries = TrainingCanaries(self.canary_deps(), cfg.home_path)
        # plants: known-bad results from a worker account of our own (oracle.plant)
        self.planter = Planter(self.plant_deps(), cfg.home_path) if cfg.plant else None
        # hook for tests: called with the job id right before an attestation is broadcast
        self.before_broadcast: Callable[[int], None] | None = None

    def canary_deps(self) -> CanaryDeps:
        """What the canary driver may use: these, and nothing else of the oracle."""
        return CanaryDeps(
            enabled=self.cfg.canaries,
            min_observed=self.cfg.canary_min_observed,
            settle_blocks=self.cfg.canary_settle_blocks,
            commit_every=self.cfg.canary_commit_every,
            task_types=self.cfg.canary_task_types,
            address=self.address,
            account=self.account,
            node=self.node,
            artifacts=self.artifacts,
            executor=self.executor,
            rng=self.rng,
            metrics=self.metrics,
            state=lambda: self.state,
            save=self.save,
            start_task=self.start_task,
            model_hash=self.model_hash,
        )

    def plant_deps(self) -> PlantDeps:
        return PlantDeps(
            address=self.address,
            account=self.account,
            node=self.node,
            artifacts_url=self.cfg.artifacts,
            executor=self.executor,
            rng=self.rng,
            metrics=self.metrics,
            start_task=self.start_task,
            model_hash=self.model_hash,
            own_posters=lambda: set(self.state.poster_addresses()),
            season_jobs=self.cfg.plant_season_jobs,
            rotate_after=self.cfg.plant_rotate_after,
            wait_blocks=self.cfg.plant_wait_blocks,
        )

    # -- lifecycle ----------------------------------------------------------------------
    def open(self) -> None:
        """Load the state (or start at the chain's tip), then catch up on owed checks."""
        self.chain_id = self.node.chain_id()
        st = self.files.load()
        if st is None:
            st = OracleState(chain_id=self.chain_id, last_height=self.node.latest_height())
            learned = self.learn_posters(st) if self.cfg.canaries else 0
            log.info(
                "no state file: starting at the chain's tip",
                extra={"height": st.last_height, "posters_learned": learned},
            )
        elif st.chain_id and st.chain_id != self.chain_id:
            raise RuntimeError(
                f"the state in {self.files.path} is for chain {st.chain_id!r} but the node "
                f"serves {self.chain_id!r}: point --rpc at the right node or use another --home"
            )
        st.chain_id = self.chain_id
        self.state = st
        self.check_bond()
        self.reconcile()
        self.save()

    def learn_posters(self, st: OracleState) -> int:
        """The real posters (and their jobs, as canary templates) of the
        ``canary_learn_blocks`` blocks up to ``st.last_height``, as if followed: without
        them a new oracle posts no canary until a poster it saw has been idle
        ``canary_settle_blocks``. Blocks the node no longer keeps are skipped. Returns
        how many posters it learned."""
        tip = st.last_height
        for h in range(max(0, tip - self.cfg.canary_learn_blocks) + 1, tip + 1):
            try:
                events = block_events(self.node, h)
            except NodeError:
                continue  # pruned (min_retain_blocks): learn from what is kept
            for e in events:
                poster = e.get("poster")
                if e.type == "JobPosted" and poster and e.get("task_type") not in TRAINING_TASKS:
                    st.note_job(e.int("job_id"))
                    st.note_poster(str(poster), h)
        return len(st.posters)

    def check_bond(self) -> None:
        bond = self.node.query("staking", "bond", {"address": self.address, "role": "oracle"})
        mine = bytes(self.signer.verify_key).hex()
        if not bond.get("active"):
            log.warning(
                "not an active oracle: attestations will be refused until you bond "
                "(`vcoin-oracle register`)",
                extra={"address": self.address, "bonded": bond.get("bonded")},
            )
        elif bond.get("ed25519_pubkey") != mine:
            log.warning(
                "the ed25519 key registered on chain is not this oracle's: run "
                "`vcoin-oracle register` again to replace it",
                extra={"registered": bond.get("ed25519_pubkey"), "local": mine},
            )

    def reconcile(self) -> None:
        """Add every job the chain is checking that this oracle has not attested."""
        height = self.node.latest_height()
        after = 0
        while True:
            page = self.node.query(VERIFICATION, "checking", {"after": after, "limit": 200})
            for p in page.get("pending") or []:
                job_id, due = int(p["job_id"]), int(p["due"])
                known = job_id in self.state.attested or job_id in self.state.checks
                if not known and due > height and self.not_yet_attested(job_id):
                    self.state.checks[job_id] = Check(job_id, due, height)
                    log.info("owed check found at start", extra={"job_id": job_id})
            if not page.get("next_after"):
                break
            after = int(page["next_after"])
        for job_id, c in sorted(self.state.checks.items()):
            if c.deadline <= height:
                self.drop_check(job_id, "its attestation window closed while we were away")

    def not_yet_attested(self, job_id: int) -> bool:
        """Ask the chain; remember a verdict found there (the state file may be lost)."""
        status = self.node.query(VERIFICATION, "status", {"job_id": job_id})
        mine = [a for a in status.get("attestations") or [] if a.get("oracle") == self.address]
        if mine:
            self.state.note_attested(job_id, str(mine[0]["verdict"]))
        return not mine

    def save(self) -> None:
        self.tcanaries.save()
        if self.planter is not None:
            self.planter.save()
        self.files.save(self.state)
        self.metrics.height.set(self.state.last_height)
        self.metrics.pending.set(len(self.state.checks))

    def run(self) -> int:
        """Run until ``request_stop``; returns the process exit code."""
        self.open()
        Waker(self.cfg.rpc, self.wake, self.stop).start()
        log.info(
            "oracle running",
            extra={
                "address": self.address,
                "height": self.state.last_height,
                "owed_checks": len(self.state.checks),
                "runner": self.executor.runner.name,
            },
        )
        while not self.stop.is_set():
            try:
                self.step()
            except Exception:  # noqa: BLE001 - a node hiccup must not kill the daemon
                self.metrics.errors.labels("loop").inc()
                log.exception("loop iteration failed; retrying")
                self.stop.wait(self.cfg.poll_s)
            self.wake.wait(self.cfg.poll_s)
            self.wake.clear()
        return self.shutdown()

    def request_stop(self) -> None:
        self.stop.set()
        self.wake.set()

    def shutdown(self) -> int:
        t = self.task
        if t is not None and not t.done.is_set():
            log.info(
                "stopping: waiting for the running %s to finish",
                t.kind,
                extra={"key": t.key, "grace_s": self.cfg.shutdown_grace_s},
            )
            if t.done.wait(self.cfg.shutdown_grace_s):
                self.collect(stopping=True)
            else:
                log.warning(
                    "abandoned the running %s: nothing was attested; it stays owed",
                    t.kind,
                    extra={"key": t.key},
                )
        self.save()
        log.info("oracle stopped", extra={"height": self.state.last_height})
        return 0

    # -- one iteration ------------------------------------------------------------------
    def step(self) -> None:
        self.follow()
        self.collect()
        if self.stop.is_set():
            return
        self.canaries.act()
        self.tcanaries.act()
        if self.planter is not None:
            self.planter.act()
        self.dispatch()

    # -- following -------------------------------------------------------------------------
    def follow(self) -> None:
        latest = self.node.latest_height()
        self.metrics.chain_height.set(latest)
        while self.state.last_height < latest:
            top = min(latest, self.state.last_height + MAX_BLOCKS_PER_SAVE)
            for h in range(self.state.last_height + 1, top + 1):
                self.handle_block(h, block_events(self.node, h))
                self.state.last_height = h
            self.save()

    def handle_block(self, height: int, events: list[ChainEvent]) -> None:
        for e in events:
            t = e.type
            if t == "VerificationRequested":
                job_id, due = e.int("job_id"), e.int("deadline")
                if job_id not in self.state.attested and job_id not in self.state.checks:
                    self.state.checks[job_id] = Check(job_id, due, height)
                    log.info("picked for checking", extra={"job_id": job_id, "deadline": due})
            elif t == "VerdictReached":
                job_id = e.int("job_id")
                if job_id in self.state.checks:
                    self.drop_check(job_id, f"verdict reached ({e.get('how')})")
                self.canaries.on_final(job_id)
                self.tcanaries.on_job_final(job_id)
                if self.planter is not None:
                    self.planter.on_final(job_id)
            elif t == "JobPosted" and e.get("task_type") in TRAINING_TASKS:
                # A training's shard and aggregate jobs are the training module's, not a
                # poster's mix: MsgPostJob refuses their task types, so no job canary
                # imitates them; canary *trainings* stand in (oracle.canary_training).
                self.tcanaries.on_job_posted(e.int("job_id"))
            elif t == "JobPosted":
                self.canaries.on_posted(e, height)
                if self.planter is not None:
                    self.planter.on_posted(e.int("job_id"), e.get("task_type"), e.get("poster"))
            elif t == "TrainingPosted":
                self.tcanaries.on_training_posted(e)
            elif t in ("TrainingCompleted", "TrainingFailed", "TrainingCancelled"):
                self.tcanaries.on_training_final(e.int("training_id"))
            elif t == "ResultSubmitted":
                self.canaries.on_result(e.int("job_id"))
                self.tcanaries.on_result(e.int("job_id"))
            elif t in ("JobSettled", "JobRejected", "JobExpired", "JobCancelled", "JobFailed"):
                self.canaries.on_final(e.int("job_id"))
                self.tcanaries.on_job_final(e.int("job_id"))
            elif t == "PlantPassed" and e.get("oracle") == self.address:
                # a plant: this oracle passed a known-bad result, and the chain punished it
                # (jailed, so it attests nothing until unjailed). An honest operator's check
                # is broken: a wrong device class, a metric that passes everything, …
                self.metrics.plants_passed.inc()
                log.error(
                    "a plant caught this oracle passing a wrong result: it is punished and "
                    "jailed; fix its checks before `vcoind tx staking unjail oracle`",
                    extra={"job_id": e.int("job_id"), "height": height},
                )

    def drop_check(self, job_id: int, why: str) -> None:
        self.state.checks.pop(job_id, None)
        self.retry_at.pop(job_id, None)
        log.info("check dropped: %s", why, extra={"job_id": job_id})

    # -- background work -------------------------------------------------------------------
    def start_task(self, kind: str, key: int, fn: Callable[[], Any]) -> None:
        task = Task(kind, key)

        def body() -> None:
            try:
                task.result = fn()
            except BaseException as e:  # noqa: BLE001 - reported by collect()
                task.error = e
            finally:
                task.done.set()
                self.wake.set()

        self.task = task
        threading.Thread(target=body, name=f"oracle-{kind}-{key}", daemon=True).start()

    def dispatch(self) -> None:
        if self.task is not None:
            return
        if self.canaries.start_next() or self.tcanaries.start_next():
            return
        height = self.state.last_height
        now = time.monotonic()
        due = [
            c
            for c in self.state.checks.values()
            if c.deadline > height and self.retry_at.get(c.job_id, 0) <= now
        ]
        for c in sorted(due, key=lambda c: (c.deadline, c.job_id)):
            job = self.owed(c.job_id)
            if job is None:
                continue
            model_hash = self.model_hash(job["model"])
            policy = self.policy()
            if job.get("task_type") == "embedding":
                job = {**job, **self.subset_draw(c.job_id)}
            elif job.get("task_type") == "lora-train":
                job = {**job, **self.subset_draw(c.job_id, rows_needed=False)}
            self.start_task(
                "check", c.job_id, partial(self.executor.check, job, model_hash, policy)
            )
            log.info("re-executing", extra={"job_id": c.job_id, "task_type": job["task_type"]})
            return
        if self.planter is not None:
            self.planter.start_next()  # the plant worker's next job, when no check waits

    def owed(self, job_id: int) -> dict[str, Any] | None:
        """The job if it still waits for this oracle's attestation; else drop the check."""
        try:
            job: dict[str, Any] = self.node.query("jobs", "job", {"id": job_id})
            fresh = self.not_yet_attested(job_id)
        except QueryFailed as e:
            self.drop_check(job_id, f"the chain does not know it: {e}")
            return None
        if not fresh:
            log.info("already attested on chain", extra={"job_id": job_id})
            return None
        if job.get("state") != "checking":
            self.drop_check(job_id, f"the job is {job.get('state')}")
            return None
        return job

    def subset_draw(self, job_id: int, rows_needed: bool = True) -> dict[str, Any]:
        """What an embedding subset check needs (``oracle.subset``): the hash of the block
        whose end drew the job, and how many rows the chain asks for. Empty (a full
        re-execution) when either cannot be read. A LoRA interval replay
        (``oracle.interval``) needs the hash alone (``rows_needed=False``)."""
        try:
            rows = int(self.node.query(VERIFICATION, "params").get("embed_check_rows", 0))
            st = self.node.query(VERIFICATION, "status", {"job_id": job_id})
            height = int((st.get("pending") or {}).get("drawn_height") or 0)
            block_hash = str(self.node.block(height)["block_id"]["hash"]) if height else ""
        except (NodeError, KeyError, TypeError, ValueError) as e:
            log.warning("no subset draw; re-executing in full: %s", e, extra={"job_id": job_id})
            return {}
        if (rows_needed and not rows) or not block_hash:
            return {}
        return {"draw_block_hash": block_hash.lower(), "check_rows": rows}

    def model_hash(self, model_id: str) -> str:
        return str(self.node.query("jobs", "model", {"id": model_id})["weights_sha256"])

    def policy(self) -> Policy:
        p = self.node.query(VERIFICATION, "params")
        return Policy(threshold_bps=int(p["similarity_threshold_bps"]))

    def collect(self, stopping: bool = False) -> None:
        t = self.task
        if t is None or not t.done.is_set():
            return
        self.task = None
        if t.kind == "canary":
            self.canaries.prepared(t.key, t.result, t.error)
            return
        if t.kind == "tcanary":
            self.tcanaries.prepared(t.key, t.result, t.error)
            return
        if t.kind == "plant" and self.planter is not None:
            self.planter.prepared(t.key, t.result, t.error)
            return
        self.metrics.check_seconds.observe(time.monotonic() - t.started)
        if t.error is not None:
            self.metrics.errors.labels("check").inc()
            log.error("re-execution crashed: %r", t.error, extra={"job_id": t.key})
            self.retry(t.key, f"crashed: {t.error!r}")
        elif isinstance(t.result, Abstain):
            self.metrics.checks.labels("abstain").inc()
            self.retry(t.key, t.result.reason)
        else:
            self.finish_check(t.key, t.result)
        self.save()

    def retry(self, job_id: int, why: str) -> None:
        c = self.state.checks.get(job_id)
        if c is None:
            return
        c.attempts += 1
        if c.attempts >= self.cfg.max_check_attempts:
            self.drop_check(job_id, f"gave up after {c.attempts} attempts: {why}")
            return
        self.retry_at[job_id] = time.monotonic() + min(60.0, 2.0**c.attempts)
        log.warning("cannot judge yet; will retry: %s", why, extra={"job_id": job_id})

    # -- attesting ---------------------------------------------------------------------------
    def finish_check(self, job_id: int, checked: Checked) -> None:
        cmp = checked.comparison
        self.metrics.checks.labels(cmp.verdict).inc()
        self.metrics.similarity.observe(cmp.similarity_bps)
        job = self.owed(job_id)
        if job is None:
            self.metrics.attestations.labels("skipped").inc()
            return
        runtime = (
            {}
            if checked.run is None or checked.run.result is None
            else {
                "device": checked.run.result.get("device"),
                "versions": checked.run.result.get("versions"),
                "runner": self.executor.runner.name,
                "seconds": round(checked.run.seconds, 3),
            }
        )
        ev = attest_mod.evidence(self.chain_id, job, cmp, self.address, runtime)
        self.keep_evidence(ev)
        msg = attest_mod.attest_for(self.signer, self.address, self.chain_id, job_id, cmp, ev)
        if self.before_broadcast is not None:
            self.before_broadcast(job_id)
        try:
            resp = self.node.send_tx(self.account, [msg], gas="auto", check=False)
        except QueryFailed as e:  # refused already when simulated for the gas estimate
            resp = TxResponse(hash="", code=e.code, codespace=e.codespace, log=e.log)
        if resp.codespace == VERIFICATION and resp.code in (
            ERR_JOB_NOT_FOUND,
            ERR_NOT_PICKED,
            ERR_ALREADY_ATTESTED,
        ):
            self.metrics.attestations.labels("refused").inc()
            self.drop_check(job_id, "the chain no longer takes an attestation from us")
            return
        if not resp.ok:
            self.metrics.attestations.labels("refused").inc()
            log.error(
                "attestation refused: %s/%d %s",
                resp.codespace,
                resp.code,
                resp.log,
                extra={"job_id": job_id},
            )
            self.retry(job_id, f"refused: {resp.log}")
            return
        self.state.note_attested(job_id, cmp.verdict)
        self.metrics.attestations.labels("ok").inc()
        log.info(
            "attested",
            extra={
                "job_id": job_id,
                "verdict": cmp.verdict,
                "similarity_bps": cmp.similarity_bps,
                "metric": cmp.metric,
                "evidence": ev.hash.hex(),
                "tx": resp.hash,
                "height": resp.height,
            },
        )

    def keep_evidence(self, ev: attest_mod.Evidence) -> None:
        folder: Path = self.cfg.home_path / "evidence"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{ev.hash.hex()}.json").write_bytes(ev.raw)
        try:
            self.artifacts.upload_bytes(ev.raw)
        except Exception as e:  # noqa: BLE001 - the local copy and the hash on chain suffice
            log.warning("could not upload the evidence document: %s", e)
