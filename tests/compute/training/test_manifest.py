"""The dataset manifest and the training inputs: built canonically, refused with the line
or the field that is wrong, and the refs a training job names."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from compute.jobspec import ref_digests, runtime_job
from compute.runtime.errors import JobError
from compute.training.manifest import build_manifest, check_dataset, parse_manifest
from tests.compute.training.conftest import CONFIG

JSONL = (
    b'{"text": "abc=cba;"}\n'
    b'{"prompt": "Q: 2+2? ", "completion": "4"}\n'
    b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n'
)


def test_manifest_lists_each_line_by_hash_in_canonical_json() -> None:
    raw, n = build_manifest(JSONL)
    lines = JSONL.split(b"\n")[:3]
    assert n == 3
    assert json.loads(raw) == {
        "version": 1,
        "dataset": hashlib.sha256(JSONL).hexdigest(),
        "records": [hashlib.sha256(line).hexdigest() for line in lines],
    }
    assert raw == json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    m = parse_manifest(raw)
    assert check_dataset(m, JSONL) == ["abc=cba;", "Q: 2+2? 4", "user: hi\nassistant: yo\n"]
    # the last newline is optional: the same records, another dataset hash
    raw2, _ = build_manifest(JSONL[:-1])
    assert json.loads(raw2)["records"] == json.loads(raw)["records"]


@pytest.mark.parametrize(
    ("jsonl", "msg"),
    [
        (b"", "empty"),
        (b'{"text": "a"}\n\n{"text": "b"}\n', "line 2 is empty"),
        (b'{"text": "a"}\n{"text": \n', "line 2 is not JSON"),
        (b'{"text": "a"}\n{"txt": "b"}\n', r"line 2: a record is .*got keys \['txt'\]"),
        (b'{"text": "a", "extra": 1}\n', "line 1: a record is"),
        (b'["a"]\n', "line 1: each line must be a JSON object"),
        (b'{"text": "   "}\n', "line 1: the record has no text"),
        (b'{"messages": [{"role": "user", "content": "x"}]}\n', "line 1: .*assistant"),
        (b'{"prompt": "a", "completion": 3}\n', "line 1: prompt and completion"),
        (b'{"text": "a"}\r\n', r"line 1 ends with \\r"),
        (b'{"text": "\xff"}\n', "line 1 is not UTF-8"),
    ],
)
def test_bad_datasets_are_refused_naming_the_line(jsonl: bytes, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        build_manifest(jsonl)


def test_a_dataset_that_is_not_the_manifests_is_refused() -> None:
    m = parse_manifest(build_manifest(JSONL)[0])
    with pytest.raises(ValueError, match="hashes to"):
        check_dataset(m, JSONL + b'{"text": "more"}\n')
    with pytest.raises(ValueError, match="not canonical"):
        parse_manifest(json.dumps(json.loads(build_manifest(JSONL)[0])).encode())
    with pytest.raises(ValueError, match="records must be"):
        parse_manifest(b'{"dataset":"' + b"0" * 64 + b'","records":[],"version":1}')


H = [hashlib.sha256(bytes([i])).hexdigest() for i in range(6)]


def shard_doc(**over: Any) -> dict[str, Any]:
    doc = {
        "kind": "lora-shard",
        "training": 5,
        "round": 1,
        "shard": 2,
        "shards": 4,
        "records": 40,
        "dataset": H[0],
        "manifest": H[1],
        "global": H[2],
        "config": CONFIG,
    }
    return {**doc, **over}


def agg_doc(**over: Any) -> dict[str, Any]:
    doc = {
        "kind": "lora-aggregate",
        "training": 5,
        "round": 1,
        "global": H[2],
        "updates": [
            {"shard": 0, "sha256": H[3], "weight": 10},
            {"shard": 2, "sha256": H[4], "weight": 9},
        ],
        "config": CONFIG,
    }
    return {**doc, **over}


def chain_job(task: str, doc: Any) -> dict[str, Any]:
    raw = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return {
        "id": 9,
        "task_type": task,
        "input_hash": hashlib.sha256(raw).hexdigest(),
        "inline_input": base64.b64encode(raw).decode(),
        "spec": "",
    }


def test_ref_digests_name_every_artifact_once_and_job_json_carries_them() -> None:
    assert ref_digests(chain_job("lora-shard", shard_doc())) == [H[0], H[1], H[2]]
    assert ref_digests(chain_job("lora-shard", shard_doc(round=0, **{"global": ""}))) == H[:2]
    assert ref_digests(chain_job("lora-aggregate", agg_doc())) == [H[2], H[3], H[4]]
    assert ref_digests(chain_job("text-generation", {"prompts": ["x"]})) == []
    job = runtime_job(chain_job("lora-aggregate", agg_doc()), {"weights_sha256": H[5]})
    assert job["refs"] == [H[2], H[3], H[4]] and job["task"] == "lora-aggregate"
    plain = runtime_job(
        {**chain_job("text-generation", {}), "task_type": "text-generation"},
        {"weights_sha256": H[5]},
    )
    assert "refs" not in plain


@pytest.mark.parametrize(
    ("task", "doc", "msg"),
    [
        ("lora-shard", shard_doc(shard=4), "shard must be an integer in 0..3"),
        ("lora-shard", shard_doc(records=3), "records must be"),
        ("lora-shard", shard_doc(round=0), "global is empty in round 0"),
        ("lora-shard", shard_doc(dataset="ab"), "dataset must be a sha256"),
        ("lora-shard", shard_doc(config={**CONFIG, "rank": 0}), r"config.rank .* 1..64"),
        ("lora-shard", shard_doc(config={**CONFIG, "targets": []}), "config.targets"),
        ("lora-shard", shard_doc(extra=1), r"unknown keys \['extra'\]"),
        ("lora-shard", shard_doc(kind="lora-aggregate"), "kind must be"),
        ("lora-aggregate", agg_doc(updates=[]), "updates must be"),
        (
            "lora-aggregate",
            agg_doc(updates=agg_doc()["updates"][::-1]),
            "ascending shard order",
        ),
        ("lora-aggregate", agg_doc(updates=[{"shard": 0, "sha256": H[3], "weight": 0}]), "weight"),
        ("lora-aggregate", "not an object", "JSON object"),
    ],
)
def test_malformed_training_inputs_are_bad_input(task: str, doc: Any, msg: str) -> None:
    with pytest.raises(JobError, match=msg) as e:
        ref_digests(chain_job(task, doc))
    assert e.value.code == "bad_input"


def test_a_training_job_needs_its_inline_input_to_match_its_hash() -> None:
    job = chain_job("lora-shard", shard_doc())
    with pytest.raises(JobError) as e:
        ref_digests({**job, "input_hash": H[0]})
    assert e.value.code == "input_hash_mismatch"
    with pytest.raises(JobError, match="must be inline") as e:
        ref_digests({**job, "inline_input": ""})
    assert e.value.code == "bad_input"


def test_job_json_refs_belong_to_the_training_tasks_only() -> None:
    from compute.runtime.models import KIND_TASKS
    from compute.runtime.spec import parse_spec
    from compute.runtime.training_tasks import serves

    base = {"version": 1, "model": H[5], "input": {"sha256": H[0]}}
    ok = parse_spec(json.dumps({**base, "task": "lora-shard", "refs": H[:2]}).encode())
    assert ok.refs == tuple(H[:2]) and ok.params == {"seed": 0}
    for doc, msg in [
        ({**base, "task": "lora-shard"}, "lora-shard needs refs"),
        ({**base, "task": "lora-aggregate", "refs": ["x"]}, "each of refs must be a sha256"),
        ({**base, "task": "lora-train", "refs": H[:1]}, "refs are only for"),
        ({**base, "task": "lora-shard", "refs": H[:1], "params": {"steps": 3}}, "not known"),
    ]:
        with pytest.raises(JobError, match=msg) as e:
            parse_spec(json.dumps(doc).encode())
        assert e.value.code == "bad_job_spec"
    # a model runs the training tasks exactly when it serves lora-train
    assert serves(KIND_TASKS["causal-lm"], "lora-shard")
    assert serves(KIND_TASKS["causal-lm"], "lora-aggregate")
    assert not serves(KIND_TASKS["sentence-embedding"], "lora-shard")
