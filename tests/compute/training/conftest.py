"""Fixtures for the training runtime's tests: tiny-lm's blobs, and the two training tasks
run in this process through the runtime's own entry (``run_job``), as a worker runs them
in its sandbox: job.json, the inline input under its hash and every ref in the inputs
folder."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from compute.runtime.__main__ import run_job
from compute.runtime.hashing import canonical_json
from compute.training.manifest import build_manifest
from worker.models.artifact import ModelArtifact
from worker.models.tiny_lm import build_tiny_lm

CONFIG: dict[str, Any] = {
    "rank": 4,
    "alpha": 8,
    "targets": ["q_proj", "v_proj"],
    "steps": 3,
    "lr_micro": 10_000,
    "batch_size": 4,
    "seed": 11,
    "max_length": 32,
}


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ModelArtifact]:
    d = tmp_path_factory.mktemp("models")
    return d, build_tiny_lm(d, seed=0)


@dataclass
class Runner:
    """Runs training tasks on tiny-lm; every artifact lives in one inputs folder."""

    models: Path
    model: str
    root: Path
    n: int = 0

    @property
    def inputs(self) -> Path:
        d = self.root / "inputs"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        (self.inputs / digest).write_bytes(data)
        return digest

    def dataset(self, jsonl: bytes) -> tuple[str, str, int]:
        """(dataset hex, manifest hex, records) of a JSONL dataset, both stored."""
        manifest, n = build_manifest(jsonl)
        return self.put(jsonl), self.put(manifest), n

    def run(self, task: str, doc: dict[str, Any], refs: list[str] | None = None) -> dict[str, Any]:
        from compute.training.inputs import refs as ref_list

        raw = canonical_json(doc)
        self.n += 1
        job = {
            "version": 1,
            "job_id": str(self.n),
            "task": task,
            "model": self.model,
            "input": {"sha256": self.put(raw)},
            "params": {},
            "refs": ref_list(doc) if refs is None else refs,
        }
        jf = self.root / f"job{self.n}.json"
        jf.write_text(json.dumps(job))
        out = self.root / f"out{self.n}"
        return run_job(jf, self.inputs, self.models, out, device="cpu")

    def output(self, result: dict[str, Any]) -> Path:
        return self.root / f"out{result['job_id']}" / str(result["output"]["file"])

    def shard(
        self,
        data: tuple[str, str, int],
        round: int,
        shard: int,
        shards: int,
        glob: str = "",
        training: int = 1,
        config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        dataset, manifest, n = data
        doc = {
            "kind": "lora-shard",
            "training": training,
            "round": round,
            "shard": shard,
            "shards": shards,
            "records": n,
            "dataset": dataset,
            "manifest": manifest,
            "global": glob,
            "config": config or CONFIG,
        }
        return self.run("lora-shard", doc)

    def aggregate(
        self,
        round: int,
        updates: list[tuple[int, str, int]],
        glob: str = "",
        training: int = 1,
        config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        doc = {
            "kind": "lora-aggregate",
            "training": training,
            "round": round,
            "global": glob,
            "updates": [{"shard": s, "sha256": h, "weight": w} for s, h, w in updates],
            "config": config or CONFIG,
        }
        return self.run("lora-aggregate", doc)

    def publish(self, result: dict[str, Any]) -> str:
        """Put a job's output into the inputs folder (as the artifact store would)."""
        return self.put(self.output(result).read_bytes())


@pytest.fixture
def runner(tiny_models: tuple[Path, ModelArtifact], tmp_path: Path) -> Runner:
    models, art = tiny_models
    return Runner(models, art.digest, tmp_path)


def kv_jsonl(n: int, seed: int = 7) -> bytes:
    """``n`` records ``{"text": "abc=cba;"}``: random three-letter keys, each mapped to its
    reverse, a rule tiny-lm can learn from examples."""
    import random

    rng = random.Random(seed)
    letters = "abcdefghij"
    seen: set[str] = set()
    lines: list[str] = []
    while len(lines) < n:
        k = "".join(rng.choice(letters) for _ in range(3))
        if k in seen:
            continue
        seen.add(k)
        lines.append(json.dumps({"text": f"{k}={k[::-1]};"}))
    return ("\n".join(lines) + "\n").encode()
