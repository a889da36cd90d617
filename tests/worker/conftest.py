"""Fixtures for the worker tests: model blobs, a Docker sandbox, an artifact server.

The Docker tests need a real engine and the worker image; ``scripts/test``
provides both (``scripts/setup-docker``, ``scripts/build-worker-image``). Those
tests skip, saying why, only when no engine answers; a missing image is a
failure, since the scripts should have built it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from compute.sandbox import SandboxError
from tests.support.artifacts import artifact_server as start_artifact_server
from worker.models.artifact import ModelArtifact
from worker.models.minilm import build_minilm
from worker.models.tiny_lm import build_tiny_lm


def _readable(path: Path) -> None:
    """Let the sandbox's unprivileged user read a test folder (pytest's are 0700)."""
    for p in [path, *path.parents]:
        if p == Path("/") or p.stat().st_mode & 0o005 == 0o005:
            break
        os.chmod(p, p.stat().st_mode | 0o755)
    for root, dirs, files in os.walk(path):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
        for f in files:
            fp = os.path.join(root, f)
            os.chmod(fp, os.stat(fp).st_mode | 0o444)


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("worker")
    _readable(d)
    return d


@pytest.fixture(scope="session")
def models_dir(shared_dir: Path) -> Path:
    d = shared_dir / "models"
    d.mkdir()
    return d


@pytest.fixture(scope="session")
def tiny_lm(models_dir: Path) -> ModelArtifact:
    art = build_tiny_lm(models_dir, seed=0)
    _readable(models_dir)
    return art


@pytest.fixture(scope="session")
def minilm(models_dir: Path) -> ModelArtifact:
    art = build_minilm(models_dir)
    _readable(models_dir)
    return art


@pytest.fixture(scope="session")
def inputs_dir(shared_dir: Path) -> Path:
    d = shared_dir / "inputs"
    d.mkdir()
    _readable(d)
    return d


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    _readable(tmp_path)
    return tmp_path


def no_engine(problem: str) -> None:
    """Skip a Docker test, unless scripts/test provided an engine (VCOIN_REQUIRE_DOCKER=1):
    then an engine that went away is a failure, not a quiet skip."""
    if os.environ.get("VCOIN_REQUIRE_DOCKER") == "1":
        pytest.fail(f"{problem} (scripts/test started an engine; it is gone)")
    pytest.skip(problem)


@pytest.fixture(scope="session")
def docker_sandbox() -> object:
    from compute.sandbox.docker_backend import DockerSandbox, engine_problem

    problem = engine_problem()
    if problem is not None:
        no_engine(problem)
    try:
        return DockerSandbox()
    except SandboxError as e:
        pytest.fail(str(e))


@pytest.fixture
def artifact_server(tmp_path: Path) -> Iterator[str]:
    """A real artifact server process; yields its base URL."""
    with start_artifact_server(tmp_path / "store") as (url, _):
        yield url


def copy_models(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    _readable(dst)
    return dst
