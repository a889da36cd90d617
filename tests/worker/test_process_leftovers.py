# ruff: noqa: F811 - pytest fixtures imported from agent_env are parameters here
"""A worker killed outright under the process sandbox: its jobs' processes are killed
at the next start, and its scratch folders removed; nothing else is."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from compute.sandbox.process_backend import NOBODY, ProcessSandbox, RunRecord, proc_info
from tests.support.node_market import NodeMarket
from tests.support.wait import wait_for
from tests.worker.agent_env import (  # noqa: F401 - fixtures
    WorkerProc,
    market,
    workers,
)
from tests.worker.conftest import _readable

# A job that forks three children: one stays in its group, one leaves the group, one
# leaves the session; then it writes their pids and sleeps.
JOB = """
import os, time
def child(how):
    pid = os.fork()
    if pid == 0:
        if how == "group":
            os.setpgid(0, 0)
        if how == "session":
            os.setsid()
        time.sleep(600)
        os._exit(0)
    return pid
pids = [os.getpid(), child("stay"), child("group"), child("session")]
with open("pids.tmp", "w") as f:
    f.write(" ".join(map(str, pids)))
os.rename("pids.tmp", "pids")
time.sleep(600)
"""

# What a worker does: run one job in the process sandbox (this process is then killed).
DRIVER = """
import json, sys
from pathlib import Path
from compute.sandbox import Limits, Mounts
from compute.sandbox.process_backend import ProcessSandbox
root = Path(sys.argv[1])
mounts = Mounts(root / "inputs", root / "models", root / "out")
sandbox = ProcessSandbox(runs_dir=root / "runs", **json.loads(sys.argv[3]))
sandbox.run(["python3", "-c", sys.argv[2]], mounts, Limits())
"""


def as_nobody() -> dict[str, Any]:
    """Sandbox settings that run the job as nobody, as a worker started as root does
    (with an interpreter nobody may run: the job needs only the standard library)."""
    if os.geteuid() != 0:
        pytest.skip("only root runs jobs as another uid")
    python = "/usr/bin/python3"

    def drop() -> None:
        os.setgid(NOBODY)
        os.setuid(NOBODY)

    if not os.path.exists(python) or subprocess.run([python, "-c", ""], preexec_fn=drop).returncode:
        pytest.skip(f"{python} is not there for nobody to run")
    return {"python": python, "run_as": NOBODY}


def alive(procs: dict[int, int]) -> list[int]:
    """Which of ``procs`` (pid -> start time) still run (a zombie has ended)."""
    out = []
    for pid, start in procs.items():
        p = proc_info(pid)
        if p is not None and p.start == start and not p.zombie:
            out.append(pid)
    return out


def kill_all(procs: dict[int, int]) -> None:
    """Tidy up after a failed test: only the very processes it saw."""
    for pid in alive(procs):
        os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("who", ["worker's uid", "nobody"])
def test_a_killed_runs_processes_and_scratch_go_at_the_next_start(run_dir: Path, who: str) -> None:
    settings = as_nobody() if who == "nobody" else {"run_as": os.geteuid()}
    for name in ("inputs", "models", "out"):
        (run_dir / name).mkdir()
    scratch = run_dir.resolve() / ".scratch-out"
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(run_dir), JOB, json.dumps(settings)]
    )
    procs: dict[int, int] = {}
    try:
        wait_for("the job's children", lambda: (scratch / "pids").exists(), 60, poll=0.05)
        for pid in map(int, (scratch / "pids").read_text().split()):
            info = proc_info(pid)
            assert info is not None
            procs[pid] = info.start
        assert {os.stat(f"/proc/{pid}").st_uid for pid in procs} == {settings["run_as"]}
        driver.kill()  # SIGKILL: no clean-up code runs
        driver.wait(10)
        assert len(alive(procs)) == 4  # left behind: what the clean-up is for

        sandbox = ProcessSandbox(runs_dir=run_dir / "runs")
        other = run_dir / "inputs"  # another worker's folders: its runs are not ours to kill
        assert sandbox.clean_leftovers(other) == []
        assert len(alive(procs)) == 4

        (line,) = sandbox.clean_leftovers(run_dir)
        assert alive(procs) == []
        assert "killed" in line and f"removed {scratch}" in line
        assert not scratch.exists() and list((run_dir / "runs").iterdir()) == []
        assert sandbox.clean_leftovers(run_dir) == []
    finally:
        driver.kill()
        kill_all(procs)


def test_a_record_never_kills_a_process_that_only_shares_the_pid(run_dir: Path) -> None:
    """After a reboot, or once the job's pid went to another process, its record names
    a stranger: the clean-up leaves it alone."""
    runs = run_dir / "runs"
    sandbox = ProcessSandbox(runs_dir=runs)
    stranger = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        info = proc_info(stranger.pid)
        assert info is not None
        boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()

        def record(**changes: Any) -> RunRecord:
            fields = {
                "token": uuid.uuid4().hex,
                "boot_id": boot_id,
                "uid": os.geteuid(),
                "scratch": str(run_dir / ".scratch-out"),
                "out": str(run_dir / "out"),
                "pid": stranger.pid,
                "start": info.start,
                **changes,
            }
            return RunRecord(**fields)

        record(start=info.start - 1).write(runs)  # the pid was recycled
        record(boot_id="another boot").write(runs)
        assert len(sandbox.clean_leftovers(run_dir)) == 2
        assert stranger.poll() is None and list(runs.iterdir()) == []

        record().write(runs)  # the same record, right about the process: it goes
        (line,) = sandbox.clean_leftovers(run_dir)
        assert stranger.wait(10) == -signal.SIGKILL and f"killed {stranger.pid}" in line
    finally:
        stranger.kill()
        stranger.wait(10)


# A job that runs for minutes on a CPU: the leftover cannot end by itself during the test.
LONG_LORA = json.dumps({"params": {"steps": 1000, "batch_size": 32, "max_length": 256}})
TEXTS = {"texts": [f"word{i} " * 60 for i in range(8)]}  # inline: under 4 KiB


def job_processes(home: Path) -> dict[int, int]:
    """Live processes working in a folder under ``home`` (a job's scratch is its cwd),
    pid -> start time."""
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry.name}/cwd")
        except OSError:
            continue
        p = proc_info(int(entry.name))
        if p is not None and not p.zombie and cwd.startswith(str(home) + "/"):
            out[p.pid] = p.start
    return out


def following(w: WorkerProc) -> int:
    """How many of the worker's starts got as far as following the chain."""
    return sum("following the chain" in str(r.get("msg")) for r in w.records())


@pytest.mark.slow
def test_a_worker_killed_mid_job_leaves_nothing_running_after_its_restart(
    market: NodeMarket, workers: Any, tmp_path: Path
) -> None:
    _readable(tmp_path)  # the job runs as an unprivileged uid straight on these folders
    w = workers(
        "worker1", sandbox="process", job_timeout_s=3600, job_memory_mib=4096, shutdown_grace_s=0
    )
    home = w.home.resolve()
    seen: dict[int, int] = {}
    try:
        w.setup().start()
        job_id = market.post(TEXTS, task="lora-train", spec=LONG_LORA)
        seen = wait_for("the job's process", lambda: job_processes(home), 90, poll=0.05)
        w.kill()  # SIGKILL: the agent runs no clean-up
        assert alive(seen) == list(seen), "the job ended before the worker was killed"

        w.start()
        # start() returns on the first run's line already: the second start cleans up
        # before it follows the chain (and resumes the job).
        wait_for("the restart", lambda: following(w) == 2, 60)
        assert alive(seen) == [], f"left running after the restart: {alive(seen)}"
        assert w.said("msg", "cleaned up a job run left by an earlier run")
        assert market.job(job_id)["worker"] == w.address

        seen.update(wait_for("the resumed job's process", lambda: job_processes(home), 60))
        assert w.stop() == 0  # SIGTERM, no grace: the resumed run is killed, the job given back
        assert alive(seen) == [] and job_processes(home) == {}
        assert list((home / "data" / "process-runs").iterdir()) == []
    finally:
        w.close()
        kill_all(seen)
        kill_all(job_processes(home))
