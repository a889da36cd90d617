"""The agent: follow the chain block by block, claim what the policy likes, run it, report.

    start   lock the home · check registration and bond · clean up containers (or
            process sandbox runs) a killed run left · resume jobs the chain says
            this worker holds
    loop    websocket subscription to NewBlock (each carries its txs' results
            and events) · catch up from the last handled height first ·
            per block: outcomes of our txs, JobPosted / JobRequeued → claim,
            heartbeat once per reputation slot, then persist the height
    stop    (SIGTERM) no new claims · running jobs get ``shutdown_grace_s`` to
            finish · the rest are given back (MsgReleaseJob retry) · state saved

A height is persisted only after the claims its block triggered were
broadcast, so a crash at any point re-reads that block on restart: no job is
missed, and the chain refuses a second claim of the same job.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from chain.artifacts import ArtifactClient
from chain.client import NodeClient, NodeError
from chain.client_ws import Event as WsEvent
from chain.client_ws import EventStream
from chain.crypto import PrivateKey
from compute.sandbox import Limits, Sandbox, SandboxError, make_sandbox
from compute.sandbox.process_backend import ProcessSandbox
from modules.jobs import events as jev
from modules.reputation.msgs import MsgHeartbeat
from worker.agent.chainio import BroadcastRefused, TxOutcome, TxSender, TxWaiter, poll_outcome
from worker.agent.config import WorkerConfig
from worker.agent.executor import Executor
from worker.agent.metrics import WorkerMetrics
from worker.agent.policy import ClaimPolicy, JobInfo, advertised, unregistered
from worker.agent.runner import JobRunner, RunnerDeps, Slot, claim_msg, lost_race
from worker.agent.state import AgentState
from worker.nvml import Capabilities

log = logging.getLogger("vcoin.worker")

NEW_BLOCK = "tm.event='NewBlock'"
GONE = (jev.JOB_CLAIMED, jev.JOB_CANCELLED, jev.JOB_EXPIRED, jev.JOB_FAILED)
RECONCILE_BLOCKS = 20  # how often the chain's list of our held jobs is checked against ours


class NotReady(Exception):
    """The worker cannot start work yet; the message says which step is missing."""


class Agent:
    def __init__(
        self,
        cfg: WorkerConfig,
        key: PrivateKey,
        caps: Capabilities,
        sandbox: Sandbox | None = None,
    ) -> None:
        self.cfg = cfg
        self.key = key
        self.address = key.bech32
        self.caps = caps
        self._sandbox = sandbox
        self.state = AgentState(cfg.data_dir)
        self.metrics = WorkerMetrics()
        self.stopping = threading.Event()
        self._tls = threading.local()
        self.waiter = TxWaiter(lambda h: poll_outcome(self.client(), h))
        self.sender = TxSender(cfg.node, key, self.waiter)
        self.lock = threading.Lock()
        self.held: dict[int, Slot] = {}
        self.backlog: set[int] = set()
        self._avoid: set[int] = set()  # jobs we gave back for our own fault
        self._models: dict[str, dict[str, Any]] = {}
        self.chain_id = ""
        self.policy: ClaimPolicy | None = None
        self.executor: Executor | None = None
        self.hb_interval = 0

    # -- plumbing --------------------------------------------------------------------
    def client(self) -> NodeClient:
        """A node client for the calling thread (NodeClient is not thread-safe)."""
        c: NodeClient | None = getattr(self._tls, "client", None)
        if c is None:
            c = self._tls.client = NodeClient(self.cfg.node, timeout=15.0)
        return c

    def model(self, model_id: str) -> dict[str, Any]:
        m = self._models.get(model_id)
        if m is None:
            m = self._models[model_id] = self.client().query("jobs", "model", {"id": model_id})
        return m

    def avoid(self, job_id: int) -> None:
        with self.lock:
            self._avoid.add(job_id)

    def runner_deps(self) -> RunnerDeps:
        """What a ``JobRunner`` may use of this agent (after ``setup``)."""
        return RunnerDeps(
            address=self.address,
            key=self.key,
            chain_id=self.chain_id,
            client=self.client,
            model=self.model,
            executor=self.executor,
            state=self.state,
            metrics=self.metrics,
            waiter=self.waiter,
            sender=self.sender,
            stopping=self.stopping,
            avoid=self.avoid,
            job_done=self.job_done,
        )

    # -- start-up ----------------------------------------------------------------------
    def setup(self) -> None:
        self.state.lock_home()
        c = self.client()
        self.chain_id = c.chain_id()
        self.sender.prepare()
        self._models = {m["id"]: m for m in c.query("jobs", "models")["models"]}
        self.policy = self._policy()
        bond = c.query("staking", "bond", {"address": self.address, "role": "worker"})
        if not bond.get("active"):
            raise NotReady(
                f"{self.address} has no active worker bond (bonded {bond.get('bonded')}avcn, "
                f"minimum {bond.get('min_bond')}avcn): run `vcoin-worker stake AMOUNT` first"
            )
        rep = c.query("reputation", "params")
        self.hb_interval = int(rep.get("heartbeat_interval_blocks", 0))
        try:
            sandbox = self._sandbox or make_sandbox(
                self.cfg.sandbox,
                self.cfg.image or None,
                warm=self.cfg.warm_pool,
                runs_dir=self.cfg.data_dir / "process-runs",
            )
        except Exception as e:  # noqa: BLE001 - docker raises many kinds
            raise NotReady(
                f"the {self.cfg.sandbox} sandbox cannot start: {e} (run scripts/setup-docker "
                'and scripts/build-worker-image, or set sandbox = "process")'
            ) from e
        log.info("sandbox %s: %s", sandbox.name, sandbox.isolation)
        device = self.cfg.device
        if device == "auto":
            device = "cpu" if self.caps.cpu_only else "cuda"
        try:
            self.executor = self._executor(sandbox, device)
        except SandboxError as e:
            raise NotReady(str(e)) from e
        if self.cfg.metrics_laddr:
            try:
                self.metrics.serve(self.cfg.metrics_laddr)
            except OSError as e:
                raise NotReady(
                    f"cannot serve metrics on {self.cfg.metrics_laddr} ({e}); another worker "
                    "there? set metrics_laddr (--metrics-laddr) to a free port, or '' for none"
                ) from e
        self._clean_orphans()
        # After the clean-up, which would take it for an orphan.
        self.executor.prewarm()

    def _executor(self, sandbox: Sandbox, device: str) -> Executor:
        return Executor(
            sandbox,
            ArtifactClient(self.cfg.artifacts, self.key),  # signs its uploads and reads
            self.cfg.data_dir / "work",
            Limits(
                memory_bytes=self.cfg.job_memory_mib << 20,
                cpus=self.cfg.job_cpus,
                pids=self.cfg.job_pids,
                timeout_s=float(self.cfg.job_timeout_s),
            ),
            device,
            tuple(self.caps.device_ids),
            # an account's model is held to this before its files are fetched
            max_model_bytes=lambda: int(self.client().query("jobs", "params")["max_model_bytes"]),
        )

    def _policy(self) -> ClaimPolicy:
        try:
            w = self.client().query("jobs", "worker", {"address": self.address})
        except NodeError as e:
            raise NotReady(
                f"{self.address} is not a registered worker ({e}): run `vcoin-worker register`"
            ) from e
        models = set(w["models"])
        if self.cfg.models:
            models &= set(self.cfg.models)
        types = set(w["task_types"])
        missing = unregistered(types)
        if missing:
            log.warning(
                "registered without task types %s that this worker runs: it is offered none "
                "of those jobs (training shards and aggregates) until you re-run "
                "`vcoin-worker register`",
                ", ".join(missing),
            )
        if self.cfg.task_types:
            types &= set(advertised(self.cfg.task_types))
        if not models or not types:
            raise NotReady(
                "the config's models/task_types share nothing with the registration "
                f"(registered models {w['models']}, task types {w['task_types']}); "
                "re-run `vcoin-worker register`"
            )
        p = ClaimPolicy(
            address=self.address,
            task_types=frozenset(types),
            models=frozenset(models),
            price_floor=max(self.cfg.price_floor, int(w["price_floor"])),
            max_concurrent=min(self.cfg.max_concurrent, int(w["max_concurrent"])),
            memory_mib=int(w["memory_mib"]),
            gpu_count=int(w["gpu_count"]),
            gpu_model=str(w["gpu_model"]),
            model_memory=tuple(
                sorted((m, int(self._models[m]["min_gpu_memory_mib"])) for m in models)
            ),
        )
        log.info(
            "claim policy: models %s, task types %s, price floor %davcn, %d at a time",
            sorted(p.models),
            sorted(p.task_types),
            p.price_floor,
            p.max_concurrent,
        )
        return p

    def _clean_orphans(self) -> None:
        """Containers or process sandbox runs a killed agent left running on this home's
        job folders."""
        assert self.executor is not None
        sandbox = self.executor.sandbox
        if isinstance(sandbox, ProcessSandbox):
            try:
                for line in sandbox.clean_leftovers(self.executor.work_dir):
                    log.warning("cleaned up a job run left by an earlier run: %s", line)
            except OSError as e:  # cleanup is best effort
                log.warning("could not clean up leftover job runs: %s", e)
            return
        if sandbox.name != "docker":
            return
        try:
            for c in _my_containers(self.executor.sandbox, self.executor.work_dir):
                log.warning("removing container %s left by an earlier run", c.name)
                c.remove(force=True)
        except Exception as e:  # noqa: BLE001 - cleanup is best effort
            log.warning("could not list leftover job containers: %s", e)

    def held_on_chain(self) -> list[int]:
        """Ids of the jobs the chain says this worker holds (state claimed)."""
        held: list[int] = []
        req: dict[str, Any] = {"state": "claimed", "limit": 200}
        while True:
            page = self.client().query("jobs", "jobs", req)
            held += [int(j["id"]) for j in page["jobs"] if j["worker"] == self.address]
            if not page.get("next_after"):
                return held
            req["after"] = page["next_after"]  # an opaque cursor

    def resume(self) -> None:
        """Jobs the chain says this worker holds (claimed before a restart): run them again."""
        ids = self.held_on_chain()
        for stale in sorted(set(self.state.jobs) - set(ids)):
            self.state.drop_job(stale)
        self.reconcile(ids, "claimed before the restart")

    def reconcile(self, ids: list[int], why: str) -> None:
        """Run every job in ``ids`` this agent holds on chain but has no thread for (a
        claim whose outcome went unseen, a submit refused at CheckTx)."""
        for job_id in ids:
            with self.lock:
                if job_id in self.held or self.stopping.is_set():
                    continue
            log.info("resuming job %d, %s", job_id, why)
            self._start(Slot(job_id))

    # -- the loop ----------------------------------------------------------------------
    def run(self) -> None:
        self.setup()
        self.resume()
        backoff = 0.5
        while not self.stopping.is_set():
            try:
                with EventStream(self.cfg.node) as stream:
                    stream.subscribe(NEW_BLOCK)
                    self.catch_up()
                    log.info("following the chain from height %d", self.state.last_height)
                    backoff = 0.5
                    while not self.stopping.is_set():
                        ev = stream.next(timeout=0.5)
                        if ev is not None:
                            self.on_new_block(ev)
            except (NodeError, httpx.HTTPError, OSError) as e:
                if self.stopping.is_set():
                    break
                self.metrics.reconnects.inc()
                log.warning("event stream lost (%s); reconnecting in %.1fs", e, backoff)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)
        self.shutdown()

    def request_stop(self) -> None:
        if not self.stopping.is_set():
            log.info("stopping: no new claims; running jobs get %ds", self.cfg.shutdown_grace_s)
        self.stopping.set()

    def catch_up(self) -> None:
        """Blocks after the last handled height, up to the node's latest."""
        top = self.client().latest_height()
        last = self.state.last_height
        if top <= last:
            return
        if last == 0 or top - last > self.cfg.catchup_scan_blocks:
            log.info("reading the open queue (%d blocks since the last handled height)", top - last)
            self.sweep_queue()
            self.state.handled(top)
            return
        log.info("catching up on blocks %d..%d", last + 1, top)
        self._scan(last + 1, top)

    def _scan(self, first: int, last: int) -> None:
        for h in range(first, last + 1):
            if self.stopping.is_set():
                return
            r = self.client().block_results(h)
            self.handle_block(h, r.get("txs_results") or [], r.get("finalize_block_events") or [])

    def on_new_block(self, ev: WsEvent) -> None:
        h = ev.height
        if h <= self.state.last_height:
            return  # seen in the catch-up already
        if h > self.state.last_height + 1 and self.state.last_height > 0:
            self._scan(self.state.last_height + 1, h - 1)
        block = ev.data.get("block") or {}
        txs = (block.get("data") or {}).get("txs") or []
        hashes = [hashlib.sha256(base64.b64decode(t)).hexdigest().upper() for t in txs]
        res = ev.data.get("result_finalize_block") or {}
        self.handle_block(
            h, res.get("tx_results") or [], res.get("events") or [], hashes, ev.received
        )

    def handle_block(
        self,
        height: int,
        tx_results: list[dict[str, Any]],
        block_events: list[dict[str, Any]],
        hashes: list[str] | None = None,
        received: float | None = None,
    ) -> None:
        """One block's events, in order; ``hashes`` (the txs' hashes) only for a live block."""
        evs: list[dict[str, Any]] = []
        for i, r in enumerate(tx_results):
            code = int(r.get("code") or 0)
            if hashes is not None and i < len(hashes):
                self.waiter.resolve(
                    TxOutcome(
                        hashes[i],
                        height,
                        code,
                        str(r.get("codespace") or ""),
                        str(r.get("log") or ""),
                        list(r.get("events") or []),
                    )
                )
            if code == 0:
                evs += r.get("events") or []
        evs += block_events
        for e in evs:
            try:
                self._on_event(str(e.get("type")), _attrs(e), received)
            except NodeError:
                raise  # the node is away: the block is read again after the reconnect
            except Exception:  # noqa: BLE001 - one odd event must not stop the worker
                log.exception("could not handle event %s at height %d", e.get("type"), height)
        self.state.handled(height)
        self.metrics.height.set(height)
        if hashes is None or self.stopping.is_set():
            return  # a block read back in a catch-up: no heartbeats or checks for the past
        self._maybe_heartbeat(height)
        if height % RECONCILE_BLOCKS == 0:
            self.reconcile(self.held_on_chain(), "held on chain without a running thread")
        with self.lock:
            waiting = bool(self.backlog)
        if waiting and self._has_capacity():
            with self.lock:
                self.backlog.clear()
            self.sweep_queue()

    def _on_event(self, kind: str, attrs: dict[str, str], received: float | None) -> None:
        if kind == jev.JOB_POSTED:
            self.consider(JobInfo.from_event(attrs), received)
        elif kind == jev.JOB_REQUEUED:
            job_id = int(attrs["job_id"])
            if attrs.get("worker") == self.address:
                self._taken_back(job_id, attrs.get("reason", ""))
            job = self.client().query("jobs", "job", {"id": str(job_id)})
            self.consider(JobInfo.from_query(job), None)
        elif kind in GONE:
            with self.lock:
                self.backlog.discard(int(attrs["job_id"]))
        elif kind == jev.MODEL_REGISTERED:
            self._models.pop(attrs.get("model", ""), None)

    def _taken_back(self, job_id: int, reason: str) -> None:
        with self.lock:
            slot = self.held.get(job_id)
        if slot is not None and slot.phase != "claiming":
            log.warning(
                "job %d was taken back by the chain (%s); its result will be refused",
                job_id,
                reason,
            )
            slot.abandoned.set()
        if "deadline" in reason:
            self.avoid(job_id)  # too slow here once: leave it to another worker

    def sweep_queue(self) -> None:
        """Claim from the open queue, best first, while there is capacity."""
        page = self.client().query("jobs", "queue", {"limit": 200})
        for j in page["jobs"]:
            if self.stopping.is_set() or not self._has_capacity():
                return
            self.consider(JobInfo.from_query(j), None)

    # -- claims ------------------------------------------------------------------------
    def _has_capacity(self) -> bool:
        assert self.policy is not None
        with self.lock:
            return len(self.held) < self.policy.max_concurrent

    def consider(self, info: JobInfo, received: float | None) -> None:
        assert self.policy is not None
        if self.stopping.is_set():
            return
        why = self.policy.refuse(info)
        if why is not None:
            log.debug("not claiming job %d: %s", info.id, why)
            return
        with self.lock:
            if info.id in self.held or info.id in self._avoid:
                return
            if len(self.held) >= self.policy.max_concurrent:
                self.backlog.add(info.id)
                log.debug("job %d waits: %d jobs running already", info.id, len(self.held))
                return
            slot = self.held[info.id] = Slot(info.id, event_at=received)
        try:
            sent = self.sender.send([claim_msg(self.address, info.id)], "claim")
        except (BroadcastRefused, NodeError) as e:
            with self.lock:
                self.held.pop(info.id, None)
            if isinstance(e, BroadcastRefused) and lost_race(e.codespace, e.code):
                # another worker's claim reached the mempool first
                self.metrics.claims.labels("lost").inc()
                log.info("job %d went to another worker first; moving on", info.id)
            else:
                self.metrics.claims.labels("error").inc()
                log.warning("claim on job %d not sent: %s", info.id, e)
                if isinstance(e, NodeError):
                    with self.lock:
                        self.backlog.add(info.id)  # the next read of the queue retries it
            return
        slot.claim_tx = sent.hash
        ms, extra = "", {"tx": sent.hash, "job_id": info.id}
        if received is not None:
            self.metrics.event_to_claim.observe(sent.at - received)
            extra["event_to_claim_ms"] = round(1000 * (sent.at - received), 2)
            ms = f" {extra['event_to_claim_ms']} ms after its event"
        log.info("claiming job %d%s", info.id, ms, extra=extra)
        self.state.set_job(info.id, phase="claiming", tx=sent.hash)
        self._start(slot)

    def _start(self, slot: Slot) -> None:
        with self.lock:
            self.held[slot.job_id] = slot
            self.metrics.running.set(len(self.held))
        t = threading.Thread(
            target=JobRunner(self.runner_deps(), slot).run, name=f"job-{slot.job_id}", daemon=True
        )
        slot.thread = t
        t.start()

    def job_done(self, slot: Slot) -> None:
        with self.lock:
            if self.held.get(slot.job_id) is slot:
                del self.held[slot.job_id]
            self.metrics.running.set(len(self.held))
            self.backlog.clear()
        self.state.drop_job(slot.job_id)
        # A slot is free: the queue may hold jobs skipped while busy, or requeued ones.
        if not self.stopping.is_set():
            try:
                self.sweep_queue()
            except NodeError as e:
                log.warning("could not read the queue after a job: %s", e)

    # -- heartbeats --------------------------------------------------------------------
    def _maybe_heartbeat(self, height: int) -> None:
        if not self.cfg.heartbeats or self.hb_interval <= 0 or self.stopping.is_set():
            return
        slot = height // self.hb_interval
        if slot <= self.state.heartbeat_slot:
            return
        self.state.set_heartbeat_slot(slot)
        threading.Thread(target=self._heartbeat, args=(slot,), daemon=True).start()

    def _heartbeat(self, slot: int) -> None:
        try:
            sent = self.sender.send([MsgHeartbeat(address=self.address)], "heartbeat")
            out = self.waiter.wait(sent.hash, timeout=30)
            ok = out is not None and out.ok
            self.metrics.heartbeats.labels("ok" if ok else "failed").inc()
            if not ok:
                log.warning("heartbeat for slot %d failed: %s", slot, out and out.log)
            else:
                log.debug("heartbeat for slot %d in block %d", slot, out.height if out else 0)
        except Exception as e:  # noqa: BLE001 - a missed heartbeat costs uptime, not the agent
            self.metrics.heartbeats.labels("failed").inc()
            log.warning("heartbeat for slot %d not sent: %s", slot, e)

    # -- shutdown ----------------------------------------------------------------------
    def shutdown(self) -> None:
        deadline = time.monotonic() + self.cfg.shutdown_grace_s
        if self.executor is not None:
            self.executor.stop_warm()  # no new jobs come: the idle warm container goes now
        with self.lock:
            slots = list(self.held.values())
        if slots:
            log.info("waiting up to %ds for %d running jobs", self.cfg.shutdown_grace_s, len(slots))
        for s in slots:
            if s.thread is not None:
                s.thread.join(max(0.0, deadline - time.monotonic()))
        with self.lock:
            left = list(self.held.values())
        for s in left:
            s.abandoned.set()
        if left:
            self._kill_containers()
            try:
                ours = set(self.held_on_chain())
            except NodeError as e:
                log.warning("cannot ask the chain which jobs are ours (%s); releasing all", e)
                ours = {s.job_id for s in left}
        for s in left:
            if s.job_id in ours:
                log.info("giving job %d back: the worker is shutting down", s.job_id)
                reason = "the worker shut down; requeued"
                JobRunner(self.runner_deps(), s).release(retry=True, reason=reason)
            self.state.drop_job(s.job_id)
        self.state.unlock_home()
        self.sender.close()
        log.info("stopped", extra={"last_height": self.state.last_height})

    def _kill_containers(self) -> None:
        if self.executor is None:
            return
        if isinstance(self.executor.sandbox, ProcessSandbox):
            try:
                self.executor.sandbox.clean_leftovers(self.executor.work_dir)
            except OSError as e:
                log.warning("could not stop job processes: %s", e)
            return
        if self.executor.sandbox.name != "docker":
            return
        try:
            for c in _my_containers(self.executor.sandbox, self.executor.work_dir):
                c.remove(force=True)
        except Exception as e:  # noqa: BLE001
            log.warning("could not stop job containers: %s", e)


def _attrs(event: dict[str, Any]) -> dict[str, str]:
    return {str(a.get("key")): str(a.get("value")) for a in event.get("attributes") or []}


def _my_containers(sandbox: Any, work_dir: Path) -> list[Any]:
    """Job containers whose mounts lie under this agent's work folder."""
    root = str(work_dir.resolve())
    out = []
    for c in sandbox.client.containers.list(all=True, filters={"label": "vcoin.sandbox=job"}):
        mounts = c.attrs.get("Mounts") or []
        if any(str(m.get("Source", "")).startswith(root) for m in mounts):
            out.append(c)
    return out
