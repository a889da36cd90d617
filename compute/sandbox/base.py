"""What every sandbox backend takes and gives back, and running a job through one.

A backend runs a command with the job's folders attached: inputs and models
read-only, one writable output folder, a scratch tmpfs, no network, limits on
memory, CPU, processes and wall-clock time, and a bounded tail of its logs. It
reports how the run ended (exit code, OOM-killed, timed out) and never raises
for a misbehaving job: a job can only fail itself, never the worker.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

RESULT_FILE = "result.json"
GiB = 1 << 30


class SandboxError(Exception):
    """The sandbox itself cannot run (no engine, no image): the worker's problem, not the job's."""


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 4 * GiB
    cpus: float = 1.0
    pids: int = 256
    timeout_s: float = 600.0
    tmpfs_bytes: int = 1 * GiB
    file_bytes: int = 8 * GiB  # largest file the job may write (process backend)
    log_bytes: int = 64 * 1024  # tail of stdout+stderr kept


@dataclass(frozen=True)
class Mounts:
    """Host folders attached to the sandbox. ``job`` is a file (the job spec)."""

    inputs: Path
    models: Path
    out: Path
    job: Path | None = None


@dataclass(frozen=True)
class SandboxResult:
    backend: str
    exit_code: int | None
    oom_killed: bool
    timed_out: bool
    logs: str
    logs_truncated: bool
    duration_s: float
    image: str = ""  # image id (sha256:…) for the docker backend
    warm: bool = False  # ran in a warm container (libraries loaded before the job came)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.oom_killed and not self.timed_out


class Sandbox(Protocol):
    name: str
    isolation: str  # one line a log or a doc can show

    def run(
        self,
        argv: Sequence[str],
        mounts: Mounts,
        limits: Limits,
        env: dict[str, str] | None = None,
        gpus: Sequence[str] = (),
    ) -> SandboxResult: ...

    def runtime_argv(self, mounts: Mounts, device: str) -> list[str]: ...


StrPath = str | os.PathLike[str]


def runtime_argv(
    python: str,
    job: StrPath,
    inputs: StrPath,
    models: StrPath,
    out: StrPath,
    device: str,
    scratch: StrPath | None = None,
) -> list[str]:
    """The command that runs one job: ``python -m compute.runtime`` with the flags its
    ``__main__`` reads, the paths as the runtime sees them (in a container or not)."""
    argv = [python, "-m", "compute.runtime", "--job", os.fspath(job)]
    argv += ["--inputs", os.fspath(inputs), "--models", os.fspath(models), "--out", os.fspath(out)]
    if scratch is not None:
        argv += ["--scratch", os.fspath(scratch)]
    return [*argv, "--device", device]


class LogTail:
    """Keeps the last ``limit`` bytes of a stream and whether anything was dropped."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.buf = bytearray()
        self.truncated = False

    def feed(self, data: bytes) -> None:
        self.buf += data
        if len(self.buf) > self.limit:
            del self.buf[: len(self.buf) - self.limit]
            self.truncated = True

    def text(self) -> str:
        return self.buf.decode("utf-8", "replace")


def prepare_out_dir(out: Path) -> None:
    """An empty output folder the sandbox's unprivileged user can write."""
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise SandboxError(f"output folder {out} is not empty; give each run a fresh one")
    os.chmod(out, 0o777)


@dataclass
class JobRun:
    """A job's run: how the sandbox ended, and result.json when the runtime wrote one."""

    sandbox: SandboxResult
    result: dict[str, Any] | None
    out_dir: Path
    error_code: str | None = None
    error_message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error_code is None

    @property
    def output_hash(self) -> str | None:
        return None if self.result is None else self.result.get("output_hash")

    @property
    def output_path(self) -> Path | None:
        if not self.ok or self.result is None:
            return None
        return self.out_dir / str(self.result["output"]["file"])


def execute_job(
    sandbox: Sandbox,
    job: Mapping[str, Any] | bytes,
    inputs: Path,
    models: Path,
    out: Path,
    limits: Limits | None = None,
    device: str = "cpu",
    gpus: Sequence[str] = (),
) -> JobRun:
    """Run ``python -m compute.runtime`` on ``job`` in ``sandbox``; classify how it ended.

    ``job`` is the job.json document (``compute.jobspec.runtime_job`` builds one, a
    ``RuntimeJob``) or its bytes, handed over as they are.

    Failure codes: the runtime's own (``bad_job_spec``, ``model_hash_mismatch``,
    …) when it wrote result.json, else ``out_of_memory``, ``timeout`` or
    ``sandbox_error`` (killed or crashed without a result; see the logs).
    """
    limits = limits or Limits()
    prepare_out_dir(out)
    raw = job if isinstance(job, bytes) else json.dumps(job).encode()
    # A backend with warm containers (docker) takes the job when one fits.
    run_warm = getattr(sandbox, "run_warm", None)
    if run_warm is not None:
        warm: SandboxResult | None = run_warm(raw, inputs, models, out, limits, device, gpus)
        if warm is not None:
            return classify(warm, out)
    job_dir = Path(tempfile.mkdtemp(prefix="vcoin-job-"))
    try:
        os.chmod(job_dir, 0o755)
        job_file = job_dir / "job.json"
        job_file.write_bytes(raw)
        os.chmod(job_file, 0o444)
        mounts = Mounts(inputs=inputs, models=models, out=out, job=job_file)
        res = sandbox.run(sandbox.runtime_argv(mounts, device), mounts, limits, gpus=gpus)
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)
    return classify(res, out)


def classify(res: SandboxResult, out: Path) -> JobRun:
    result = None
    path = out / RESULT_FILE
    if path.is_file():
        try:
            result = json.loads(path.read_bytes())
        except ValueError:
            result = None
    run = JobRun(res, result, out)
    if res.oom_killed:
        run.error_code, run.error_message = "out_of_memory", "the job went over its memory limit"
    elif res.timed_out:
        run.error_code, run.error_message = "timeout", "the job went over its time limit"
    elif result is None or not isinstance(result, dict):
        run.error_code = "sandbox_error"
        run.error_message = f"the runtime left no result (exit code {res.exit_code})"
    elif not result.get("ok"):
        err = result.get("error") or {}
        run.error_code = str(err.get("code", "runtime_error"))
        run.error_message = str(err.get("message", ""))
    elif res.exit_code != 0:
        run.error_code = "sandbox_error"
        run.error_message = f"the runtime exited {res.exit_code} after writing a result"
    return run
