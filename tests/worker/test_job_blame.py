"""Whose fault is a failed job: a malformed spec or input is the poster's.

Such a job is failed on chain with a reason (``MsgReleaseJob(retry=false)``:
refund, nobody's reputation changes, see tests/modules/test_jobs.py), never
given back for another worker to fail on the same way. That holds for inputs
that pass the runtime's checks and only fail inside a task, and for JSON that
nests too deeply for Python's parser. Only faults of the worker's own making
(a crash of the runtime, the machine, the sandbox) are retried.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compute.jobspec import runtime_job, spec_params
from compute.runtime import __main__ as runtime
from compute.runtime.errors import EXIT_JOB_ERROR, JobError
from compute.runtime.models import parse_manifest
from compute.runtime.spec import parse_spec
from tests.fuzzing import fuzz
from worker.agent.executor import JOB_FAULTS, _fail

MODEL = "ab" * 32
DEEP_INPUT = b'{"prompts": ' + b"[" * 2000 + b"]" * 2000 + b"}"  # within 4,096 bytes


def _job(tmp: Path, inp: bytes | dict[str, Any], **over: Any) -> Path:
    inputs = tmp / "inputs"
    inputs.mkdir(exist_ok=True)
    doc: dict[str, Any] = {"version": 1, "task": "text-generation", "model": MODEL}
    if isinstance(inp, bytes):
        digest = hashlib.sha256(inp).hexdigest()
        (inputs / digest).write_bytes(inp)
        doc["input"] = {"sha256": digest}
    else:
        doc["input"] = {"inline": inp}
    doc.update(over)
    jf = tmp / "job.json"
    jf.write_text(json.dumps(doc))
    return jf


def _run(tmp: Path, jf: Path) -> None:
    runtime.run_job(jf, tmp / "inputs", tmp / "models", tmp / "out")


def test_a_deeply_nested_input_artifact_is_bad_input(tmp_path: Path) -> None:
    assert len(DEEP_INPUT) <= 4096
    with pytest.raises(JobError) as e:
        _run(tmp_path, _job(tmp_path, DEEP_INPUT))
    assert e.value.code == "bad_input" and "deeper than 32" in e.value.message


def test_the_runtime_reports_it_as_the_jobs_fault(tmp_path: Path) -> None:
    jf = _job(tmp_path, DEEP_INPUT)
    out = tmp_path / "out"
    argv = ["--job", str(jf), "--inputs", str(tmp_path / "inputs"), "--models", str(tmp_path)]
    assert runtime.main([*argv, "--out", str(out)]) == EXIT_JOB_ERROR
    err = json.loads((out / "result.json").read_text())["error"]
    assert err["code"] == "bad_input"
    assert not _fail(err["code"], err["message"]).retry  # failed on chain, not given back


@pytest.mark.parametrize(
    "raw, code",
    [
        (b'{"version": 1, "x": ' + b"[" * 3000 + b"]" * 3000 + b"}", "bad_job_spec"),
        (b'{"version": NaN}', "bad_job_spec"),
        (b'{"version": 1, "version": 1}', "bad_job_spec"),
        (json.dumps({"version": 1, "task": "embedding", "model": MODEL + "\n"}).encode(),
         "bad_job_spec"),
    ],
)  # fmt: skip
def test_a_malformed_job_json_is_a_bad_job_spec(raw: bytes, code: str) -> None:
    with pytest.raises(JobError) as e:
        parse_spec(raw)
    assert e.value.code == code


def test_an_input_hash_with_a_trailing_newline_is_refused() -> None:
    doc = {"version": 1, "task": "embedding", "model": MODEL, "input": {"sha256": "cd" * 32 + "\n"}}
    with pytest.raises(JobError, match="input.sha256"):
        parse_spec(json.dumps(doc).encode())


def test_a_manifest_file_name_with_a_newline_is_refused() -> None:
    doc = {
        "format": "vcoin-model/1",
        "name": "m",
        "kind": "causal-lm",
        "files": {"weights.bin\n": {"sha256": "ab" * 32, "size": 1}},
    }
    with pytest.raises(JobError) as e:
        parse_manifest(json.dumps(doc).encode())
    assert e.value.code == "bad_model"


@pytest.mark.parametrize(
    "spec", ["[" * 5000 + "]" * 5000, '{"params": {"seed": 1e999999}}', '{"params": {"seed": NaN}}']
)
def test_a_malformed_chain_spec_is_a_bad_job_spec(spec: str) -> None:
    with pytest.raises(JobError) as e:
        spec_params(spec)
    assert e.value.code == "bad_job_spec"


def test_text_no_tokenizer_reads_is_bad_input(tmp_path: Path) -> None:
    # JSON may escape a lone surrogate; it passes json.loads but no tokenizer encodes it
    jf = tmp_path / "job.json"
    doc = {"version": 1, "task": "text-generation", "model": MODEL}
    jf.write_text(json.dumps(doc)[:-1] + ', "input": {"inline": {"prompts": ["ok", "\\ud800"]}}}')
    (tmp_path / "inputs").mkdir()
    with pytest.raises(JobError) as e:
        _run(tmp_path, jf)
    assert e.value.code == "bad_input" and "not valid Unicode" in e.value.message


@pytest.mark.parametrize(
    "exc", [ValueError("bad"), UnicodeEncodeError("utf-8", "x", 0, 1, "r"), RecursionError(),
            IndexError("index out of range in self"), OverflowError(), KeyError("k")]
)  # fmt: skip
def test_a_task_that_fails_on_its_input_is_the_posters_fault(exc: Exception) -> None:
    def task(*a: Any) -> Any:
        raise exc

    with pytest.raises(JobError) as e:
        runtime._run_task(task, 1, 2)
    assert e.value.code == "bad_input" and type(exc).__name__ in e.value.message
    assert "bad_input" in JOB_FAULTS


@pytest.mark.parametrize("exc", [OSError("disk full"), RuntimeError("CUDA error"), MemoryError()])
def test_a_task_that_fails_on_the_machine_is_the_workers_fault(exc: Exception) -> None:
    def task(*a: Any) -> Any:
        raise exc

    with pytest.raises(type(exc)):
        runtime._run_task(task)
    assert _fail("runtime_error", str(exc)).retry  # given back for another worker


def test_only_the_workers_own_faults_are_retried() -> None:
    for code in ("bad_job_spec", "unknown_task", "bad_input", "input_hash_mismatch", "bad_model"):
        assert not _fail(code, "x").retry, code
    for code in ("runtime_error", "sandbox_error", "sandbox_unavailable"):
        assert _fail(code, "x").retry, code


@fuzz(200)
@given(
    text=st.text(max_size=400)
    | st.text(alphabet='[]{}":,0123456789.eE-+ \\nulNaIfity', max_size=3000)
    | st.integers(0, 4000).map(lambda n: "[" * n + "]" * n)
)
def test_any_spec_or_input_text_is_refused_as_the_jobs_fault(text: str) -> None:
    """Whatever a poster writes in the spec or the input, the worker's checks end in
    a JobError of the job's own (never another exception, never a retry)."""
    job = {
        "id": "7",
        "task_type": "text-generation",
        "input_hash": "cd" * 32,
        "spec": text,
    }
    for check in (
        lambda: runtime_job(job, {"weights_sha256": MODEL}),
        lambda: parse_spec(text.encode("utf-8", "surrogatepass")),
    ):
        try:
            check()
        except JobError as e:
            assert e.code in JOB_FAULTS
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return
    from compute.runtime.spec import check_input

    try:
        check_input("text-generation", doc)
    except JobError as e:
        assert e.code == "bad_input"
