"""One held job, from claim to result: the thread body the agent starts per claim.

    claim tx in a block? ── refused (another worker was first) → drop, quietly
          │ won
    read the job and its model from chain → Executor.run (fetch, sandbox, upload)
          │ ok                               │ the job's fault      │ this worker's fault
    MsgSubmitResult + signed receipt    MsgReleaseJob(retry=false)  MsgReleaseJob(retry=true)
                                        (fails, poster refunded)    (back in the queue)

The chain is the judge throughout: a result or release it refuses (deadline
passed, the job taken back) is logged and dropped, never retried into a
double payment.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chain.client import ChainRefused, NodeError
from modules.jobs import receipt
from modules.jobs.errors import CODESPACE as JOBS
from modules.jobs.errors import ErrNotQueued
from modules.jobs.msgs import ExecutionReceipt, MsgClaimJob, MsgReleaseJob, MsgSubmitResult
from worker.agent.chainio import BroadcastRefused, TxOutcome
from worker.agent.executor import Outcome

if TYPE_CHECKING:
    from chain.client import NodeClient
    from chain.crypto import PrivateKey
    from worker.agent.chainio import TxSender, TxWaiter
    from worker.agent.executor import Executor
    from worker.agent.metrics import WorkerMetrics
    from worker.agent.state import AgentState

log = logging.getLogger("vcoin.worker.job")

LOST_RACE = ErrNotQueued.code  # jobs/7: the job was no longer queued when our claim ran


@dataclass
class Slot:
    """A job this worker holds or is claiming."""

    job_id: int
    claim_tx: str = ""
    event_at: float | None = None
    started: float = field(default_factory=time.monotonic)
    abandoned: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    phase: str = "claiming"


def lost_race(codespace: str, code: int) -> bool:
    """The chain's answer to a claim on a job someone else claimed first."""
    return codespace == JOBS and code == LOST_RACE


def claim_msg(worker: str, job_id: int) -> Any:
    return MsgClaimJob(worker=worker, job_id=job_id)


@dataclass(frozen=True)
class RunnerDeps:
    """What a ``JobRunner`` needs of the agent that starts it, and nothing more
    (``Agent.runner_deps`` builds it once the agent is set up)."""

    address: str  # this worker's account: claims, results and releases are its
    key: PrivateKey  # signs the execution receipt
    chain_id: str  # the receipt's domain
    client: Callable[[], NodeClient]  # a node client for the calling thread
    model: Callable[[str], dict[str, Any]]  # the chain's model record by id (cached)
    executor: Executor | None  # runs a job; None only before the agent's set-up
    state: AgentState  # the persisted phase of each held job
    metrics: WorkerMetrics
    waiter: TxWaiter  # a sent tx's outcome in a block
    sender: TxSender  # signs and broadcasts this worker's txs
    stopping: threading.Event  # set once the agent is shutting down
    avoid: Callable[[int], None]  # do not claim this job again (given back for our fault)
    job_done: Callable[[Slot], None]  # the slot is free again; called last, always


class _JobLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Adds ``job_id`` to every record and keeps a call's own ``extra`` too."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs


class JobRunner:
    def __init__(self, deps: RunnerDeps, slot: Slot) -> None:
        self.deps = deps
        self.slot = slot
        self.job_id = slot.job_id
        self.log = _JobLog(log, {"job_id": slot.job_id})

    # -- the thread body ---------------------------------------------------------
    def run(self) -> None:
        a = self.deps
        try:
            if self.slot.claim_tx and not self._claim_won():
                return
            job = a.client().query("jobs", "job", {"id": str(self.job_id)})
            if job["state"] != "claimed" or job["worker"] != a.address:
                self.log.info(
                    "job %d is %s, no longer ours; dropping it", self.job_id, job["state"]
                )
                return
            model = a.model(job["model"])
            self.slot.phase = "running"
            a.state.set_job(self.job_id, phase="running", result_deadline=job["result_deadline"])
            self.log.info(
                "running job %d (%s on %s)",
                self.job_id,
                job["task_type"],
                job["model"],
                extra={"result_deadline": job["result_deadline"]},
            )
            assert a.executor is not None
            outcome = a.executor.run(job, model)
            if self.slot.abandoned.is_set():
                self.log.info(
                    "job %d finished after it was given back; result dropped", self.job_id
                )
                return
            if outcome.ok:
                self._submit(outcome)
            else:
                self._report_failure(outcome)
        except Exception as e:  # noqa: BLE001 - a job never takes the agent down
            self.log.exception("job %d: unexpected error; giving it back", self.job_id)
            if not self.slot.abandoned.is_set():
                self.release(retry=True, reason=f"worker error: {type(e).__name__}: {e}"[:256])
        finally:
            a.job_done(self.slot)

    # -- claim ---------------------------------------------------------------------
    def _claim_won(self) -> bool:
        a = self.deps
        out = a.waiter.wait(self.slot.claim_tx, timeout=60)
        if out is None:
            # Not in a block after a minute: ask the chain who holds the job.
            job = a.client().query("jobs", "job", {"id": str(self.job_id)})
            won = bool(job["state"] == "claimed" and job["worker"] == a.address)
            a.metrics.claims.labels("won" if won else "error").inc()
            if not won:
                self.log.warning("claim on job %d never showed up in a block", self.job_id)
            return won
        if out.ok:
            a.metrics.claims.labels("won").inc()
            self.log.info("won job %d at height %d", self.job_id, out.height)
            return True
        if lost_race(out.codespace, out.code):
            a.metrics.claims.labels("lost").inc()
            self.log.info("job %d went to another worker first; moving on", self.job_id)
        else:
            a.metrics.claims.labels("refused").inc()
            self.log.warning(
                "claim on job %d refused: %s/%d %s", self.job_id, out.codespace, out.code, out.log
            )
        return False

    # -- results -------------------------------------------------------------------
    def _submit(self, o: Outcome) -> None:
        a = self.deps
        sig = receipt.sign(
            a.key,
            a.chain_id,
            self.job_id,
            o.image_digest,
            bytes.fromhex(o.model_hash),
            bytes.fromhex(o.input_hash),
            bytes.fromhex(o.output_hash),
        )
        msg = MsgSubmitResult(
            worker=a.address,
            job_id=self.job_id,
            output_hash=o.output_hash,
            artifact_ref=o.artifact_ref,
            compute_units=o.compute_units,
            receipt=ExecutionReceipt(
                image_digest=o.image_digest,
                model_hash=o.model_hash,
                input_hash=o.input_hash,
                output_hash=o.output_hash,
                signature=sig,
            ),
        )
        a.state.set_job(self.job_id, phase="submitting", output_hash=o.output_hash)
        out = self._send(msg, "submit")
        if out is not None and out.ok:
            a.metrics.jobs.labels("submitted").inc()
            a.metrics.job_seconds.observe(time.monotonic() - self.slot.started)
            self.log.info(
                "submitted job %d: output %s, %d compute units, run %.2fs",
                self.job_id,
                o.output_hash,
                o.compute_units,
                o.seconds,
            )
        elif out is not None:
            a.metrics.jobs.labels("lost").inc()
            self.log.warning(
                "result for job %d refused: %s/%d %s", self.job_id, out.codespace, out.code, out.log
            )

    def _report_failure(self, o: Outcome) -> None:
        a = self.deps
        a.metrics.failures.labels(o.error_code).inc()
        if o.retry:
            a.avoid(self.job_id)
            self.log.warning(
                "job %d could not run here (%s); giving it back", self.job_id, o.reason
            )
        else:
            self.log.info("job %d failed: %s", self.job_id, o.reason)
        self.release(retry=o.retry, reason=o.reason)

    def release(self, retry: bool, reason: str) -> TxOutcome | None:
        a = self.deps
        msg = MsgReleaseJob(worker=a.address, job_id=self.job_id, reason=reason, retry=retry)
        out = self._send(msg, "release")
        if out is not None and out.ok:
            a.metrics.jobs.labels("given_back" if retry else "failed").inc()
        elif out is not None:
            self.log.warning(
                "release of job %d refused: %s/%d %s", self.job_id, out.codespace, out.code, out.log
            )
        return out

    def _send(self, msg: Any, kind: str) -> TxOutcome | None:
        a = self.deps
        try:
            sent = a.sender.send([msg], kind)
        except BroadcastRefused as e:
            self.log.warning("%s for job %d refused at CheckTx: %s", kind, self.job_id, e)
            return None
        except (NodeError, ChainRefused) as e:
            self.log.warning("%s for job %d not sent: %s", kind, self.job_id, e)
            return None
        # once stopping, no block stream resolves it: poll straight away
        grace = 0.0 if a.stopping.is_set() else 5.0
        out = a.waiter.wait(sent.hash, timeout=60, stream_grace=grace)
        if out is None:
            self.log.warning(
                "%s tx %s for job %d not in a block after 60s", kind, sent.hash, self.job_id
            )
        return out
