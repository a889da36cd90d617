"""Fixtures for the worker tests: model blobs, a Docker sandbox, an artifact server.

The Docker tests need a real engine and the worker image; ``scripts/test``
provides both (``scripts/setup-docker``, ``scripts/build-worker-image``). Those
tests skip, saying why, only when no engine answers; a missing image is a
failure, since the scripts should have built it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from worker.models.artifact import ModelArtifact
from worker.models.minilm import build_minilm
from worker.models.tiny_lm import build_tiny_lm
from worker.sandbox import SandboxError


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


@pytest.fixture(scope="session")
def docker_sandbox() -> object:
    from worker.sandbox.docker_backend import DockerSandbox, engine_problem

    problem = engine_problem()
    if problem is not None:
        pytest.skip(problem)
    try:
        return DockerSandbox()
    except SandboxError as e:
        pytest.fail(str(e))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def artifact_server(tmp_path: Path) -> Iterator[str]:
    """A real artifact server process; yields its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chain.artifacts",
            "--dir",
            str(tmp_path / "store"),
            "--listen",
            f"127.0.0.1:{port}",
        ],
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.head(f"{url}/artifacts/{'0' * 64}", timeout=1)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("artifact server did not start") from None
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)


def copy_models(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    _readable(dst)
    return dst
