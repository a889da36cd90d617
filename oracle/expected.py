"""What the oracle needs of ``compute``, and the one translation oracle and worker share.

The oracle re-executes a job "in the same sandbox and runtime as the worker":
``compute.sandbox`` (docker or process backend) running ``python -m
compute.runtime``. It needs exactly one call of that package, wrapped here as
``Runner``, so a change of that API touches one adapter:

    execute_job(sandbox, job_json, inputs_dir, models_dir, out_dir, limits, device)
        -> JobRun(ok, output_path, output_hash, error_code, error_message, result)

``runtime_spec`` turns an on-chain job (the jobs module's ``job`` query) into
the runtime's ``job.json``. Worker and oracle must build the same document
for the same job, or honest results would not match, so the oracle calls the
shared mapping, ``compute.jobspec.runtime_job``: ``model`` is the
registered model's ``weights_sha256`` (the manifest digest), ``input`` is
``{"sha256": input_hash}`` (an inline input is written into the inputs folder
under its hash first, ``write_inline_input``), ``params`` is the spec's
``params`` object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from compute.jobspec import RuntimeJob

# Runtime error codes that say the job itself cannot run (the oracle can
# judge: a result for such a job is wrong). Any other failure is the oracle's
# own trouble (a sandbox, a download, a limit): it abstains and retries.
JOB_AT_FAULT = ("bad_job_spec", "unknown_task", "bad_input", "input_hash_mismatch", "bad_model")


class SpecError(ValueError):
    """The on-chain job cannot be turned into a runtime job."""


def runtime_spec(job: dict[str, Any], model_hash: str) -> RuntimeJob:
    """The runtime's job.json for an on-chain job (the shared mapping, see above)."""
    from compute.jobspec import runtime_job
    from compute.runtime.errors import JobError

    try:
        return runtime_job(job, {"weights_sha256": model_hash})
    except JobError as e:
        raise SpecError(f"{e.code}: {e.message}") from e
    except KeyError as e:
        raise SpecError(f"the job record lacks {e}") from e


def place_inline_input(job: dict[str, Any], inputs: Path) -> None:
    """Write an inline input into ``inputs`` under its hash, as the worker does."""
    from compute.jobspec import write_inline_input
    from compute.runtime.errors import JobError

    try:
        write_inline_input(job, inputs)
    except JobError as e:
        raise SpecError(f"{e.code}: {e.message}") from e


@dataclass(frozen=True)
class RunOutcome:
    ok: bool
    output_path: Path | None
    output_hash: str | None
    error_code: str | None
    error_message: str
    result: dict[str, Any] | None  # the runtime's result.json
    seconds: float

    @property
    def job_at_fault(self) -> bool:
        return self.error_code in JOB_AT_FAULT


class Runner(Protocol):
    """Runs one runtime job.json with its inputs and models folders attached."""

    name: str

    def run(self, spec: RuntimeJob, inputs: Path, models: Path, out: Path) -> RunOutcome: ...


class SandboxRunner:
    """``Runner`` over ``compute.sandbox``: the worker's own backends and limits."""

    def __init__(
        self, kind: str = "auto", device: str = "cpu", timeout_s: float = 600.0, image: str = ""
    ) -> None:
        from compute.sandbox import Limits, make_sandbox

        self.sandbox = make_sandbox(kind, image or None)
        self.name = f"{self.sandbox.name} ({self.sandbox.isolation})"
        self.device = device
        self.limits = Limits(timeout_s=timeout_s)

    def run(self, spec: RuntimeJob, inputs: Path, models: Path, out: Path) -> RunOutcome:
        import time

        from compute.sandbox import execute_job

        t0 = time.monotonic()
        run = execute_job(self.sandbox, spec, inputs, models, out, self.limits, device=self.device)
        return RunOutcome(
            ok=run.ok,
            output_path=run.output_path,
            output_hash=run.output_hash,
            error_code=run.error_code,
            error_message=run.error_message,
            result=run.result,
            seconds=time.monotonic() - t0,
        )


class InProcessRunner:
    """``Runner`` calling ``compute.runtime``'s entry point in this process: no
    isolation at all, for the simulation and tests where the sandbox is not
    what is being tested (named so; never the daemon's default)."""

    name = "in-process (NO isolation)"

    def __init__(self, device: str = "cpu") -> None:
        self.device = device

    def run(self, spec: RuntimeJob, inputs: Path, models: Path, out: Path) -> RunOutcome:
        import tempfile
        import time

        from compute.runtime.__main__ import run_job
        from compute.runtime.errors import JobError

        t0 = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="vcoin-oracle-run-") as tmp:
            jf = Path(tmp) / "job.json"
            jf.write_text(json.dumps(spec))
            try:
                doc = run_job(jf, inputs, models, out, Path(tmp) / "scratch", self.device)
            except JobError as e:
                return RunOutcome(False, None, None, e.code, e.message, None, 0.0)
        path = out / doc["output"]["file"]
        secs = time.monotonic() - t0
        return RunOutcome(True, path, doc["output_hash"], None, "", doc, secs)
