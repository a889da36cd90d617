"""A training task's refs reach the sandbox, and a worker that serves lora-train says so.

* the worker agent downloads every artifact a training job's inline input names
  (``compute.jobspec.ref_digests``: dataset, manifest, global adapter, updates) from a
  real artifact server into the job's inputs folder as ``inputs/<sha256>``, read-only,
  before the sandbox runs, and the runtime trains round 0's shard from them; a ref the
  store does not have fails the job as ``input_not_found``, one whose bytes miss their
  name as ``input_hash_mismatch``, a malformed training input as ``bad_input`` (the
  job's fault: no retry, the sandbox never runs), a store that is down gives the job
  back (the worker's fault);
* ``advertised``: a worker that serves lora-train registers lora-shard and
  lora-aggregate too; one that does not, does not.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from chain.artifacts import ArtifactClient
from chain.crypto import PrivateKey
from compute.sandbox import Limits
from compute.sandbox.base import Mounts, SandboxResult
from compute.sandbox.process_backend import ProcessSandbox
from compute.training.manifest import build_manifest
from tests.support.artifacts import artifact_server
from tests.support.nodes import free_port
from worker.agent.executor import Executor
from worker.agent.policy import advertised
from worker.models.artifact import ModelArtifact, publish

KEY = PrivateKey.from_seed(b"training-refs")


class SeeingSandbox(ProcessSandbox):
    """The process sandbox, remembering what the job's inputs folder held when it ran."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict[str, tuple[bytes, int]]] = []

    def run(
        self,
        argv: Sequence[str],
        mounts: Mounts,
        limits: Limits,
        env: dict[str, str] | None = None,
        gpus: Sequence[str] = (),
    ) -> SandboxResult:
        files = sorted(mounts.inputs.iterdir())
        self.seen.append({p.name: (p.read_bytes(), p.stat().st_mode & 0o777) for p in files})
        return super().run(argv, mounts, limits, env, gpus)


@pytest.fixture(scope="module")
def store(
    tiny_lm: ModelArtifact, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    blobs = tmp_path_factory.mktemp("store")
    with artifact_server(blobs) as (url, _):
        with ArtifactClient(url, KEY) as c:
            publish(tiny_lm, c)
        yield url, blobs


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _put(url: str, data: bytes) -> str:
    with ArtifactClient(url, KEY) as c:
        c.upload_bytes(data)
    return sha(data)


CONFIG = {
    "rank": 2,
    "alpha": 4,
    "targets": ["q_proj", "v_proj"],
    "steps": 1,
    "lr_micro": 1000,
    "batch_size": 2,
    "seed": 7,
    "max_length": 16,
}
DATASET = b"".join(b'{"text":"key %d is value %d"}\n' % (i, i * 7) for i in range(6))


def _job(dataset: str, manifest: str, records: int = 6, extra: str = "") -> dict[str, Any]:
    """Round 0's shard 1 of 2 of training 3, as the chain's training module posts it."""
    doc = {
        "kind": "lora-shard",
        "training": 3,
        "round": 0,
        "shard": 1,
        "shards": 2,
        "records": records,
        "dataset": dataset,
        "manifest": manifest,
        "global": "",
        "config": CONFIG,
    }
    data = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode() + extra.encode()
    return {
        "id": "11",
        "task_type": "lora-shard",
        "model": "tiny-lm",
        "input_hash": hashlib.sha256(data).hexdigest(),
        "inline_input": base64.b64encode(data).decode(),
        "spec": "",
    }


def _model(art: ModelArtifact) -> dict[str, Any]:
    return {"id": "tiny-lm", "weights_sha256": art.digest, "task_types": ["lora-train"]}


def _corrupt(blobs: Path, digest: str) -> None:
    path = blobs / digest[:2] / digest[2:4] / digest
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:-1] + b"!")


def test_every_ref_lands_in_the_inputs_folder_before_the_run(
    store: tuple[str, Path], tiny_lm: ModelArtifact, tmp_path: Path
) -> None:
    url, _ = store
    manifest, n = build_manifest(DATASET)
    job = _job(_put(url, DATASET), _put(url, manifest), n)
    sandbox = SeeingSandbox()
    with ArtifactClient(url, KEY) as client:
        ex = Executor(sandbox, client, tmp_path / "work", Limits(timeout_s=300))
        out = ex.run(job, _model(tiny_lm))
    assert out.ok, out.reason
    (seen,) = sandbox.seen
    assert set(seen) == {job["input_hash"], sha(DATASET), sha(manifest)}
    assert seen[sha(DATASET)] == (DATASET, 0o444)
    assert seen[sha(manifest)] == (manifest, 0o444)
    assert not ex.job_dir(11).exists()  # the job's folder goes after the run
    with ArtifactClient(url, KEY) as client:  # the adapter went to the store
        assert client.exists(out.output_hash)


@pytest.mark.parametrize(
    ("fault", "code"),
    [("missing", "input_not_found"), ("corrupt", "input_hash_mismatch")],
)
def test_a_ref_the_store_cannot_give_right_fails_the_job_before_the_sandbox(
    store: tuple[str, Path], tiny_lm: ModelArtifact, tmp_path: Path, fault: str, code: str
) -> None:
    url, blobs = store
    dataset = _put(url, DATASET)
    if fault == "missing":
        manifest = sha(b"never uploaded")
    else:
        manifest = _put(url, build_manifest(DATASET)[0] + b" ")
        _corrupt(blobs, manifest)
    sandbox = SeeingSandbox()
    with ArtifactClient(url, KEY) as client:
        ex = Executor(sandbox, client, tmp_path / "work", Limits(timeout_s=120))
        out = ex.run(_job(dataset, manifest), _model(tiny_lm))
    assert (out.ok, out.error_code, out.retry) == (False, code, False)
    assert out.reason.startswith(f"{code}: ref {manifest} ")
    assert sandbox.seen == []


def test_a_malformed_training_input_fails_as_bad_input(
    store: tuple[str, Path], tiny_lm: ModelArtifact, tmp_path: Path
) -> None:
    url, _ = store
    job = _job("ab" * 32, "cd" * 32, records=1)  # fewer records than shards
    sandbox = SeeingSandbox()
    with ArtifactClient(url, KEY) as client:
        ex = Executor(sandbox, client, tmp_path / "work", Limits())
        out = ex.run(job, _model(tiny_lm))
    assert (out.ok, out.error_code, out.retry) == (False, "bad_input", False)
    assert "records" in out.reason and sandbox.seen == []


def test_a_store_that_is_down_gives_the_job_back(tiny_lm: ModelArtifact, tmp_path: Path) -> None:
    with ArtifactClient(f"http://127.0.0.1:{free_port()}", KEY) as client:
        ex = Executor(SeeingSandbox(), client, tmp_path / "work", Limits())
        out = ex.run(_job("ab" * 32, "cd" * 32), _model(tiny_lm))
    assert (out.ok, out.error_code, out.retry) == (False, "artifact_store_error", True)


def test_a_worker_serving_lora_train_advertises_the_training_tasks() -> None:
    assert advertised(["lora-train", "text-generation"]) == [
        "lora-aggregate",
        "lora-shard",
        "lora-train",
        "text-generation",
    ]
    assert advertised(["embedding", "text-generation"]) == ["embedding", "text-generation"]
    assert advertised([]) == []
