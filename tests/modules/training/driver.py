"""A worker and an oracle in this process, over a node's RPC and artifact store, for the
training CLI test and ``scripts/bench/training.py``.

``Market(client, rest)`` registers and bonds ``worker1`` (tiny-lm, ``lora-train`` and the
two training tasks) and bonds ``oracle1``; ``step()`` then does what the daemons would:
claims each queued training job, runs it with the job runtime in process
(``compute.runtime.__main__.run_job``: the inputs folder filled as the agent fills it,
refs included), uploads the output and submits it with a signed receipt, and attests
every job waiting for an oracle (the aggregate, always checked) after recomputing it.
``run_training(t)`` steps until the training ends. Each phase's wall time is summed in
``times`` (chain: txs and polls; upload: the store's reads and writes; train: shard
jobs in the runtime; aggregate: aggregate jobs in the runtime; check: the oracle's
re-runs), which the bench reports.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

from chain.artifacts import ArtifactClient
from chain.client import NodeClient
from genesis.devnet import DEVNET_MODEL_BUILDS, dev_key

VCN = 10**18
IMAGE = "sha256:" + "ab" * 32
TASKS = ("lora-shard", "lora-aggregate")
ORACLE_SEED = hashlib.sha256(b"training-cli oracle1").digest()
DONE = ("completed", "failed", "cancelled")


def publish_devnet_models(rest: str, folder: Path) -> None:
    """The devnet models' blobs into the node's artifact store (as scripts/devnet does)."""
    from worker.models.__main__ import build
    from worker.models.artifact import publish

    with ArtifactClient(rest, dev_key("platform")) as client:
        for name, seed in sorted(set(DEVNET_MODEL_BUILDS.values())):
            publish(build(name, folder, seed), client)


class Market:
    """worker1 and oracle1 in this process (module docstring)."""

    def __init__(self, client: NodeClient, rest: str, work: Path, price_floor: int = 0) -> None:
        from modules.jobs import msgs as jm
        from modules.staking.msgs import Coin, MsgBond

        self.client, self.rest, self.work = client, rest, work
        self.worker, self.oracle = dev_key("worker1"), dev_key("oracle1")
        self.oracle_sk = SigningKey(ORACLE_SEED)
        self.times: dict[str, float] = defaultdict(float)
        self.store = ArtifactClient(rest, self.worker)
        self.oracle_store = ArtifactClient(rest, self.oracle)
        self.models = work / "models"
        self.checked: set[int] = set()
        self.log: list[dict[str, Any]] = []
        client.send_tx(
            self.worker,
            [
                jm.MsgRegisterWorker(
                    worker=self.worker.bech32,
                    gpu_model="",
                    task_types=["lora-train", *TASKS],
                    models=["tiny-lm"],
                    price_floor=str(price_floor),
                    max_concurrent=16,
                ),
                MsgBond(
                    address=self.worker.bech32,
                    role="worker",
                    amount=Coin(denom="avcn", amount=str(1_000 * VCN)),
                ),
            ],
            gas="auto",
        )
        client.send_tx(
            self.oracle,
            [
                MsgBond(
                    address=self.oracle.bech32,
                    role="oracle",
                    amount=Coin(denom="avcn", amount=str(10_000 * VCN)),
                    ed25519_pubkey=bytes(self.oracle_sk.verify_key),
                )
            ],
            gas="auto",
        )

    def close(self) -> None:
        self.store.close()
        self.oracle_store.close()

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.times[phase] += time.perf_counter() - t0

    # -- running a job ---------------------------------------------------------------
    def execute(self, job: dict[str, Any], store: ArtifactClient, base: Path) -> dict[str, Any]:
        """Run ``job`` in process as the worker agent would; the runtime's result."""
        from compute.jobspec import ref_digests, runtime_job, write_inline_input
        from compute.runtime.__main__ import run_job
        from worker.models.artifact import fetch_model

        with self.timed("chain"):
            model = self.client.query("jobs", "model", {"id": job["model"]})
        if base.exists():
            shutil.rmtree(base)
        inputs, out = base / "inputs", base / "out"
        inputs.mkdir(parents=True)
        (base / "job.json").write_text(json.dumps(runtime_job(job, model)))
        write_inline_input(job, inputs)
        with self.timed("upload"):
            for digest in ref_digests(job):
                store.download(digest, inputs / digest)
            fetch_model(store, model["weights_sha256"], self.models)
        phase = "train" if job["task_type"] == "lora-shard" else "aggregate"
        with self.timed(phase):
            result: dict[str, Any] = run_job(
                base / "job.json", inputs, self.models, out, device="cpu"
            )
        result["path"] = out / result["output"]["file"]
        return result

    def work_on(self, job_id: int) -> str:
        """worker1 claims, runs and submits ``job_id``; the output's sha256."""
        from modules.jobs import msgs as jm
        from modules.jobs import receipt

        w = self.worker
        with self.timed("chain"):
            self.client.send_tx(w, [jm.MsgClaimJob(worker=w.bech32, job_id=job_id)], gas="auto")
            job = self.client.query("jobs", "job", {"id": job_id})
            model_hash = self.client.query("jobs", "model", {"id": job["model"]})["weights_sha256"]
        res = self.execute(job, self.store, self.work / f"job-{job_id}")
        out = res["output_hash"]
        with self.timed("upload"):
            self.store.upload_file(res["path"], digest=out)
        sig = receipt.sign(
            w,
            self.client.chain_id(),
            job_id,
            IMAGE,
            bytes.fromhex(model_hash),
            bytes.fromhex(job["input_hash"]),
            bytes.fromhex(out),
        )
        submit = jm.MsgSubmitResult(
            worker=w.bech32,
            job_id=job_id,
            output_hash=out,
            artifact_ref=f"artifact://{out}",
            compute_units=max(1, int(res["metrics"].get("run_seconds", 0) * 1000)),
            receipt=jm.ExecutionReceipt(
                image_digest=IMAGE,
                model_hash=model_hash,
                input_hash=job["input_hash"],
                output_hash=out,
                signature=sig,
            ),
        )
        with self.timed("chain"):
            self.client.send_tx(w, [submit], gas="auto")
        return str(out)

    def attest(self, job_id: int) -> str:
        """oracle1 re-runs ``job_id`` and attests pass when the output hash is the same."""
        from modules.verification import attestation
        from modules.verification import msgs as vm

        with self.timed("chain"):
            job = self.client.query("jobs", "job", {"id": job_id})
        with self.timed("check"):
            res = self.execute(job, self.oracle_store, self.work / f"check-{job_id}")
        same = res["output_hash"] == job["output_hash"]
        verdict, sim = ("pass", 10_000) if same else ("fail", 0)
        evidence = hashlib.sha256(f"{job_id}:{res['output_hash']}".encode()).digest()
        sig = attestation.sign(
            self.oracle_sk, self.client.chain_id(), job_id, verdict, sim, evidence
        )
        msg = vm.MsgAttest(
            oracle=self.oracle.bech32,
            job_id=job_id,
            verdict=verdict,
            similarity_bps=sim,
            evidence_hash=evidence.hex(),
            signature=sig,
        )
        with self.timed("chain"):
            self.client.send_tx(self.oracle, [msg], gas="auto")
        return verdict

    # -- the loop ----------------------------------------------------------------------
    def _logged(self, what: str, job: dict[str, Any], fn: Any) -> None:
        """Run ``fn(job_id)`` and log the seconds each phase took for it."""
        before = dict(self.times)
        fn(int(job["id"]))
        phases = {k: v - before.get(k, 0.0) for k, v in self.times.items()}
        self.log.append({"what": what, "job": int(job["id"]), "task": job["task_type"], **phases})

    def step(self) -> int:
        """Claim and run every queued training job, attest every pending check; how
        many things were done. Each is logged in ``log`` with its phases' seconds."""
        done = 0
        with self.timed("chain"):
            queued = self.client.query("jobs", "jobs", {"state": "queued", "limit": 100})["jobs"]
        for j in sorted(queued, key=lambda j: int(j["id"])):
            if j["task_type"] in TASKS:
                self._logged("work", j, self.work_on)
                done += 1
        with self.timed("chain"):
            pending = self.client.query("verification", "checking", {})["pending"]
        for p in pending:
            jid = int(p["job_id"])
            if jid not in self.checked:
                self.checked.add(jid)
                job = self.client.query("jobs", "job", {"id": jid})
                self._logged("check", job, self.attest)
                done += 1
        return done

    def run_training(self, training_id: int, timeout: float = 300) -> dict[str, Any]:
        """Step until the training is no longer running; its record."""
        deadline = time.monotonic() + timeout
        while True:
            with self.timed("chain"):
                rec: dict[str, Any] = self.client.query("training", "training", {"id": training_id})
            if rec["state"] in DONE:
                return rec
            if time.monotonic() > deadline:
                raise TimeoutError(f"training {training_id} still {rec['state']}: {rec}")
            if not self.step():
                with self.timed("chain"):
                    time.sleep(0.05)
