"""Bring-your-own models where the CLI cannot check: no pickle is ever read, and the worker
holds a model's manifest to the chain's record of it before it fetches any file.

* a manifest naming a pickle-format file is refused (``bad_model``) before anything
  loads, and the runtime's loaders take safetensors only;
* the worker's model cache (a real artifact server and ``ArtifactClient``) compares the
  manifest with the record (kind, ``total_bytes``, ``max_model_bytes`` for an account's
  model), each size at, just under and just over: a mismatch fails the job as
  ``bad_model`` with the reason on chain, and the weights never reach the worker.
"""

from __future__ import annotations

import base64
import hashlib
import json
import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chain.artifacts import ArtifactClient
from chain.crypto import PrivateKey
from compute.runtime.__main__ import run_job
from compute.runtime.errors import JobError
from compute.runtime.models import PICKLE_SUFFIXES, Manifest, materialize, parse_manifest
from compute.sandbox import Limits
from compute.sandbox.process_backend import ProcessSandbox
from tests.support.artifacts import artifact_server
from worker.agent.executor import Executor, ModelCache
from worker.models.artifact import ModelArtifact, publish, write_model

OWNER = PrivateKey.from_seed(b"byom-owner").bech32


def _manifest(name: str) -> bytes:
    return Manifest("m", "causal-lm", {"config.json": ("a" * 64, 2), name: ("b" * 64, 8)}).to_json()


@pytest.mark.parametrize(
    "name",
    [f"pytorch_model{s}" for s in PICKLE_SUFFIXES] + ["sub/Weights.PT", "training_args.bin"],
)
def test_a_manifest_naming_a_pickle_file_is_refused(name: str) -> None:
    with pytest.raises(JobError) as e:
        parse_manifest(_manifest(name))
    assert e.value.code == "bad_model"
    assert repr(name) in e.value.message and "save the model as safetensors" in e.value.message


@pytest.mark.parametrize("name", ["model.safetensors", "tokenizer.model", "vocab.txt"])
def test_a_manifest_of_safe_files_is_taken(name: str) -> None:
    assert name in parse_manifest(_manifest(name)).files


class _Boom:
    """Unpickling this writes a marker file: what a malicious checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.marker, "pwned"))


def test_the_runtime_refuses_a_pickle_model_before_loading_anything(
    tiny_lm: ModelArtifact, tmp_path: Path
) -> None:
    """A model registered without the CLI, its weights a pickle that runs code when
    loaded: the job fails as bad_model and the pickle is never opened."""
    marker = tmp_path / "marker"
    bomb = tmp_path / "pytorch_model.bin"
    bomb.write_bytes(pickle.dumps(_Boom(marker)))
    scratch = tmp_path / "scratch"
    _, src = materialize(tiny_lm.folder, tiny_lm.digest, scratch)
    files = {p.name: p for p in src.iterdir() if p.name != "model.safetensors"}
    art = write_model("evil", "causal-lm", {**files, "pytorch_model.bin": bomb}, tmp_path / "m")
    spec = {
        "version": 1,
        "task": "text-generation",
        "model": art.digest,
        "input": {"inline": {"prompts": ["Hello"]}},
        "params": {"max_new_tokens": 2},
    }
    (tmp_path / "job.json").write_text(json.dumps(spec))
    with pytest.raises(JobError) as e:
        run_job(tmp_path / "job.json", tmp_path, art.folder, tmp_path / "out", scratch)
    assert e.value.code == "bad_model" and "'pytorch_model.bin'" in e.value.message
    assert not marker.exists()


def test_the_loaders_take_safetensors_only(tiny_lm: ModelArtifact, tmp_path: Path) -> None:
    """A model folder whose weights are a (harmless) torch pickle: transformers would load
    it; the runtime's loader refuses to look at anything but safetensors."""
    import torch
    from safetensors.torch import load_file

    from compute.runtime.tasks import text_generation

    _, linked = materialize(tiny_lm.folder, tiny_lm.digest, tmp_path / "scratch")
    src = tmp_path / "pickled"
    src.mkdir()
    for p in linked.iterdir():
        if p.name != "model.safetensors":
            shutil.copyfile(p, src / p.name)
    torch.save(load_file(linked / "model.safetensors"), src / "pytorch_model.bin")
    with pytest.raises(OSError, match="safetensors"):
        text_generation(src, tiny_lm.digest, {"prompts": ["Hi"]}, {"max_new_tokens": 1}, "cpu", src)


# -- the worker holds the manifest to the chain's record --------------------------------


@pytest.fixture(scope="module")
def store(tiny_lm: ModelArtifact, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with artifact_server(tmp_path_factory.mktemp("store")) as (url, _):
        with ArtifactClient(url, PrivateKey.from_seed(b"publisher")) as c:
            publish(tiny_lm, c)
        yield url


def _total(art: ModelArtifact) -> int:
    return sum(size for _, size in art.manifest.files.values())


def _record(art: ModelArtifact, **kw: Any) -> dict[str, Any]:
    """A ``jobs/model`` answer for ``art`` as an account registered it."""
    rec = {
        "id": "my-lm",
        "task_types": ["text-generation", "lora-train"],
        "weights_sha256": art.digest,
        "owner": OWNER,
        "kind": "causal-lm",
        "total_bytes": str(_total(art)),
    }
    rec.update(kw)
    return {k: v for k, v in rec.items() if v is not None}


def _weights(art: ModelArtifact) -> set[str]:
    return {d for d, _ in art.manifest.files.values()}


def _fetched(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if not p.name.startswith(".")}


@pytest.mark.parametrize(
    ("declared", "limit", "ok"),
    [
        (0, 0, True),  # total_bytes equal, max_model_bytes equal
        (-1, 0, False),  # total_bytes just under what the files add up to
        (+1, 0, False),  # just over
        (0, -1, False),  # max_model_bytes just under the files
        (0, +1, True),  # just over
    ],
)
def test_the_cache_holds_the_manifest_to_the_record(
    tiny_lm: ModelArtifact, store: str, tmp_path: Path, declared: int, limit: int, ok: bool
) -> None:
    total = _total(tiny_lm)
    with ArtifactClient(store) as client:
        cache = ModelCache(tmp_path / "models", client)
        rec = _record(tiny_lm, total_bytes=str(total + declared))
        if ok:
            cache.fetch(tiny_lm.digest, rec, total + limit)
            assert _fetched(cache.folder) == {tiny_lm.digest} | _weights(tiny_lm)
            return
        with pytest.raises(JobError) as e:
            cache.fetch(tiny_lm.digest, rec, total + limit)
    assert e.value.code == "bad_model"
    if declared:
        assert f"total_bytes {total + declared} but its manifest's files add up to {total}" in (
            e.value.message
        )
    else:
        assert f"{total} bytes of files; max_model_bytes is {total + limit}" in e.value.message
    assert _fetched(cache.folder) == {tiny_lm.digest}  # the manifest alone, no weights


def test_the_authoritys_model_has_no_size_rule_but_its_kind_still_counts(
    tiny_lm: ModelArtifact, store: str, tmp_path: Path
) -> None:
    with ArtifactClient(store) as client:
        cache = ModelCache(tmp_path / "models", client)
        with pytest.raises(JobError, match="registered as sentence-embedding but its manifest"):
            cache.fetch(tiny_lm.digest, _record(tiny_lm, kind="sentence-embedding"), None)
        assert _fetched(cache.folder) == {tiny_lm.digest}
        # the authority's record: no owner, kind or total_bytes; max_model_bytes is for accounts
        genesis = _record(tiny_lm, owner=None, kind=None, total_bytes=None)
        cache.fetch(tiny_lm.digest, genesis, 1)
    assert _fetched(cache.folder) == {tiny_lm.digest} | _weights(tiny_lm)


def _job(prompt: str = "Hello") -> dict[str, Any]:
    data = json.dumps({"prompts": [prompt]}).encode()
    return {
        "id": "7",
        "task_type": "text-generation",
        "input_hash": hashlib.sha256(data).hexdigest(),
        "inline_input": base64.b64encode(data).decode(),
        "spec": json.dumps({"params": {"max_new_tokens": 2}}),
    }


def test_the_executor_fails_a_job_whose_model_lies_about_its_size(
    tiny_lm: ModelArtifact, store: str, tmp_path: Path
) -> None:
    """What goes on chain: the job fails as the model's fault (bad_model, refund, no
    retry elsewhere), with the reason; the worker never fetched the weights. A node that
    cannot say max_model_bytes gives the job back instead."""
    asked: list[int] = []

    def limit() -> int:
        asked.append(1)
        return 1 << 40

    # the executor uploads the job's output: a signed client, as the worker's
    with ArtifactClient(store, PrivateKey.from_seed(b"worker")) as client:
        ex = Executor(ProcessSandbox(), client, tmp_path / "work", Limits(), max_model_bytes=limit)
        out = ex.run(_job(), _record(tiny_lm, total_bytes=str(_total(tiny_lm) - 1)))
        assert not out.ok and not out.retry and out.error_code == "bad_model"
        assert out.reason.startswith("bad_model: model 'my-lm' is registered with total_bytes")
        assert asked == [1]
        assert _fetched(ex.models.folder) == {tiny_lm.digest}

        def down() -> int:
            raise ConnectionError("node down")

        ex.max_model_bytes = down
        out = ex.run(_job(), _record(tiny_lm))
        assert not out.ok and out.retry and "node down" in out.reason
        assert _fetched(ex.models.folder) == {tiny_lm.digest}
