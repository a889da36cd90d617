"""The docker sandbox holds, in a real engine, with the real worker image."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from compute.runtime.__main__ import run_job
from compute.sandbox import Limits, Mounts, SandboxResult, execute_job
from tests.worker.conftest import copy_models
from worker.models.artifact import ModelArtifact

pytestmark = pytest.mark.slow

SMALL = Limits(memory_bytes=256 << 20, cpus=1.0, pids=64, timeout_s=60, tmpfs_bytes=64 << 20)


def probe(sandbox: Any, run_dir: Path, code: str, limits: Limits = SMALL) -> SandboxResult:
    """Run ``python3 -c code`` in a job container with the usual mounts."""
    for name in ("inputs", "models", "out"):
        (run_dir / name).mkdir(exist_ok=True)
    (run_dir / "out").chmod(0o777)
    mounts = Mounts(run_dir / "inputs", run_dir / "models", run_dir / "out")
    res: SandboxResult = sandbox.run(["python3", "-c", code], mounts, limits)
    return res


def test_network_egress_fails(docker_sandbox: Any, run_dir: Path) -> None:
    # A service on the host's loopback: reachable from any process on the host
    # network, so a container that reaches it is not isolated.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    code = f"""
import os, socket
print("IFACES", sorted(os.listdir("/sys/class/net")))
s = socket.socket()
s.settimeout(3)
try:
    s.connect(("127.0.0.1", {port}))
    print("CONNECTED")
except OSError as e:
    print("REFUSED", e.errno)
"""
    res = probe(docker_sandbox, run_dir, code)
    # A finished handshake would wait in the backlog even unaccepted.
    server.setblocking(False)
    with pytest.raises(BlockingIOError):
        server.accept()
    server.close()
    assert res.ok, res.logs
    assert "IFACES ['lo']" in res.logs
    assert "REFUSED" in res.logs and "CONNECTED" not in res.logs


def test_root_filesystem_is_read_only_and_only_out_and_tmp_are_writable(
    docker_sandbox: Any, run_dir: Path
) -> None:
    code = """
import errno
for path in ["/x", "/etc/x", "/opt/vcoin/app/x", "/inputs/x", "/models/x", "/out/x", "/tmp/x"]:
    try:
        open(path, "w").write("1")
        print("WROTE", path)
    except OSError as e:
        print("DENIED", path, errno.errorcode[e.errno])
root = [l for l in open("/proc/self/mounts") if l.split()[1] == "/"][0]
print("ROOTMOUNT", root.split()[3].split(",")[0])
"""
    res = probe(docker_sandbox, run_dir, code)
    assert res.ok, res.logs
    for path in ["/x", "/etc/x", "/opt/vcoin/app/x", "/inputs/x", "/models/x"]:
        assert f"DENIED {path}" in res.logs
    assert "WROTE /out/x" in res.logs and "WROTE /tmp/x" in res.logs
    assert "ROOTMOUNT ro" in res.logs
    assert (run_dir / "out" / "x").read_text() == "1"


def test_process_is_not_root_and_cannot_gain_privileges(docker_sandbox: Any, run_dir: Path) -> None:
    code = """
import os
print("UID", os.getuid(), os.geteuid())
status = dict(l.split(":", 1) for l in open("/proc/self/status"))
print("NNP", status["NoNewPrivs"].strip(), "CAPEFF", status["CapEff"].strip(),
      "CAPBND", status["CapBnd"].strip())
try:
    os.setuid(0)
    print("BECAME ROOT")
except PermissionError:
    print("SETUID DENIED")
"""
    res = probe(docker_sandbox, run_dir, code)
    assert res.ok, res.logs
    assert "UID 10001 10001" in res.logs
    assert "NNP 1 CAPEFF 0000000000000000 CAPBND 0000000000000000" in res.logs
    assert "SETUID DENIED" in res.logs and "BECAME ROOT" not in res.logs


def test_memory_bomb_is_killed_and_reported_as_oom(docker_sandbox: Any, run_dir: Path) -> None:
    code = """
hog = []
while True:
    hog.append(bytearray(32 << 20))  # zero-filled: every page is touched
"""
    res = probe(docker_sandbox, run_dir, code)
    assert res.oom_killed and not res.ok and res.exit_code == 137
    # ended by the memory limit, not by the minute's timeout that would end it otherwise
    assert not res.timed_out
    # The caller lives on and the engine still runs jobs.
    assert probe(docker_sandbox, run_dir, "print('alive')").ok


def test_fork_bomb_hits_the_pids_limit(docker_sandbox: Any, run_dir: Path) -> None:
    code = """
import os, time
n = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
        n += 1
except OSError as e:
    print("FORK FAILED after", n, "children:", e.strerror)
"""
    limits = Limits(memory_bytes=256 << 20, pids=32, timeout_s=60)
    res = probe(docker_sandbox, run_dir, code, limits)
    assert "FORK FAILED after" in res.logs, res.logs
    n = int(res.logs.split("FORK FAILED after")[1].split()[0])
    assert n < 32
    # The parent exits; the container (and every child, asleep for 10 min) goes with it,
    # well before the job's 60 s timeout.
    assert not res.timed_out and res.exit_code == 0, res.logs


def test_job_past_its_time_is_killed(docker_sandbox: Any, run_dir: Path) -> None:
    limits = Limits(memory_bytes=256 << 20, timeout_s=2)
    t0 = time.monotonic()
    res = probe(
        docker_sandbox,
        run_dir,
        "import time; print('started', flush=True); time.sleep(600)",
        limits,
    )
    assert res.timed_out and not res.ok and res.exit_code == 137  # SIGKILLed
    # at its timeout, not at the end of its 10 min sleep (generous for a busy machine)
    assert time.monotonic() - t0 < 120
    assert "started" in res.logs


def test_log_capture_is_bounded(docker_sandbox: Any, run_dir: Path) -> None:
    limits = Limits(memory_bytes=256 << 20, timeout_s=60, log_bytes=4096)
    res = probe(
        docker_sandbox,
        run_dir,
        "print('x' * 100 + '\\n' * 0, end='')\nfor i in range(20000): print(i)",
        limits,
    )
    assert res.ok and res.logs_truncated
    assert len(res.logs.encode()) <= 4096 and res.logs.rstrip().endswith("19999")


JOBS = {
    "text-generation": ({"prompts": ["Hello world", "The GPU market"]}, {"max_new_tokens": 8}),
    "embedding": ({"texts": ["A cat sat on the mat."]}, {}),
    "lora-train": ({"texts": ["the quick brown fox", "jumps over"]}, {"steps": 3}),
}


@pytest.mark.parametrize("task", list(JOBS))
def test_result_in_container_equals_local_in_process_run(
    task: str,
    docker_sandbox: Any,
    tiny_lm: ModelArtifact,
    minilm: ModelArtifact,
    models_dir: Path,
    inputs_dir: Path,
    run_dir: Path,
) -> None:
    inline, params = JOBS[task]
    model = minilm.digest if task == "embedding" else tiny_lm.digest
    spec = {
        "version": 1,
        "task": task,
        "model": model,
        "input": {"inline": inline},
        "params": params,
    }
    run = execute_job(
        docker_sandbox,
        spec,
        inputs_dir,
        models_dir,
        run_dir / "box",
        Limits(memory_bytes=2 << 30, timeout_s=300),
    )
    assert run.ok, (run.error_code, run.error_message, run.sandbox.logs)
    assert run.sandbox.image.startswith("sha256:")
    (run_dir / "job.json").write_text(json.dumps(spec))
    local = run_job(run_dir / "job.json", inputs_dir, models_dir, run_dir / "local")
    assert run.output_hash == local["output_hash"]
    assert run.result is not None and run.result["versions"] == local["versions"]
    assert run.output_path is not None and run.output_path.is_file()


def test_weights_blob_with_wrong_hash_fails_the_job_not_the_worker(
    docker_sandbox: Any, tiny_lm: ModelArtifact, models_dir: Path, inputs_dir: Path, run_dir: Path
) -> None:
    bad = copy_models(models_dir, run_dir / "models")
    weights = bad / tiny_lm.manifest.files["model.safetensors"][0]
    weights.chmod(0o644)
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    spec = {
        "version": 1,
        "task": "text-generation",
        "model": tiny_lm.digest,
        "input": {"inline": {"prompts": ["hi"]}},
    }
    run = execute_job(docker_sandbox, spec, inputs_dir, bad, run_dir / "box")
    assert not run.ok and run.error_code == "model_hash_mismatch"
    assert run.sandbox.exit_code == 2 and "model.safetensors" in run.error_message


def test_malformed_spec_in_container_fails_clearly(
    docker_sandbox: Any, models_dir: Path, inputs_dir: Path, run_dir: Path
) -> None:
    run = execute_job(
        docker_sandbox,
        b'{"version": 1, "task": "text-generation"',
        inputs_dir,
        models_dir,
        run_dir / "box",
    )
    assert run.error_code == "bad_job_spec" and "not valid JSON" in run.error_message


def test_memory_bomb_as_a_job_is_reported_as_its_failure(
    docker_sandbox: Any, tiny_lm: ModelArtifact, models_dir: Path, inputs_dir: Path, run_dir: Path
) -> None:
    spec = {
        "version": 1,
        "task": "text-generation",
        "model": tiny_lm.digest,
        "input": {"inline": {"prompts": ["hi"]}},
    }
    # torch alone needs more than 64 MiB: the runtime is killed while loading.
    run = execute_job(
        docker_sandbox,
        spec,
        inputs_dir,
        models_dir,
        run_dir / "box",
        Limits(memory_bytes=64 << 20, timeout_s=120),
    )
    assert run.error_code == "out_of_memory" and run.result is None
