"""The lora-shard and lora-aggregate runtime tasks, run in this process as a worker runs
them: deterministic shard updates that train B only, an aggregate that anyone recomputes
bit for bit, refusals with the runtime's error codes, and a global adapter peft loads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from compute.runtime.errors import JobError
from compute.runtime.hashing import save_safetensors
from compute.training.adapter import is_a, read, write_peft_dir
from compute.training.aggregate import aggregate
from compute.training.verify import check_shard, compare_aggregate, compare_shard, loss_evaluator
from tests.compute.training.conftest import CONFIG, Runner, kv_jsonl


@pytest.fixture(scope="module")
def round0(
    tiny_models: tuple[Path, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Round 0 of a 3-shard training over 30 records, its aggregate, and round 1's shard 0."""
    models, art = tiny_models
    r = Runner(models, art.digest, tmp_path_factory.mktemp("round0"))
    data = r.dataset(kv_jsonl(30))
    shards = [r.shard(data, 0, i, 3) for i in range(3)]
    ups = [(i, r.publish(s), s["metrics"]["records"]) for i, s in enumerate(shards)]
    agg = r.aggregate(0, ups)
    glob = r.publish(agg)
    nxt = r.shard(data, 1, 0, 3, glob=glob)
    return {
        "r": r,
        "data": data,
        "shards": shards,
        "ups": ups,
        "agg": agg,
        "glob": glob,
        "nxt": nxt,
    }


def test_a_shard_trains_b_only_from_the_seeds_a_and_repeats_bit_for_bit(
    round0: dict[str, Any],
) -> None:
    r: Runner = round0["r"]
    first = round0["shards"][0]
    again = r.shard(round0["data"], 0, 0, 3)
    assert first["ok"] and again["output_hash"] == first["output_hash"]
    tensors, meta = read(r.output(first))
    assert [meta[k] for k in ("task", "training", "round", "shard")] == [
        "lora-shard",
        "1",
        "0",
        "0",
    ]
    assert meta["records"] == "10" and len(json.loads(meta["train_losses"])) == CONFIG["steps"]
    assert float(meta["eval_loss"]) > 0
    other, _ = read(r.output(round0["shards"][1]))
    a_names = [k for k in tensors if is_a(k)]
    b_names = [k for k in tensors if not is_a(k)]
    assert len(a_names) == len(b_names) == 4  # q_proj and v_proj of 2 layers
    for k in a_names:  # A is the seed's on every shard: the shards trained on other data
        assert torch.equal(tensors[k], other[k])
    for k in b_names:
        assert tensors[k].abs().sum() > 0 and not torch.equal(tensors[k], other[k])
    # another seed draws another A
    seeded = r.shard(round0["data"], 0, 0, 3, config={**CONFIG, "seed": 12})
    assert not torch.equal(read(r.output(seeded))[0][a_names[0]], tensors[a_names[0]])


def test_the_aggregate_is_the_weighted_mean_of_b_recomputed_bit_for_bit(
    round0: dict[str, Any], tmp_path: Path
) -> None:
    r: Runner = round0["r"]
    paths = [(r.inputs / h, w) for _, h, w in round0["ups"]]
    out = r.output(round0["agg"])
    assert out.read_bytes() == aggregate(paths) == aggregate(paths[::-1])
    assert out.read_bytes() == aggregate(paths, training=1, round=0)
    glob, meta = read(out)
    assert meta["aggregation"] == "ffa-mean" and json.loads(meta["weights"]) == [10, 10, 10]
    ups = [read(p)[0] for p, _ in paths]
    for k, t in glob.items():
        if is_a(k):
            assert torch.equal(t, ups[0][k])
        else:
            want = sum(u[k].double() * 10 for u in ups) / 30
            assert torch.equal(t, want.float())
    # the weights matter
    other = aggregate([(p, w + i) for i, (p, w) in enumerate(paths)])
    assert other != out.read_bytes()
    (tmp_path / "claimed").write_bytes(out.read_bytes())
    (tmp_path / "other").write_bytes(other)
    assert compare_aggregate(tmp_path / "claimed", out)
    assert not compare_aggregate(tmp_path / "other", out)


def test_an_update_that_changed_a_or_belongs_elsewhere_is_refused(
    round0: dict[str, Any], tmp_path: Path
) -> None:
    r: Runner = round0["r"]
    path = r.inputs / round0["ups"][1][1]
    tensors, meta = read(path)
    a = next(k for k in tensors if is_a(k))
    bent = dict(tensors)
    bent[a] = tensors[a] * 1.001
    save_safetensors(bent, tmp_path / "bent", meta)
    h_bent = r.put((tmp_path / "bent").read_bytes())
    ups = [round0["ups"][0], (1, h_bent, 10), round0["ups"][2]]
    with pytest.raises(JobError, match="A factor .* is not the training seed's") as e:
        r.aggregate(0, ups)
    assert e.value.code == "bad_input"
    with pytest.raises(ValueError, match="not the training seed's"):
        aggregate([(r.inputs / h, w) for _, h, w in ups])
    # an update of another round (round 1's shard 0) in round 0's aggregate
    stale = [round0["ups"][0], (1, r.publish(round0["nxt"]), 10)]
    with pytest.raises(JobError, match="is of round 1, not 0"):
        r.aggregate(0, stale)
    with pytest.raises(ValueError, match="shard 0 is given twice"):
        aggregate([(r.inputs / round0["ups"][0][1], 10)] * 2)


def test_refs_are_checked_before_anything_runs(round0: dict[str, Any]) -> None:
    r: Runner = round0["r"]
    dataset, manifest, n = round0["data"]
    doc = {
        "kind": "lora-shard",
        "training": 1,
        "round": 0,
        "shard": 0,
        "shards": 3,
        "records": n,
        "dataset": dataset,
        "manifest": manifest,
        "global": "",
        "config": CONFIG,
    }
    with pytest.raises(JobError) as e:
        r.run("lora-shard", doc, refs=[manifest, dataset])
    assert e.value.code == "bad_job_spec"
    with pytest.raises(JobError) as e:
        r.run("lora-shard", {**doc, "manifest": "0" * 64})
    assert e.value.code == "input_not_found"
    with pytest.raises(JobError, match="lists 30 records, the job says 31") as e:
        r.run("lora-shard", {**doc, "records": 31})
    assert e.value.code == "bad_input"
    # a manifest of another dataset
    other = r.dataset(kv_jsonl(30, seed=8))
    with pytest.raises(JobError, match="another dataset") as e:
        r.run("lora-shard", {**doc, "manifest": other[1]})
    with pytest.raises(JobError) as e:
        r.run("lora-shard", {**doc, "config": {**CONFIG, "targets": ["no_such_proj"]}})
    assert e.value.code == "bad_input"


def test_the_global_adapter_loads_with_peft_and_is_the_same_adapter(
    round0: dict[str, Any], tiny_models: tuple[Path, Any], tmp_path: Path
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from compute.runtime.models import materialize
    from compute.runtime.tasks import lm_batch

    r: Runner = round0["r"]
    models, art = tiny_models
    _, model_dir = materialize(models, art.digest, tmp_path / "scratch")
    folder = write_peft_dir(r.output(round0["agg"]), tmp_path / "adapter")
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    peft_model = PeftModel.from_pretrained(base, folder).eval()
    loaded = {k: v for k, v in peft_model.state_dict().items() if "lora_B" in k}
    assert loaded and all(v.abs().sum() > 0 for v in loaded.values())
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    text = "abc=cba;"
    with torch.no_grad():
        theirs = float(peft_model(**lm_batch(tok, [text], 32, "cpu")).loss)
    ours = loss_evaluator(model_dir, CONFIG, [text])(r.output(round0["agg"]))
    assert theirs == pytest.approx(ours, abs=1e-6)
    assert (
        load_file(str(folder / "adapter_model.safetensors")).keys()
        == read(r.output(round0["agg"]))[0].keys()
    )


def test_a_shard_check_passes_a_rerun_and_fails_stale_random_or_bent_updates(
    round0: dict[str, Any], tiny_models: tuple[Path, Any], tmp_path: Path
) -> None:
    from compute.runtime.models import materialize
    from compute.runtime.training_tasks import shard_texts

    r: Runner = round0["r"]
    claimed = r.output(round0["nxt"])
    rerun_res = r.shard(round0["data"], 1, 0, 3, glob=round0["glob"])
    rerun = r.output(rerun_res)
    glob = r.inputs / round0["glob"]
    models, art = tiny_models
    _, model_dir = materialize(models, art.digest, tmp_path / "scratch")
    dataset, manifest, n = round0["data"]
    doc = {"training": 1, "round": 1, "shard": 0, "shards": 3, "records": n}
    texts = shard_texts({**doc, "dataset": dataset, "manifest": manifest}, r.inputs)
    loss_of = loss_evaluator(model_dir, CONFIG, texts)
    ok = check_shard(claimed, rerun, glob, loss_of)
    assert ok.passed and ok.similarity_bps == 10_000, ok
    # stale: the round's global sent back untrained (its B cosine with the rerun is high)
    tensors, meta = read(glob)
    meta = {**read(claimed)[1]}
    save_safetensors(tensors, tmp_path / "stale", meta)
    stale = check_shard(tmp_path / "stale", rerun, glob, loss_of)
    assert not stale.passed and "update cosine 0 bps" in stale.reason
    # random B of the right shapes
    gen = torch.Generator().manual_seed(3)
    rand = {
        k: v if is_a(k) else torch.randn(v.shape, generator=gen) * 0.01 for k, v in tensors.items()
    }
    save_safetensors(rand, tmp_path / "random", meta)
    assert not compare_shard(tmp_path / "random", rerun, glob, loss_of)[0]
    # the right direction at twice the step: passes the cosine, fails the loss
    mine = read(rerun)[0]
    scaled = {k: v if is_a(k) else tensors[k] + 3 * (v - tensors[k]) for k, v in mine.items()}
    save_safetensors(scaled, tmp_path / "scaled", meta)
    sc = check_shard(tmp_path / "scaled", rerun, glob, loss_of)
    assert sc.similarity_bps >= 9500 and not sc.passed and "held-out loss" in sc.reason
    # the right B, a bent A
    bent = {k: v * 1.0001 if is_a(k) else v for k, v in mine.items()}
    save_safetensors(bent, tmp_path / "bent", meta)
    assert "A is frozen" in check_shard(tmp_path / "bent", rerun, glob).reason
    # a shard of another index
    other_meta = {**meta, "shard": "1"}
    save_safetensors(mine, tmp_path / "other", other_meta)
    assert not check_shard(tmp_path / "other", rerun, glob).passed
