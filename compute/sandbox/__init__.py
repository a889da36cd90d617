"""Sandboxes that run jobs: ``docker`` (the real one) and ``process`` (less isolated)."""

from __future__ import annotations

from pathlib import Path

from compute.sandbox.base import (
    JobRun,
    Limits,
    Mounts,
    Sandbox,
    SandboxError,
    SandboxResult,
    execute_job,
    prepare_out_dir,
)

__all__ = [
    "JobRun",
    "Limits",
    "Mounts",
    "Sandbox",
    "SandboxError",
    "SandboxResult",
    "execute_job",
    "make_sandbox",
    "prepare_out_dir",
]


def make_sandbox(
    kind: str = "auto", image: str | None = None, warm: bool = True, runs_dir: Path | None = None
) -> Sandbox:
    """``docker``, ``process``, or ``auto`` (docker when an engine answers).

    ``warm``: the docker sandbox may keep a warm container (see ``prewarm``).
    ``runs_dir``: where the process sandbox records its runs (``clean_leftovers``)."""
    from compute.sandbox.docker_backend import DockerSandbox, engine_problem
    from compute.sandbox.process_backend import ProcessSandbox

    if kind == "docker" or (kind == "auto" and engine_problem() is None):
        return DockerSandbox(image, warm=warm)
    if kind in ("process", "auto"):
        return ProcessSandbox(runs_dir=runs_dir)
    raise ValueError(f"sandbox must be docker, process or auto, not {kind!r}")
