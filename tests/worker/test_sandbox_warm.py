"""Warm docker containers (libraries loaded before the job comes), in a real engine.

What a user would notice: the same output hash as a cold container, one job per
container, a cold run when the warm one is gone or does not fit, the time limit
still holding, and no containers left behind.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from compute.sandbox import JobRun, Limits, execute_job
from compute.sandbox.docker_backend import DockerSandbox
from compute.sandbox.warm import READY_LINE
from tests.worker.conftest import _readable
from tests.worker.test_sandbox_docker import JOBS
from worker.models.artifact import ModelArtifact

pytestmark = pytest.mark.slow

LIMITS = Limits(memory_bytes=2 << 30, timeout_s=300)


def containers_under(sb: DockerSandbox, root: Path) -> list[Any]:
    """Job containers (running or not) with a mount under ``root``."""
    prefix = str(root.resolve())
    found = []
    for c in sb.client.containers.list(all=True, filters={"label": "vcoin.sandbox=job"}):
        if any(str(m.get("Source", "")).startswith(prefix) for m in c.attrs.get("Mounts") or []):
            found.append(c)
    return found


def ready_container(sb: DockerSandbox, root: Path) -> Any:
    """The one warm container under ``root``, once it has loaded its libraries."""
    assert sb.pool is not None
    assert sb.pool.wait_ready(180) is not None, sb.pool.last_error
    (c,) = containers_under(sb, root)
    assert c.status == "running"
    return c


def gone(sb: DockerSandbox, container_id: str) -> bool:
    try:
        sb.client.containers.get(container_id)
    except docker.errors.NotFound:
        return True
    return False


@pytest.fixture
def warm_root(docker_sandbox: Any, run_dir: Path) -> Path:
    # docker_sandbox: skips (or fails under scripts/test) when there is no engine or image.
    root = run_dir / "warm"
    root.mkdir()
    _readable(root)
    return root


@pytest.fixture
def warm_box(warm_root: Path, models_dir: Path) -> Iterator[DockerSandbox]:
    sb = DockerSandbox()
    sb.prewarm(warm_root, models_dir, LIMITS, "cpu")
    yield sb
    sb.close()


def spec_for(task: str, tiny_lm: ModelArtifact, minilm: ModelArtifact) -> dict[str, Any]:
    inline, params = JOBS[task]
    model = minilm.digest if task == "embedding" else tiny_lm.digest
    return {
        "version": 1,
        "task": task,
        "model": model,
        "input": {"inline": inline},
        "params": params,
    }


def run(sb: DockerSandbox, spec: Any, inputs: Path, models: Path, out: Path, lim: Limits) -> JobRun:
    return execute_job(sb, spec, inputs, models, out, lim, "cpu")


def test_warm_runs_give_the_cold_output_hash_for_every_task(
    warm_box: DockerSandbox,
    warm_root: Path,
    docker_sandbox: Any,
    tiny_lm: ModelArtifact,
    minilm: ModelArtifact,
    models_dir: Path,
    inputs_dir: Path,
    run_dir: Path,
) -> None:
    for task in JOBS:
        spec = spec_for(task, tiny_lm, minilm)
        ready_container(warm_box, warm_root)
        warm = run(warm_box, spec, inputs_dir, models_dir, run_dir / f"warm-{task}", LIMITS)
        assert warm.ok, (warm.error_code, warm.error_message, warm.sandbox.logs)
        assert warm.sandbox.warm and READY_LINE in warm.sandbox.logs
        cold = run(docker_sandbox, spec, inputs_dir, models_dir, run_dir / f"cold-{task}", LIMITS)
        assert cold.ok and not cold.sandbox.warm and READY_LINE not in cold.sandbox.logs
        assert warm.output_hash == cold.output_hash, task
        assert warm.output_path is not None and cold.output_path is not None
        assert warm.output_path.read_bytes() == cold.output_path.read_bytes()
        assert sorted(p.name for p in warm.out_dir.iterdir()) == sorted(
            p.name for p in cold.out_dir.iterdir()
        )


def test_a_warm_container_runs_one_job_and_is_gone(
    warm_box: DockerSandbox,
    warm_root: Path,
    tiny_lm: ModelArtifact,
    minilm: ModelArtifact,
    models_dir: Path,
    inputs_dir: Path,
    run_dir: Path,
) -> None:
    spec = spec_for("text-generation", tiny_lm, minilm)
    first = ready_container(warm_box, warm_root)
    a = run(warm_box, spec, inputs_dir, models_dir, run_dir / "a", LIMITS)
    assert a.ok and a.sandbox.warm
    assert gone(warm_box, first.id)
    # The next job gets a new container, started after the first one's job.
    second = ready_container(warm_box, warm_root)
    assert second.id != first.id
    b = run(warm_box, spec, inputs_dir, models_dir, run_dir / "b", LIMITS)
    assert b.ok and b.sandbox.warm and b.output_hash == a.output_hash
    assert gone(warm_box, second.id)


def test_a_dead_warm_container_means_a_cold_run_that_succeeds(
    warm_box: DockerSandbox,
    warm_root: Path,
    tiny_lm: ModelArtifact,
    minilm: ModelArtifact,
    models_dir: Path,
    inputs_dir: Path,
    run_dir: Path,
) -> None:
    spec = spec_for("text-generation", tiny_lm, minilm)
    c = ready_container(warm_box, warm_root)
    c.kill()
    r = run(warm_box, spec, inputs_dir, models_dir, run_dir / "out", LIMITS)
    assert r.ok, (r.error_code, r.error_message, r.sandbox.logs)
    assert not r.sandbox.warm and READY_LINE not in r.sandbox.logs
    assert gone(warm_box, c.id)
    # A job that asks for other limits than the warm container has runs cold too,
    # and leaves the (new) warm container waiting.
    fresh = ready_container(warm_box, warm_root)
    other = Limits(memory_bytes=1 << 30, timeout_s=300)
    r2 = run(warm_box, spec, inputs_dir, models_dir, run_dir / "other", other)
    assert r2.ok and not r2.sandbox.warm and r2.output_hash == r.output_hash
    fresh.reload()
    assert fresh.status == "running"


def test_a_warm_job_past_its_time_is_killed_and_reported_as_timeout(
    docker_sandbox: Any,
    warm_root: Path,
    tiny_lm: ModelArtifact,
    models_dir: Path,
    inputs_dir: Path,
    run_dir: Path,
) -> None:
    limits = Limits(memory_bytes=2 << 30, timeout_s=3)
    sb = DockerSandbox()
    try:
        sb.prewarm(warm_root, models_dir, limits, "cpu")
        c = ready_container(sb, warm_root)
        time.sleep(4)  # longer than the limit: it counts from the hand-over, not the start
        spec = {
            "version": 1,
            "task": "text-generation",
            "model": tiny_lm.digest,
            "input": {"inline": {"prompts": [f"prompt {i}: " for i in range(256)]}},
            "params": {"max_new_tokens": 1024},
        }
        t0 = time.monotonic()
        r = run(sb, spec, inputs_dir, models_dir, run_dir / "out", limits)
        assert r.error_code == "timeout" and r.sandbox.timed_out and r.result is None
        assert r.sandbox.warm
        assert time.monotonic() - t0 < 30
        assert gone(sb, c.id)
    finally:
        sb.close()


def test_close_leaves_no_containers_or_folders(
    docker_sandbox: Any, warm_root: Path, models_dir: Path
) -> None:
    # Closed while its container is still starting, and closed once it is ready.
    for wait in (False, True):
        sb = DockerSandbox()
        sb.prewarm(warm_root, models_dir, LIMITS, "cpu")
        if wait:
            ready_container(sb, warm_root)
        sb.close()
        assert containers_under(docker_sandbox, warm_root) == []
        assert list(warm_root.iterdir()) == []


def test_warm_pool_off_starts_nothing(
    docker_sandbox: Any, warm_root: Path, models_dir: Path
) -> None:
    sb = DockerSandbox(warm=False)
    sb.prewarm(warm_root, models_dir, LIMITS, "cpu")
    assert sb.pool is None and containers_under(docker_sandbox, warm_root) == []
    sb.close()


KILLED_OWNER = """
import os, sys
from pathlib import Path
from compute.sandbox import Limits
from compute.sandbox.docker_backend import DockerSandbox
sb = DockerSandbox()
sb.prewarm(Path(sys.argv[1]), Path(sys.argv[2]), Limits(timeout_s=60), "cpu", alive_timeout_s=3)
assert sb.pool is not None and sb.pool.wait_ready(180) is not None, sb.pool.last_error
print("ready", flush=True)
os._exit(0)  # as if killed: no close(), no clean-up
"""


def test_a_warm_container_whose_worker_was_killed_exits_by_itself(
    docker_sandbox: Any, warm_root: Path, models_dir: Path
) -> None:
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run(
        [sys.executable, "-c", KILLED_OWNER, str(warm_root), str(models_dir)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert r.returncode == 0 and "ready" in r.stdout, r.stderr
    (c,) = containers_under(docker_sandbox, warm_root)
    try:
        deadline = time.monotonic() + 60
        while c.status == "running" and time.monotonic() < deadline:
            time.sleep(0.5)
            c.reload()
        assert c.status == "exited" and c.attrs["State"]["ExitCode"] == 3
        assert b"no keep-alive" in c.logs()
    finally:
        c.remove(force=True)
