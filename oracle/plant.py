"""Plants: the oracle's own worker account submits known-bad results to test the oracles.

A *plant* (``modules.verification.canary``) is a wrong result whose right answer
the planter committed to before the claim; once the result has its verdict the
planter reveals it, and the chain punishes every oracle that attested it as a
pass. The daemon plants by itself (setting ``plant``, on by default; nothing
happens while the chain's ``plant_rate_bps`` is 0):

1. **A plant worker account.** A fresh secp256k1 key in ``<home>/plants.json``
   (0600). The oracle's account funds it by a bank transfer of the chain's
   ``min_bond_worker`` plus a fee budget (a drip pays far less than a worker
   bond), and the key registers as a worker for the plantable task types and the
   chain's models and bonds the minimum.
2. **Seasoned with honest work.** The worker claims ordinary jobs seen posted
   (not this oracle's canaries) that no worker took within ``plant_wait_blocks``
   (it does not race real workers for their jobs, and runs nothing they take),
   runs each in the oracle's sandbox and submits the right output, as any worker
   does: ``plant_season_jobs`` of them before its first plant.
3. **Plants at the odds.** Once seasoned, each job it takes is a plant with
   probability ``plant_rate_bps``/10000 (the chain's, read each time as
   ``canary_rate_bps`` is). Every job is run *before* the claim (honest or not,
   so the two look alike): the output's sha256 is ``E``. For a plant the oracle
   commits ``commitment(job, E, salt, planted=True)``, then the worker claims
   (the commitment is older than the claim; a job another worker claimed first
   leaves the commitment as a decoy), and submits a well-formed wrong output
   (each completion's text changed; every embedding row negated, so any drawn
   subset fails).
4. **Reveal after the verdict.** When the job is settled or rejected the oracle
   sends ``MsgRevealCanary(planted=true)`` signed by the plant worker's key.
   Metrics count plants made and revealed and oracles caught.
5. **Rotation.** After ``plant_rotate_after`` plants the key takes no more jobs;
   once its jobs are over it unbonds, and a fresh key is funded and seasoned.

Every step is written to ``plants.json`` before the next, and redone after a
crash only if the chain does not show it done: the transfer (the key's balance),
the bond (the ``bond`` query), the commitment (the ``canary`` query), the claim
and the submission (the job's worker and output). A reveal is sent only while
the commitment is still on chain (a reveal deletes it), so never twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chain.client import ChainRefused, QueryFailed
from chain.crypto import PrivateKey
from oracle import canary

if TYPE_CHECKING:
    from chain.client import NodeClient
    from oracle.canary_flow import CanaryRunner
    from oracle.metrics import OracleMetrics

log = logging.getLogger("vcoin.oracle.plant")

STATE_FILE = "plants.json"
PLANT_TASKS = ("text-generation", "embedding")
FEE_BUDGET_GAS = 20_000_000  # gas the plant worker may spend over its life
MAX_CANDIDATES = 50
KEEP_DONE = 100
IN_FLIGHT = ("open", "ran", "committed", "claimed")


@dataclass
class PlantKey:
    key_id: int
    secret: str
    address: str
    stage: str = "new"  # new | bonded | retired | unbonded
    honest: int = 0  # honest results submitted
    plants: int = 0  # plants submitted


@dataclass
class PlantJob:
    job_id: int
    key_id: int
    planted: bool
    stage: str = "open"  # open → ran → committed → claimed → submitted → final → done
    salt: str = ""
    expected: str = ""  # E: the right output's sha256
    output_hex: str = ""  # what the worker submits (the right output, or the wrong one)
    seconds: float = 0.0
    outcome: str = ""
    caught: int = 0


@dataclass(frozen=True)
class PlantDeps:
    """What the planter uses of the oracle (``Oracle.plant_deps`` builds it)."""

    address: str
    account: PrivateKey
    node: NodeClient
    artifacts_url: str
    executor: CanaryRunner
    rng: random.Random
    metrics: OracleMetrics
    start_task: Callable[[str, int, Callable[[], Any]], None]
    model_hash: Callable[[str], str]
    own_posters: Callable[[], set[str]]  # this oracle's canary personas
    season_jobs: int = 3
    rotate_after: int = 2
    wait_blocks: int = 20


class Planter:
    def __init__(self, deps: PlantDeps, home: Path) -> None:
        self.d = deps
        self.path = home / STATE_FILE
        self.keys: dict[int, PlantKey] = {}
        self.jobs: dict[int, PlantJob] = {}
        self.candidates: list[int] = []
        self.saved = ""
        if self.path.exists():
            doc = json.loads(self.path.read_text())
            self.keys = {int(k["key_id"]): PlantKey(**k) for k in doc["keys"]}
            self.jobs = {int(j["job_id"]): PlantJob(**j) for j in doc["jobs"]}
            self.candidates = [int(c) for c in doc.get("candidates", [])]
        for job_id in [i for i, j in self.jobs.items() if j.stage == "open"]:
            # its local run was under way at the crash: nothing of it is on chain yet
            del self.jobs[job_id]
            self.candidates.append(job_id)

    def save(self) -> None:
        doc = {
            "keys": [asdict(k) for _, k in sorted(self.keys.items())],
            "jobs": [asdict(j) for _, j in sorted(self.jobs.items())],
            "candidates": self.candidates,
        }
        raw = json.dumps(doc)
        if raw == self.saved:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".plants.")
        with os.fdopen(fd, "w") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)  # the plant worker keys
        os.replace(tmp, self.path)
        self.saved = raw

    def rate_bps(self) -> int:
        return int(self.d.node.query("verification", "params").get("plant_rate_bps", 0))

    def worker_key(self, k: PlantKey) -> PrivateKey:
        return PrivateKey(bytes.fromhex(k.secret))

    def current(self) -> PlantKey | None:
        live = [k for k in self.keys.values() if k.stage in ("new", "bonded")]
        return max(live, key=lambda k: k.key_id) if live else None

    # -- events ------------------------------------------------------------------------------
    def on_posted(self, job_id: int, task_type: str, poster: str) -> None:
        if task_type not in PLANT_TASKS or poster in self.d.own_posters():
            return
        self.candidates = [*self.candidates, job_id][-MAX_CANDIDATES:]

    def on_final(self, job_id: int) -> None:
        j = self.jobs.get(job_id)
        if j is not None and j.stage == "submitted":
            j.stage = "final"

    # -- the loop ----------------------------------------------------------------------------
    def act(self) -> None:
        """Chain steps: fund and bond a key, commit, claim, submit, reveal, rotate."""
        if self.rate_bps() <= 0:
            return
        for j in sorted(self.jobs.values(), key=lambda j: j.job_id):
            if j.stage in ("done", "open"):
                continue
            try:
                self.advance(j)
            except ChainRefused as e:
                log.error("plant job %d step %s refused: %s", j.job_id, j.stage, e)
                j.outcome, j.stage = f"failed at {j.stage}: {e}"[:300], "done"
            self.save()
        self.tend_keys()
        self.save()
        done = sorted(k for k, j in self.jobs.items() if j.stage == "done")
        for k in done[:-KEEP_DONE]:
            del self.jobs[k]

    def tend_keys(self) -> None:
        for old in list(self.keys.values()):
            if old.stage == "retired" and not any(
                j.key_id == old.key_id and j.stage != "done" for j in self.jobs.values()
            ):
                self.unbond(old)
        k = self.current()
        if k is None:
            key = PrivateKey(secrets.token_bytes(32))
            k = PlantKey(max(self.keys, default=0) + 1, key.secret.hex(), key.bech32)
            self.keys[k.key_id] = k
            self.save()  # the key is on disk before any coin goes to it
        if k.stage == "new":
            try:
                self.bond(k)
            except ChainRefused as e:
                log.warning("plant worker %s not bonded yet: %s", k.address, e)

    def bond(self, k: PlantKey) -> None:
        """Fund the key from the oracle's account (unless it holds enough: sent before a
        crash), register it as a worker and bond the chain's minimum."""
        from modules.jobs.msgs import MsgRegisterWorker
        from modules.staking.msgs import Coin, MsgBond

        node = self.d.node
        bond = node.query("staking", "bond", {"address": k.address, "role": "worker"})
        if not int(bond.get("bonded") or 0):
            stake = int(node.query("staking", "params")["min_bond_worker"])
            need = stake + FEE_BUDGET_GAS * node.min_gas_price()
            have = node.balance(k.address)
            if have < need:
                node.send_tx(self.d.account, [_send(self.d.address, k.address, need - have)])
            models = [str(m["id"]) for m in node.query("jobs", "models")["models"]]
            reg = MsgRegisterWorker(
                worker=k.address,
                gpu_model="",
                memory_mib=0,
                gpu_count=0,
                task_types=list(PLANT_TASKS),
                models=models,
                price_floor=str(market_floor(node)),
                max_concurrent=1,
            )
            amount = Coin(denom="avcn", amount=str(stake))
            bond_msg = MsgBond(address=k.address, role="worker", amount=amount)
            node.send_tx(self.worker_key(k), [reg, bond_msg], gas="auto")
        k.stage = "bonded"
        log.info("plant worker bonded", extra={"worker": k.address})

    def unbond(self, k: PlantKey) -> None:
        from modules.staking.msgs import Coin, MsgUnbond

        node = self.d.node
        bonded = int(
            node.query("staking", "bond", {"address": k.address, "role": "worker"})["bonded"]
        )
        if bonded:
            msg = MsgUnbond(
                address=k.address, role="worker", amount=Coin(denom="avcn", amount=str(bonded))
            )
            try:
                node.send_tx(self.worker_key(k), [msg], gas="auto")
            except ChainRefused as e:
                log.warning("retired plant worker %s did not unbond: %s", k.address, e)
        k.stage = "unbonded"

    # -- taking a job -----------------------------------------------------------------------
    def start_next(self) -> bool:
        """Take the oldest candidate still queued after ``wait_blocks`` and run it in the
        background; False if none."""
        if self.rate_bps() <= 0:
            return False
        k = self.current()
        if k is None or k.stage != "bonded":
            return False
        if any(j.stage in IN_FLIGHT for j in self.jobs.values()):
            return False
        bond = self.d.node.query("staking", "bond", {"address": k.address, "role": "worker"})
        if int(bond.get("jailed_until") or 0) > self.d.node.latest_height():
            return False  # a caught plant jails its worker: it claims again once that ends
        height = self.d.node.latest_height()
        for job_id in list(self.candidates):
            job = self.d.node.query("jobs", "job", {"id": job_id})
            if job_id in self.jobs or job.get("state") != "queued" or _needs_hardware(job):
                self.candidates.remove(job_id)  # taken, or not for a worker without GPUs
                continue
            if height - int(job.get("posted_height") or 0) < self.d.wait_blocks:
                continue  # real workers get the first chance: the plant worker takes leftovers
            self.candidates.remove(job_id)
            seasoned = k.honest >= self.d.season_jobs
            planted = seasoned and self.d.rng.randrange(10_000) < self.rate_bps()
            j = PlantJob(job_id, k.key_id, planted, salt=secrets.token_bytes(32).hex())
            self.jobs[job_id] = j
            self.save()
            self.d.start_task("plant", job_id, partial(self.run, job, planted))
            return True
        return False

    def run(self, job: dict[str, Any], planted: bool) -> tuple[str, bytes, float]:
        """Run ``job`` in the sandbox: E and what the worker will submit (wrong for a plant)."""
        with self.d.executor.local_run(job, self.d.model_hash(job["model"]), "plant") as run:
            assert run.output_path is not None and run.output_hash is not None
            right = run.output_path.read_bytes()
            out = wrong_output(job["task_type"], right) if planted else right
            return run.output_hash, out, run.seconds

    def prepared(self, job_id: int, result: Any, error: BaseException | None) -> None:
        j = self.jobs.get(job_id)
        if j is None or j.stage != "open":
            return
        if error is not None:
            j.stage, j.outcome = "done", f"local run failed: {error}"[:300]
            log.warning("plant worker skips job %d: %s", job_id, j.outcome)
        else:
            j.expected, out, j.seconds = result
            j.output_hex, j.stage = out.hex(), "ran"
        self.save()

    # -- chain steps of one job ---------------------------------------------------------------
    def advance(self, j: PlantJob) -> None:
        k = self.keys[j.key_id]
        key = self.worker_key(k)
        node = self.d.node
        if j.stage == "ran":
            if j.planted and not self.commit(j, k):
                why = "claimed before a commitment of ours (or revealed before a restart)"
                j.stage, j.outcome = "done", f"not planted: {why}"
                return
            j.stage = "committed"
            self.save()
        if j.stage == "committed":
            job = node.query("jobs", "job", {"id": j.job_id})
            if job.get("worker") != k.address:  # not claimed by us before a crash
                if job.get("state") != "queued":
                    j.stage, j.outcome = "done", "missed: another worker claimed it first"
                    return
                from modules.jobs.msgs import MsgClaimJob

                node.send_tx(key, [MsgClaimJob(worker=k.address, job_id=j.job_id)], gas="auto")
            j.stage = "claimed"
            self.save()
        if j.stage == "claimed":
            self.submit(j, k, key)
            self.save()
        if j.stage == "submitted":
            state = node.query("jobs", "job", {"id": j.job_id}).get("state")
            if state in ("settled", "rejected"):
                j.stage = "final"
            elif state not in ("submitted", "checking"):
                j.stage, j.outcome = "done", f"no verdict: the job is {state}"
        if j.stage == "final":
            if j.planted:
                self.reveal(j, key)
            else:
                j.outcome = "honest"
            j.stage = "done"

    def commit(self, j: PlantJob, k: PlantKey) -> bool:
        """Commit to E before the claim. True when the commitment is on chain (sent now, or
        before a crash); False when the job was claimed already (by another worker, or by
        ours after a commitment a reveal has since removed): no commitment is sent then."""
        c = canary.commitment(j.job_id, j.expected, j.salt, planted=True).hex()
        try:
            self.d.node.query("verification", "canary", {"commitment": c})
            return True  # sent before a crash
        except QueryFailed:
            pass
        if self.d.node.query("jobs", "job", {"id": j.job_id}).get("state") != "queued":
            return False
        msg = canary.commit_msg(self.d.address, j.job_id, j.expected, j.salt, planted=True)
        self.d.node.send_tx(self.d.account, [msg], gas="auto")
        return True

    def submit(self, j: PlantJob, k: PlantKey, key: PrivateKey) -> None:
        from chain.artifacts import ArtifactClient
        from modules.jobs import receipt
        from modules.jobs.msgs import ExecutionReceipt, MsgSubmitResult

        node = self.d.node
        job = node.query("jobs", "job", {"id": j.job_id})
        out = bytes.fromhex(j.output_hex)
        digest = hashlib.sha256(out).hexdigest()
        if job.get("output_hash") != digest:  # not submitted before a crash
            if job.get("state") != "claimed":
                j.stage, j.outcome = "done", f"not submitted: the job is {job.get('state')}"
                return
            with ArtifactClient(self.d.artifacts_url, key) as art:
                art.upload_bytes(out)
            model_hash = self.d.model_hash(job["model"])
            image = receipt_image(self.d.executor)
            args = (bytes.fromhex(model_hash), bytes.fromhex(job["input_hash"]))
            sig = receipt.sign(key, node.chain_id(), j.job_id, image, *args, bytes.fromhex(digest))
            msg = MsgSubmitResult(
                worker=k.address,
                job_id=j.job_id,
                output_hash=digest,
                artifact_ref=f"{self.d.artifacts_url}/artifacts/{digest}",
                compute_units=max(1, int(j.seconds * 1000)),
                receipt=ExecutionReceipt(
                    image_digest=image,
                    model_hash=model_hash,
                    input_hash=job["input_hash"],
                    output_hash=digest,
                    signature=sig,
                ),
            )
            node.send_tx(key, [msg], gas="auto")
        j.stage, j.output_hex = "submitted", ""
        if j.planted:
            k.plants += 1
            self.d.metrics.plants.labels("made").inc()
            log.info("plant submitted", extra={"job_id": j.job_id, "worker": k.address})
            if k.plants >= self.d.rotate_after:
                k.stage = "retired"
        else:
            k.honest += 1

    def reveal(self, j: PlantJob, key: PrivateKey) -> None:
        """Reveal once: only while the commitment is on chain (the reveal deletes it)."""
        node = self.d.node
        c = canary.commitment(j.job_id, j.expected, j.salt, planted=True).hex()
        try:
            node.query("verification", "canary", {"commitment": c})
        except QueryFailed:
            j.outcome = "revealed before a restart, or expired"
            return
        msg = canary.reveal_msg(
            self.d.address, j.job_id, j.expected, j.salt, key, node.chain_id(), planted=True
        )
        resp = node.send_tx(self.d.account, [msg], gas="auto")
        j.caught = sum(int(x) for x in resp.attributes("PlantRevealed", "caught"))
        j.outcome = f"revealed: {j.caught} oracle(s) caught"
        self.d.metrics.plants.labels("revealed").inc()
        self.d.metrics.plant_oracles_caught.inc(j.caught)
        log.info("plant revealed", extra={"job_id": j.job_id, "caught": j.caught})


def market_floor(node: NodeClient) -> int:
    """The median ask (``price_floor``) of the workers on chain (one page), 0 with none.

    A plant worker asks what the market asks: a floor of 0 would settle the jobs it takes
    at the chain's min price, paying its worker nothing, which gives it away and undercuts
    every honest worker."""
    rows = node.query("jobs", "workers", {"limit": 200}).get("workers") or []
    floors = sorted(int(w.get("price_floor") or 0) for w in rows)
    return floors[len(floors) // 2] if floors else 0


def _send(sender: str, to: str, amount: int) -> Any:
    from cosmpy.protos.cosmos.bank.v1beta1.tx_pb2 import MsgSend
    from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin

    from chain.coins import DENOM

    return MsgSend(
        from_address=sender, to_address=to, amount=[Coin(denom=DENOM, amount=str(amount))]
    )


def _needs_hardware(job: dict[str, Any]) -> bool:
    return bool(
        int(job.get("min_gpu_count") or 0)
        or int(job.get("min_gpu_memory_mib") or 0)
        or job.get("gpu_model")
    )


def receipt_image(executor: Any) -> str:
    """What a worker's receipt names as the image (as ``worker/agent`` computes it): the
    docker image id, else the sandbox's name and the runtime's content tag. The oracle's
    sandbox runs the workers' image, so its plant worker's receipts read as any worker's."""
    sandbox = getattr(getattr(executor, "runner", None), "sandbox", None)
    image_id = str(getattr(sandbox, "image_id", "") or "")
    if image_id:
        return image_id
    name = str(getattr(sandbox, "name", "") or "process")
    try:
        from compute.image import image_tag

        return f"{name}:{image_tag()}"
    except Exception:  # noqa: BLE001 - no image recipe on this install
        return f"{name}:runtime"


def wrong_output(task_type: str, right: bytes) -> bytes:
    """A well-formed output that differs from ``right`` everywhere a check looks: each
    completion's text changed (its token ids no longer decode to it), every embedding
    row negated (cosine −1 on any drawn row)."""
    if task_type == "text-generation":
        doc = json.loads(right)
        for c in doc["completions"]:
            c["completion"] = "x" + str(c["completion"])
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    if task_type == "embedding":
        from safetensors.numpy import load, save

        tensors = load(right)
        meta = json.loads(right[8 : 8 + int.from_bytes(right[:8], "little")]).get("__metadata__")
        return bytes(save({k: -v for k, v in tensors.items()}, metadata=meta))
    raise ValueError(f"no plant for task type {task_type!r}")
