"""The process sandbox (no Docker): less isolated, and it says so, but it still holds
the network, time and memory lines, and runs jobs to the same hash."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from compute.runtime.__main__ import run_job
from compute.sandbox import Limits, Mounts, SandboxResult, execute_job
from compute.sandbox.process_backend import ProcessSandbox
from worker.models.artifact import ModelArtifact


@pytest.fixture(scope="module")
def sandbox() -> ProcessSandbox:
    return ProcessSandbox()


def probe(sb: ProcessSandbox, run_dir: Path, code: str, limits: Limits) -> SandboxResult:
    for name in ("inputs", "models", "out"):
        (run_dir / name).mkdir(exist_ok=True)
    mounts = Mounts(run_dir / "inputs", run_dir / "models", run_dir / "out")
    return sb.run(["python3", "-c", code], mounts, limits)


def test_names_itself_less_isolated(
    sandbox: ProcessSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    assert "LESS ISOLATED" in sandbox.isolation
    with caplog.at_level("WARNING", logger="vcoin.worker.sandbox"):
        ProcessSandbox()
    assert any("LESS ISOLATED" in r.getMessage() for r in caplog.records)


def test_network_egress_fails(sandbox: ProcessSandbox, run_dir: Path) -> None:
    if sandbox.net_flags is None:
        pytest.skip("this kernel refuses network namespaces to this user")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    code = f"""
import socket
s = socket.socket()
s.settimeout(3)
try:
    s.connect(("127.0.0.1", {port}))
    print("CONNECTED")
except OSError as e:
    print("FAILED", e.errno)
"""
    res = probe(sandbox, run_dir, code, Limits(timeout_s=30))
    server.setblocking(False)
    with pytest.raises(BlockingIOError):
        server.accept()
    server.close()
    assert "FAILED" in res.logs and "CONNECTED" not in res.logs, res.logs


def started(pid: int) -> str | None:
    """``pid``'s start time (clock ticks after boot) while it runs; None once it is gone
    or a zombie (dead, not yet reaped by whoever inherited it)."""
    try:
        state, *rest = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return None if state in ("Z", "X") else rest[18]


def test_job_past_its_time_is_killed_with_its_children(
    sandbox: ProcessSandbox, run_dir: Path
) -> None:
    """Its children go too: one in the job's process group, one that left the group for
    a session of its own (found by the run's token)."""
    code = """
import subprocess, time
kids = [subprocess.Popen(["sleep", "600"]),
        subprocess.Popen(["sleep", "600"], start_new_session=True)]
for k in kids:
    with open(f"/proc/{k.pid}/stat") as f:
        print("child", k.pid, f.read().rpartition(")")[2].split()[19], flush=True)
print("started", flush=True)
time.sleep(600)
"""
    res = probe(sandbox, run_dir, code, Limits(timeout_s=5))
    assert res.timed_out and not res.ok, res.logs
    # killed at its timeout, not at the end of its 600 s sleep (generous for a busy machine)
    assert res.duration_s < 120
    assert "started" in res.logs, res.logs
    children = [ln.split()[1:] for ln in res.logs.splitlines() if ln.startswith("child ")]
    assert len(children) == 2, res.logs
    deadline = time.monotonic() + 30  # SIGKILL sent; the kernel may take a moment
    alive = children
    while alive and time.monotonic() < deadline:
        alive = [(pid, t) for pid, t in children if started(int(pid)) == t]
        time.sleep(0.05)
    assert alive == [], f"still running: {alive}"


def test_memory_limit_stops_a_memory_bomb(sandbox: ProcessSandbox, run_dir: Path) -> None:
    code = """
hog = []
while True:
    hog.append(bytearray(32 << 20))
"""
    res = probe(sandbox, run_dir, code, Limits(memory_bytes=512 << 20, timeout_s=60))
    assert res.oom_killed and not res.ok and "MemoryError" in res.logs


def test_job_in_process_sandbox_matches_in_process_run(
    sandbox: ProcessSandbox,
    tiny_lm: ModelArtifact,
    models_dir: Path,
    inputs_dir: Path,
    run_dir: Path,
) -> None:
    spec = {
        "version": 1,
        "task": "text-generation",
        "model": tiny_lm.digest,
        "input": {"inline": {"prompts": ["Hello"]}},
        "params": {"max_new_tokens": 6},
    }
    run = execute_job(sandbox, spec, inputs_dir, models_dir, run_dir / "box", Limits(timeout_s=300))
    assert run.ok, (run.error_code, run.sandbox.logs)
    (run_dir / "job.json").write_text(json.dumps(spec))
    local = run_job(run_dir / "job.json", inputs_dir, models_dir, run_dir / "local")
    assert run.output_hash == local["output_hash"]
