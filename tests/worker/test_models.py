"""Model artifacts: built reproducibly, published to and fetched from a real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chain.artifacts import ArtifactClient
from chain.crypto import PrivateKey
from compute.runtime.__main__ import run_job
from compute.runtime.errors import JobError
from compute.runtime.hashing import sha256_file
from compute.runtime.models import parse_manifest
from worker.models.artifact import ModelArtifact, fetch_model, publish, registry_entry
from worker.models.tiny_lm import build_tiny_lm


def test_tiny_lm_is_a_function_of_its_seed(tiny_lm: ModelArtifact, tmp_path: Path) -> None:
    again = build_tiny_lm(tmp_path / "a", seed=0)
    other = build_tiny_lm(tmp_path / "b", seed=1)
    assert again.digest == tiny_lm.digest
    assert other.digest != tiny_lm.digest
    # Only the weights depend on the seed.
    assert other.manifest.files["config.json"] == tiny_lm.manifest.files["config.json"]
    assert other.manifest.files["model.safetensors"] != tiny_lm.manifest.files["model.safetensors"]
    for blob in again.blobs():
        assert sha256_file(blob) == blob.name


def test_manifest_names_must_stay_inside_the_model_folder() -> None:
    doc = {
        "format": "vcoin-model/1",
        "name": "x",
        "kind": "causal-lm",
        "files": {"../../etc/passwd": {"sha256": "a" * 64, "size": 1}},
    }
    with pytest.raises(JobError) as e:
        parse_manifest(json.dumps(doc).encode())
    assert e.value.code == "bad_model" and "plain relative path" in e.value.message


def test_registry_entry_names_the_manifest_and_task_types(
    tiny_lm: ModelArtifact, minilm: ModelArtifact
) -> None:
    entry = registry_entry(tiny_lm, "tiny-lm")
    assert entry["weights_sha256"] == tiny_lm.digest
    assert entry["task_types"] == ["text-generation", "lora-train"]
    assert entry["config_sha256"] == tiny_lm.manifest.files["config.json"][0]
    assert registry_entry(minilm, "all-minilm-l6-v2")["task_types"] == ["embedding"]


def test_published_model_fetched_elsewhere_runs_to_the_same_hash(
    tiny_lm: ModelArtifact, models_dir: Path, artifact_server: str, tmp_path: Path
) -> None:
    spec = {
        "version": 1,
        "task": "text-generation",
        "model": tiny_lm.digest,
        "input": {"inline": {"prompts": ["Hello"]}},
        "params": {"max_new_tokens": 5},
    }
    (tmp_path / "job.json").write_text(json.dumps(spec))
    here = run_job(tmp_path / "job.json", tmp_path, models_dir, tmp_path / "here")
    with ArtifactClient(artifact_server, PrivateKey.from_seed(b"publisher")) as client:
        assert publish(tiny_lm, client) == tiny_lm.digest
        fetched = fetch_model(client, tiny_lm.digest, tmp_path / "cache")
    assert fetched.manifest == tiny_lm.manifest
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(
        b.name for b in tiny_lm.blobs()
    )
    there = run_job(tmp_path / "job.json", tmp_path, tmp_path / "cache", tmp_path / "there")
    assert there["output_hash"] == here["output_hash"]
