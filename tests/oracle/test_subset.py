"""Embeddings checked on rows drawn from the draw block's hash: the draw is an integer
function of the chain's randomness, honest outputs pass, a faked row is caught exactly
when drawn, a wrong shape always fails, and the threshold holds at, just under and just
over the row's cosine."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from modules.verification.keeper import subset_rows
from oracle.executor import Checked, Executor
from oracle.expected import InProcessRunner
from oracle.fixedpoint import BPS, cosine_bps
from oracle.similarity import Policy
from oracle.subset import compare_rows
from tests.oracle.conftest import Models, RunJob

TEXTS = [f"sentence {i}: the weather in spring is mild" for i in range(8)]


def test_rows_are_a_function_of_block_hash_and_job() -> None:
    h = hashlib.sha256(b"block").digest()
    rows = subset_rows(h, 7, 8, 3)
    assert rows == subset_rows(h, 7, 8, 3) and rows == sorted(set(rows)) and len(rows) == 3
    assert all(isinstance(r, int) and 0 <= r < 8 for r in rows)
    assert subset_rows(h, 7, 8, 8) == list(range(8)) == subset_rows(h, 7, 8, 99)
    assert subset_rows(h, 7, 8, 0) == [] and subset_rows(h, 7, 0, 2) == []
    others = {tuple(subset_rows(hashlib.sha256(bytes([i])).digest(), 7, 8, 3)) for i in range(50)}
    assert len(others) > 20  # other blocks, other rows


def test_each_row_is_drawn_about_equally_often() -> None:
    n, trials = 8, 4000
    counts = Counter(
        subset_rows(hashlib.sha256(i.to_bytes(4, "big")).digest(), 1, n, 1)[0]
        for i in range(trials)
    )
    # chi-square with 7 degrees of freedom: 24.3 is its 0.999 quantile
    chi2 = sum((counts[r] - trials / n) ** 2 / (trials / n) for r in range(n))
    assert chi2 < 24.3, counts


@pytest.fixture(scope="module")
def honest(run_job: RunJob, models: Models) -> Path:
    return run_job("embedding", models.minilm, {"texts": TEXTS})


def _rows_file(run_job: RunJob, models: Models, rows: list[int]) -> Path:
    return run_job("embedding", models.minilm, {"texts": [TEXTS[i] for i in rows]})


def _with_rows(src: Path, dst: Path, edit: dict[int, np.ndarray]) -> Path:
    from safetensors.numpy import load_file, save_file

    emb = load_file(str(src))["embeddings"].copy()
    for i, v in edit.items():
        emb[i] = v
    save_file({"embeddings": emb}, str(dst))
    return dst


def test_honest_rows_pass_and_a_faked_row_is_caught_exactly_when_drawn(
    run_job: RunJob, models: Models, honest: Path, tmp_path: Path
) -> None:
    rows = [1, 5]
    ours = _rows_file(run_job, models, rows)
    ok = compare_rows(ours, honest, rows, len(TEXTS), Policy())
    assert (ok.passed, ok.similarity_bps) == (True, BPS)
    noise = np.random.default_rng(0).standard_normal(384).astype(np.float32)
    faked = _with_rows(honest, tmp_path / "f5.safetensors", {5: noise})
    caught = compare_rows(ours, faked, rows, len(TEXTS), Policy())
    assert not caught.passed and caught.details["rows_bps"][5] < 2000
    missed = compare_rows(
        ours, _with_rows(honest, tmp_path / "f3.safetensors", {3: noise}), rows, 8, Policy()
    )
    assert missed.passed  # row 3 was not drawn: the price of checking 2 rows of 8


def test_wrong_shape_and_non_finite_output_fail_whatever_the_rows(
    run_job: RunJob, models: Models, honest: Path, tmp_path: Path
) -> None:
    from safetensors.numpy import load_file, save_file

    ours = _rows_file(run_job, models, [0])
    emb = load_file(str(honest))["embeddings"]
    short = tmp_path / "short.safetensors"
    save_file({"embeddings": emb[:-1].copy()}, str(short))
    assert compare_rows(ours, short, [0], 8, Policy()).similarity_bps == 0
    nan = _with_rows(honest, tmp_path / "nan.safetensors", {7: np.full(384, np.nan, np.float32)})
    assert not compare_rows(ours, nan, [0], 8, Policy()).passed
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"junk")
    assert compare_rows(ours, junk, [0], 8, Policy()).metric == "unreadable"


def test_threshold_at_just_under_and_just_over_the_row_cosine(
    run_job: RunJob, models: Models, honest: Path, tmp_path: Path
) -> None:
    from safetensors.numpy import load_file

    ours = _rows_file(run_job, models, [2])
    row = load_file(str(honest))["embeddings"][2]
    nudge = np.random.default_rng(1).standard_normal(384).astype(np.float32)
    moved = (row + 0.2 * nudge / np.linalg.norm(nudge)).astype(np.float32)
    out = _with_rows(honest, tmp_path / "moved.safetensors", {2: moved})
    sim = cosine_bps(load_file(str(ours))["embeddings"][0], moved)
    assert 9000 < sim < BPS
    for threshold, passed in ((sim - 1, True), (sim, True), (sim + 1, False)):
        c = compare_rows(ours, out, [2], 8, Policy(threshold_bps=threshold))
        assert (c.similarity_bps, c.passed) == (sim, passed)


class _Folder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def fetch_to_cache(self, digest: str, cache_dir: str | Path) -> Path:
        dst = Path(cache_dir) / digest
        if not dst.exists():
            shutil.copyfile(self.folder / digest, dst)
        return dst


def test_executor_reembeds_only_the_drawn_rows_in_process(
    models: Models, honest: Path, tmp_path: Path
) -> None:
    class Counting(InProcessRunner):
        texts: list[list[str]] = []

        def run(self, spec, inputs, models_dir, out):  # type: ignore[no-untyped-def]
            self.texts.append(spec["input"]["inline"]["texts"])
            return super().run(spec, inputs, models_dir, out)

    blobs = tmp_path / "blobs"
    shutil.copytree(models.folder, blobs)
    out_hash = hashlib.sha256(honest.read_bytes()).hexdigest()
    shutil.copyfile(honest, blobs / out_hash)
    raw = json.dumps({"texts": TEXTS}).encode()
    block = hashlib.sha256(b"draw block").hexdigest()
    job = {
        "id": "9",
        "task_type": "embedding",
        "model": "minilm",
        "spec": "",
        "inline_input": base64.b64encode(raw).decode(),
        "input_hash": hashlib.sha256(raw).hexdigest(),
        "output_hash": out_hash,
        "draw_block_hash": block,
        "check_rows": 2,
    }
    runner = Counting()
    ex = Executor(_Folder(blobs), runner, tmp_path / "oracle")
    got = ex.check(job, models.minilm, Policy())
    assert isinstance(got, Checked) and got.comparison.passed, got
    rows = subset_rows(bytes.fromhex(block), 9, 8, 2)
    assert got.comparison.details["checked_rows"] == rows
    assert runner.texts == []  # in process, the model kept loaded: no sandbox run
    # one faked row: caught when it is a drawn one, not otherwise
    noise = np.random.default_rng(2).standard_normal(384).astype(np.float32)
    for row, caught in ((rows[0], True), (next(i for i in range(8) if i not in rows), False)):
        faked = _with_rows(honest, tmp_path / f"faked{row}.safetensors", {row: noise})
        digest = hashlib.sha256(faked.read_bytes()).hexdigest()
        shutil.copyfile(faked, blobs / digest)
        c = ex.check({**job, "output_hash": digest}, models.minilm, Policy())
        assert isinstance(c, Checked) and c.comparison.passed is not caught


def test_a_cheap_check_leaves_a_model_of_the_wrong_kind_to_the_runtime(
    models: Models, honest: Path, tmp_path: Path
) -> None:
    # a text-generation job naming the sentence-embedding model: no prefill (which could
    # load it as some causal LM); the full re-execution's runtime refuses it, and a
    # result for a job that cannot run is wrong
    blobs = tmp_path / "blobs"
    shutil.copytree(models.folder, blobs)
    out_hash = hashlib.sha256(honest.read_bytes()).hexdigest()
    shutil.copyfile(honest, blobs / out_hash)
    raw = json.dumps({"prompts": ["Hello"]}).encode()
    job = {
        "id": "3",
        "task_type": "text-generation",
        "model": "minilm",
        "spec": "",
        "inline_input": base64.b64encode(raw).decode(),
        "input_hash": hashlib.sha256(raw).hexdigest(),
        "output_hash": out_hash,
    }
    ex = Executor(_Folder(blobs), InProcessRunner(), tmp_path / "oracle")
    got = ex.check(job, models.minilm, Policy())
    assert isinstance(got, Checked) and got.run is not None  # the runtime ran it
    assert (got.comparison.metric, got.comparison.passed) == ("job-cannot-run", False)
