"""The oracle checks the training module's jobs: a shard by the LoRA metric, an aggregate
exactly.

A real artifact server, the tiny LM, the runtime run in this process (the code the
sandbox runs) for both the "worker" and the oracle's re-run; the oracle's executor
fetches the job's refs (dataset, manifest, global, updates) into its inputs folder as a
worker does, re-runs the job and compares:

* an honest shard passes (similarity 10,000: the same CPU gives the same bits); a random
  adapter fails; a stale one (round 1's global sent back untrained) fails, on its
  metadata as it is, on its update's cosine (0) when dressed up with a shard's metadata;
* an honest aggregate passes; one computed with other weights fails (exact compare);
* a ref the store does not have: the oracle abstains (it cannot judge), it never fails
  the worker for it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chain.artifacts import ArtifactClient
from chain.crypto import PrivateKey
from compute.runtime.hashing import save_safetensors
from compute.training.adapter import read as read_adapter
from compute.training.manifest import build_manifest
from oracle.executor import Abstain, Checked, Executor
from oracle.expected import InProcessRunner
from oracle.similarity import Policy
from tests.e2e.cheater import fake
from tests.support.artifacts import artifact_server
from worker.models.artifact import publish
from worker.models.tiny_lm import build_tiny_lm

KEY = PrivateKey.from_seed(b"oracle-training")
CONFIG = {
    "rank": 2,
    "alpha": 4,
    "targets": ["q_proj", "v_proj"],
    "steps": 2,
    "lr_micro": 5000,
    "batch_size": 2,
    "seed": 11,
    "max_length": 16,
}
DATASET = b"".join(b'{"text":"key %d maps to %d"}\n' % (i, i * 3) for i in range(8))


def _canon(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def _job(job_id: int, task: str, doc: dict[str, Any], output: str = "") -> dict[str, Any]:
    data = _canon(doc)
    return {
        "id": str(job_id),
        "task_type": task,
        "model": "tiny-lm",
        "input_hash": hashlib.sha256(data).hexdigest(),
        "inline_input": base64.b64encode(data).decode(),
        "spec": "",
        "output_hash": output,
    }


@dataclass
class World:
    url: str
    model: str
    worker: Executor  # runs the jobs as a worker's runtime would
    oracle: Executor
    dataset: str
    manifest: str
    records: int

    def put(self, data: bytes) -> str:
        with ArtifactClient(self.url, KEY) as c:
            c.upload_bytes(data)
        return hashlib.sha256(data).hexdigest()

    def shard(self, r: int, i: int, global_in: str = "") -> dict[str, Any]:
        doc = {
            "kind": "lora-shard",
            "training": 5,
            "round": r,
            "shard": i,
            "shards": 2,
            "records": self.records,
            "dataset": self.dataset,
            "manifest": self.manifest,
            "global": global_in,
            "config": CONFIG,
        }
        return _job(100 + 10 * r + i, "lora-shard", doc)

    def aggregate(self, r: int, updates: list[tuple[int, str, int]], g: str = "") -> Any:
        ups = [{"shard": i, "sha256": d, "weight": w} for i, d, w in updates]
        doc = {
            "kind": "lora-aggregate",
            "training": 5,
            "round": r,
            "global": g,
            "updates": ups,
            "config": CONFIG,
        }
        return _job(200 + r, "lora-aggregate", doc)

    def run(self, job: dict[str, Any], tmp: Path) -> bytes:
        """The job's honest output (the worker's run), uploaded to the store."""
        out = self.worker.run(job, self.model, tmp)
        assert out.ok and out.output_path is not None, out.error_message
        data = out.output_path.read_bytes()
        self.put(data)
        return data

    def check(self, job: dict[str, Any], output: bytes) -> Checked | Abstain:
        digest = self.put(output)
        return self.oracle.check({**job, "output_hash": digest}, self.model, Policy())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("training-check")
    art = build_tiny_lm(tmp / "models", seed=0)
    with artifact_server(tmp / "store") as (url, _):
        with ArtifactClient(url, KEY) as c:
            publish(art, c)
            manifest, n = build_manifest(DATASET)
            c.upload_bytes(DATASET)
            c.upload_bytes(manifest)
            client = ArtifactClient(url, KEY)
            w = World(
                url,
                art.digest,
                Executor(client, InProcessRunner(), tmp / "worker"),
                Executor(client, InProcessRunner(), tmp / "oracle"),
                hashlib.sha256(DATASET).hexdigest(),
                hashlib.sha256(manifest).hexdigest(),
                n,
            )
            yield w
            client.close()


def _verdict(got: Checked | Abstain) -> tuple[bool, int]:
    assert isinstance(got, Checked), got
    return got.comparison.passed, got.comparison.similarity_bps


def test_shards_and_aggregates_are_judged(world: World, tmp_path: Path) -> None:
    s0 = world.run(world.shard(0, 0), tmp_path / "s0")
    s1 = world.run(world.shard(0, 1), tmp_path / "s1")
    # an honest shard passes, bit for bit on this CPU
    got = world.check(world.shard(0, 1), s1)
    assert _verdict(got) == (True, 10_000)
    assert isinstance(got, Checked) and got.comparison.metric.startswith("lora-shard")
    # a random adapter fails
    random_file = tmp_path / "random.safetensors"
    random_file.write_bytes(s1)
    fake("lora-shard", random_file, "random", random.Random(1))
    assert _verdict(world.check(world.shard(0, 1), random_file.read_bytes()))[0] is False

    # the aggregate: exact
    ups = [(0, hashlib.sha256(s0).hexdigest(), 4), (1, hashlib.sha256(s1).hexdigest(), 4)]
    agg = world.aggregate(0, ups)
    g = world.run(agg, tmp_path / "agg")
    assert _verdict(world.check(agg, g)) == (True, 10_000)
    skewed = world.run(world.aggregate(0, [ups[0][:2] + (1,), ups[1]]), tmp_path / "skew")
    assert skewed != g
    assert _verdict(world.check(agg, skewed)) == (False, 0)

    # round 1 from the global: a stale adapter (the global itself) fails on its update
    g_hex = world.put(g)
    (tmp_path / "g").write_bytes(g)
    r1 = world.shard(1, 0, g_hex)
    honest = world.run(r1, tmp_path / "r1")
    assert _verdict(world.check(r1, honest)) == (True, 10_000)
    # sent back as it is, its metadata gives it away
    stale = world.check(r1, g)
    assert isinstance(stale, Checked) and not stale.comparison.passed
    assert "metadata differs" in stale.comparison.details["reason"]
    # dressed up with the honest update's metadata, its update is zero: cosine 0
    stale_file = tmp_path / "stale.safetensors"
    save_safetensors(read_adapter(tmp_path / "g")[0], stale_file, _meta(honest, tmp_path))
    stale = world.check(r1, stale_file.read_bytes())
    assert isinstance(stale, Checked) and not stale.comparison.passed
    assert stale.comparison.details["update_cosine_bps"] == 0
    assert stale.comparison.similarity_bps == 0


def _meta(data: bytes, tmp: Path) -> dict[str, str]:
    (tmp / "meta").write_bytes(data)
    return read_adapter(tmp / "meta")[1]


def test_a_ref_the_store_lacks_makes_the_oracle_abstain(world: World, tmp_path: Path) -> None:
    missing = hashlib.sha256(b"a global nobody uploaded").hexdigest()
    shutil.rmtree(world.oracle.inputs / missing, ignore_errors=True)
    got = world.check(world.shard(1, 1, missing), b"whatever the worker sent")
    assert isinstance(got, Abstain) and "cannot fetch ref" in got.reason


class _CanaryNode:
    """The queries a canary's planning makes: a certain post; job 9 is a training shard."""

    def query(self, module: str, path: str, params: dict[str, Any] | None = None) -> Any:
        answers = {
            "params": {"canary_rate_bps": 9999},
            "bond": {"bonded": "100"},
            "active_set": {"total_bonded": "100"},
            "dripped": {"dripped": False},
        }
        if path in answers:
            return answers[path]
        job_id = int((params or {}).get("id", 0))
        if job_id == 9:
            return _job(9, "lora-shard", {"kind": "lora-shard"})
        doc = json.dumps({"texts": ["the cat sat on the mat"]}).encode()
        return {
            "id": job_id,
            "task_type": "embedding",
            "model": "all-minilm-l6-v2",
            "max_price": "5",
            "inline_input": base64.b64encode(doc).decode(),
        }


def test_a_training_job_is_never_a_canary_template(tmp_path: Path) -> None:
    """The oracle imitates the posters' job mix with canaries; a training's jobs are the
    training module's (MsgPostJob refuses their types), so they never join the mix (a
    canary planned from one could not even be built)."""
    from nacl.signing import SigningKey

    from oracle.config import OracleConfig
    from oracle.daemon import Oracle
    from oracle.follower import ChainEvent
    from oracle.state import OracleState

    cfg = OracleConfig(home=str(tmp_path), canary_min_observed=1)
    node: Any = _CanaryNode()
    o = Oracle(cfg, KEY, SigningKey.generate(), node, None, None, rng=random.Random(1))  # type: ignore[arg-type]
    o.state = OracleState(chain_id="c", last_height=9)
    user = {"job_id": "7", "task_type": "embedding", "poster": "vc1poster"}
    o.handle_block(10, [ChainEvent("JobPosted", user)])
    o.state.last_height = 10 + cfg.canary_settle_blocks  # the poster settled
    for i in range(5):
        shard = {"job_id": "9", "task_type": "lora-shard", "poster": "vc1training"}
        o.handle_block(11 + i, [ChainEvent("JobPosted", shard)])
    assert o.state.job_mix == [7]
    assert "vc1training" not in o.state.posters
    assert all(c.template_job == 7 for c in o.state.canaries.values())
