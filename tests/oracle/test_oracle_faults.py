"""Whose fault: the oracle's own failures abstain (and are logged with the job id); only
evidence about the worker's output fails the worker.

Each check goes through ``Executor.check`` (full re-execution) with fakes at two
boundaries, named as such: ``CannedRunExecutor`` returns a prepared re-execution instead
of running the sandbox, and ``StoreHolding`` is an artifact store holding the worker's
output. A fault is forced where it would arise: a metric replaced by ``broken_metric``,
a LoRA loader replaced by one that raises ``torch.cuda.OutOfMemoryError``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from chain.artifacts import NotFound
from oracle import executor as executor_mod
from oracle import similarity
from oracle.executor import Abstain, Checked, Executor
from oracle.expected import RunOutcome
from oracle.similarity import BadOutput, OracleFault, Policy, compare
from tests.oracle.conftest import Models, RunJob

POLICY = Policy(threshold_bps=9500)
JOB_ID = 4242
LORA_INPUT = {"texts": ["the cat sat on the mat", "a dog ran"], "eval_texts": ["the cat ran"]}
LORA_PARAMS = {"steps": 4, "learning_rate": 0.01}


class StoreHolding:
    """A fake artifact store that holds the worker's output (or nothing: NotFound)."""

    def __init__(self, output: Path | None) -> None:
        self.output = output

    def fetch_to_cache(self, digest: str, cache_dir: str | Path) -> Path:
        if self.output is None:
            raise NotFound(f"{digest} is not stored")
        return self.output


class CannedRunExecutor(Executor):
    """An ``Executor`` whose re-execution is a prepared output file (no sandbox)."""

    def __init__(self, home: Path, worker_output: Path | None, own_output: Path) -> None:
        super().__init__(StoreHolding(worker_output), runner=None, home=home, cheap_checks=False)  # type: ignore[arg-type]
        self.own_output = own_output
        self.loss_evaluator_of: Any = None

    def run(self, job: dict[str, Any], model_hash: str, run_dir: Path) -> RunOutcome:
        return RunOutcome(True, self.own_output, "ab" * 32, None, "", None, 0.0)

    def _loss_evaluator(self, job: Any, spec: Any, model_hash: str, run_dir: Path) -> Any:
        return self.loss_evaluator_of()


def job_of(task: str, inline: dict[str, Any], params: dict[str, Any] | None = None) -> dict:
    data = json.dumps(inline).encode()
    return {
        "id": JOB_ID,
        "task_type": task,
        "input_hash": hashlib.sha256(data).hexdigest(),
        "inline_input": base64.b64encode(data).decode(),
        "spec": json.dumps({"params": params or {}}),
        "output_hash": "cd" * 32,
    }


def embeddings(path: Path, values: np.ndarray) -> Path:
    save_file({"embeddings": values.astype(np.float32)}, str(path))
    return path


def vectors(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(2, 8))


EMBED_JOB = job_of("embedding", {"texts": ["one", "two"]})


def check(tmp_path: Path, job: dict, worker: Path | None, own: Path) -> Checked | Abstain:
    return CannedRunExecutor(tmp_path / "home", worker, own).check(job, "ef" * 32, POLICY)


def abstained_and_logged(
    result: Checked | Abstain, caplog: pytest.LogCaptureFixture, words: str
) -> None:
    assert isinstance(result, Abstain), result
    assert words in result.reason
    logged = [r for r in caplog.records if getattr(r, "job_id", None) == JOB_ID]
    assert logged and words in logged[-1].getMessage(), caplog.records


def failed(result: Checked | Abstain, metric: str) -> Checked:
    assert isinstance(result, Checked), result
    assert (result.comparison.passed, result.comparison.metric) == (False, metric)
    assert result.comparison.similarity_bps == 0 or metric != "unreadable"
    return result


# -- the oracle's own faults abstain -----------------------------------------------------------
def test_unknown_task_type_abstains(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A runtime newer than the oracle's metrics: it runs a task the oracle cannot compare.
    def runtime_that_knows_more_tasks(job: dict[str, Any], model_hash: str) -> dict[str, Any]:
        return {"task": job["task_type"], "params": {}}

    monkeypatch.setattr(executor_mod, "runtime_spec", runtime_that_knows_more_tasks)
    job = job_of("image-captioning", {"images": []})
    own = embeddings(tmp_path / "own.st", vectors(1))
    worker = embeddings(tmp_path / "worker.st", vectors(2))
    with caplog.at_level(logging.ERROR, logger="vcoin.oracle.executor"):
        result = check(tmp_path, job, worker, own)
    abstained_and_logged(result, caplog, "no metric for task type 'image-captioning'")


def test_oserror_on_the_oracles_own_output_abstains(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    worker = embeddings(tmp_path / "worker.st", vectors(2))
    vanished = tmp_path / "own-output-removed-under-the-oracle.st"
    with caplog.at_level(logging.ERROR, logger="vcoin.oracle.executor"):
        result = check(tmp_path, EMBED_JOB, worker, vanished)
    abstained_and_logged(result, caplog, "No such file")


def test_a_bug_in_a_metric_abstains(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_metric(a: Any, b: Any) -> list[int]:
        raise TypeError("unsupported operand type(s) for +: 'int' and 'NoneType'")

    monkeypatch.setattr(similarity, "rows_cosine_bps", broken_metric)
    own = embeddings(tmp_path / "own.st", vectors(1))
    worker = embeddings(tmp_path / "worker.st", vectors(1) * 1.001)
    with caplog.at_level(logging.ERROR, logger="vcoin.oracle.executor"):
        result = check(tmp_path, EMBED_JOB, worker, own)
    abstained_and_logged(result, caplog, "TypeError")


def test_the_oracles_own_unreadable_output_abstains(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    own = tmp_path / "own.st"
    own.write_bytes(b"\x00" * 64)  # the oracle's re-execution wrote a broken file
    worker = embeddings(tmp_path / "worker.st", vectors(1))
    with caplog.at_level(logging.ERROR, logger="vcoin.oracle.executor"):
        result = check(tmp_path, EMBED_JOB, worker, own)
    abstained_and_logged(result, caplog, "its own output does not read back")


@pytest.fixture(scope="module")
def lora_job(
    run_job: RunJob, models: Models, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Any]:
    """The oracle's own LoRA adapter, and a maker of the real held-out loss evaluator."""
    from compute.runtime.models import materialize
    from oracle.lora_eval import loss_evaluator

    own = run_job("lora-train", models.lm, LORA_INPUT, **LORA_PARAMS)
    _, model_dir = materialize(models.folder, models.lm, tmp_path_factory.mktemp("scratch"))
    return own, lambda: loss_evaluator(model_dir, LORA_PARAMS, LORA_INPUT["eval_texts"])


def near_copy(own: Path, to: Path) -> Path:
    """The adapter with float noise: an honest result from other hardware."""
    rng = np.random.default_rng(5)
    tensors = load_file(str(own))
    save_file(
        {k: v + rng.normal(0, 1e-6, v.shape).astype(np.float32) for k, v in tensors.items()},
        str(to),
    )
    return to


def test_cuda_out_of_memory_loading_the_workers_adapter_abstains(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    lora_job: tuple[Path, Any],
) -> None:
    import peft
    import torch

    own, make_evaluator = lora_job
    real_load = peft.set_peft_model_state_dict
    loads = {"n": 0}

    def oom_on_the_second_adapter_load(model: Any, state: Any, *a: Any, **kw: Any) -> Any:
        loads["n"] += 1  # the first is the oracle's own adapter, the second the worker's
        if loads["n"] == 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_load(model, state, *a, **kw)

    monkeypatch.setattr(peft, "set_peft_model_state_dict", oom_on_the_second_adapter_load)
    job = job_of("lora-train", LORA_INPUT, LORA_PARAMS)
    ex = CannedRunExecutor(tmp_path / "home", near_copy(own, tmp_path / "worker.st"), own)
    ex.loss_evaluator_of = make_evaluator
    with caplog.at_level(logging.ERROR, logger="vcoin.oracle.executor"):
        result = ex.check(job, "ef" * 32, POLICY)
    assert loads["n"] == 2
    abstained_and_logged(result, caplog, "OutOfMemoryError")


# -- evidence about the worker's output still fails it ---------------------------------------
def test_a_missing_worker_output_fails(tmp_path: Path) -> None:
    own = embeddings(tmp_path / "own.st", vectors(1))
    failed(check(tmp_path, EMBED_JOB, None, own), "missing-output")


def test_an_unparsable_worker_output_fails(tmp_path: Path) -> None:
    own = embeddings(tmp_path / "own.st", vectors(1))
    garbage = tmp_path / "worker.st"
    garbage.write_bytes(b"\xff" * 64)
    r = failed(check(tmp_path, EMBED_JOB, garbage, own), "unreadable")
    assert "safetensors" in r.comparison.details["error"]
    no_embeddings = tmp_path / "other.st"
    save_file({"vectors": vectors(1).astype(np.float32)}, str(no_embeddings))
    failed(check(tmp_path, EMBED_JOB, no_embeddings, own), "unreadable")


def test_an_unparsable_text_output_fails(tmp_path: Path) -> None:
    job = job_of("text-generation", {"prompts": ["Hi"]}, {"max_new_tokens": 2})
    own = tmp_path / "own.json"
    own.write_text(json.dumps({"completions": [{"prompt": "Hi", "completion": " there"}]}))
    for name, body in (("bad-json", b"{not json"), ("no-list", b'{"completions": 3}')):
        worker = tmp_path / name
        worker.write_bytes(body)
        failed(check(tmp_path, job, worker, own), "unreadable")


def test_a_dissimilar_worker_output_fails(tmp_path: Path) -> None:
    own = embeddings(tmp_path / "own.st", vectors(1))
    r = check(tmp_path, EMBED_JOB, embeddings(tmp_path / "worker.st", vectors(2)), own)
    assert isinstance(r, Checked) and not r.comparison.passed
    assert r.comparison.similarity_bps < 9500


def test_a_worker_adapter_that_does_not_fit_the_lora_is_bad_output(
    tmp_path: Path, lora_job: tuple[Path, Any]
) -> None:
    own, make_evaluator = lora_job
    loss_of = make_evaluator()
    garbage = tmp_path / "garbage.st"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(BadOutput, match="does not load"):
        loss_of(garbage)
    tensors = load_file(str(own))
    first = sorted(tensors)[0]
    for name, change in (
        ("wrong-shape", {**tensors, first: np.zeros((3, 3), np.float32)}),
        ("missing", {k: v for k, v in tensors.items() if k != first}),
        ("extra", {**tensors, "base_model.model.extra.lora_A.weight": tensors[first]}),
    ):
        save_file(change, str(tmp_path / name))
        with pytest.raises(BadOutput):
            loss_of(tmp_path / name)
    assert np.isfinite(loss_of(own))


def test_compare_raises_oracle_fault_not_a_failing_verdict(tmp_path: Path) -> None:
    own = embeddings(tmp_path / "own.st", vectors(1))
    with pytest.raises(OracleFault, match="no metric"):
        compare("speech-to-text", own, own, POLICY)
    with pytest.raises(OracleFault):
        compare("embedding", tmp_path / "gone.st", own, POLICY)


def test_the_row_subset_check_blames_only_the_worker_file(tmp_path: Path) -> None:
    from oracle.subset import compare_rows

    mine = embeddings(tmp_path / "rows.st", vectors(1)[:1])
    worker = embeddings(tmp_path / "worker.st", vectors(1))
    broken = tmp_path / "rows-broken.st"
    broken.write_bytes(b"\x00" * 64)
    with pytest.raises(OracleFault, match="its own rows"):
        compare_rows(broken, worker, [0], 2, POLICY)
    garbage = tmp_path / "garbage.st"
    garbage.write_bytes(b"\xff" * 64)
    assert compare_rows(mine, garbage, [0], 2, POLICY).metric == "unreadable"
