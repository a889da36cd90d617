"""The runtime's LoRA checkpoints: taken every k steps without changing the training,
chained by hash in the output, the same bits run after run, and a bad ``checkpoint_every``
refused naming the param."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from compute.runtime import checkpoints as ck
from compute.runtime.errors import JobError
from compute.runtime.spec import check_params
from tests.worker.test_runtime import job, run
from worker.models.artifact import ModelArtifact

LORA = {"texts": ["the quick brown fox", "jumps over the lazy dog", "a lazy fox"]}


def _read(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    from safetensors import safe_open
    from safetensors.numpy import load_file

    with safe_open(str(path), "np") as f:
        meta = dict(f.metadata())
    return load_file(str(path)), meta


def test_boundaries_cut_the_steps_every_k() -> None:
    assert ck.boundaries(8, 2) == [0, 2, 4, 6, 8]
    assert ck.boundaries(8, 3) == [0, 3, 6, 8]  # a shorter last interval
    assert ck.boundaries(8, 8) == [0, 8] == ck.boundaries(8, 50)  # one interval: a full replay
    assert ck.boundaries(8, 0) == []  # no checkpoints


def test_checkpoints_leave_the_training_alone_and_chain_up(
    tiny_lm: ModelArtifact, models_dir: Path, tmp_path: Path
) -> None:
    plain = run(job("lora-train", tiny_lm.digest, LORA, steps=6), tmp_path, models_dir, "p")
    spec = job("lora-train", tiny_lm.digest, LORA, steps=6, checkpoint_every=4)
    a = run(spec, tmp_path, models_dir, "a")
    b = run(spec, tmp_path, models_dir, "b")
    assert a["output_hash"] == b["output_hash"] != plain["output_hash"]
    assert a["metrics"]["checkpoints"] == 3 and "checkpoints" not in plain["metrics"]
    p_tensors, p_meta = _read(tmp_path / "p" / "output.safetensors")
    tensors, meta = _read(tmp_path / "a" / "output.safetensors")
    assert ck.META_KEY not in p_meta and not any(k.startswith(ck.PREFIX) for k in p_tensors)
    # the adapter a user takes is the same bits with or without checkpoints
    adapter = ck.adapter_tensors(tensors)
    assert sorted(adapter) == sorted(p_tensors)
    assert all(adapter[k].tobytes() == p_tensors[k].tobytes() for k in adapter)
    assert meta["train_losses"] == p_meta["train_losses"]
    doc = json.loads(meta[ck.META_KEY])
    assert (doc["format"], doc["every"], doc["steps"]) == (ck.CHAIN_FORMAT, 4, [0, 4, 6])
    digests = [
        ck.tensors_digest(
            {f"{p}.{k}": v for p in ck.PARTS for k, v in ck.checkpoint(tensors, i, p).items()}
        )
        for i in range(3)
    ]
    assert doc["checkpoints"] == digests
    params = check_params("lora-train", spec["params"])
    losses = json.loads(meta["train_losses"])
    assert doc["chain"] == ck.chain_links(tiny_lm.digest, params, digests, losses, [0, 4, 6])
    # checkpoint 0 is the fresh adapter (B zero, no moments); the last is the adapter
    assert all(not v.any() for k, v in ck.checkpoint(tensors, 0, "w").items() if "lora_B" in k)
    assert not any(v.any() for v in ck.checkpoint(tensors, 0, "m").values())
    last = ck.checkpoint(tensors, 2, "w")
    assert all(last[k].tobytes() == adapter[k].tobytes() for k in adapter)
    assert any(v.any() for v in ck.checkpoint(tensors, 1, "v").values())


@pytest.mark.parametrize("bad", [-1, 1001, True, 2.0])
def test_a_bad_checkpoint_every_is_refused_naming_it(bad: object) -> None:
    with pytest.raises(JobError) as e:
        check_params("lora-train", {"checkpoint_every": bad})
    assert e.value.code == "bad_job_spec" and "checkpoint_every" in e.value.message
    assert check_params("lora-train", {})["checkpoint_every"] == 0
