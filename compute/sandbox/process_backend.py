"""The process sandbox, for machines with no Docker engine. LESS ISOLATED than docker.

What it does: a new session (so the whole process group is killed on timeout),
a fresh network namespace with only a down loopback (``unshare(CLONE_NEWNET)``,
or with a user namespace when not root, where the kernel permits), rlimits on
data memory, processes, CPU seconds, file size and core dumps, a wall-clock
timeout, and, when started as root, a switch to an unprivileged uid so the
process limit holds and the job cannot write what root owns.

What it does not: the job sees the host's whole filesystem (read-only only
where file permissions say so), shares the kernel's process and IPC
namespaces, and its memory is capped by ``RLIMIT_DATA`` (heap and anonymous
mappings) rather than a cgroup, so running out of memory shows as a Python
``MemoryError`` instead of an OOM kill. Not ``RLIMIT_AS``: PyTorch's CUDA build
maps gigabytes of shared libraries and address space at import, so a job
capped by address space could not even import torch. Use the docker backend
wherever an engine exists.

Leftovers: a worker killed outright (SIGKILL, a crash) runs no clean-up, and
its jobs' processes would run on. So every run is recorded in ``runs_dir``
(under the worker's home for the agent) before it starts and until it has
been killed: a token that every process of the job carries in its
environment (``VCOIN_SANDBOX_RUN``), the session leader's pid with its start
time and the boot id (so a recycled pid is never taken for the job), and the
scratch folder. ``clean_leftovers`` at the next start kills what each record
still names and removes its scratch folder. It finds the job's own children
too: by session while the leader lives, by the token when they left the
session; only a child that left the session and cleared its environment
after its leader died escapes it.
"""

from __future__ import annotations

import ctypes
import io
import json
import logging
import os
import resource
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

from compute.sandbox.base import (
    Limits,
    LogTail,
    Mounts,
    SandboxError,
    SandboxResult,
    runtime_argv,
)

log = logging.getLogger("vcoin.worker.sandbox")

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
NOBODY = 65534
RUN_ENV = "VCOIN_SANDBOX_RUN"  # in every job process's environment: its run's token
SCRATCH_PREFIX = ".scratch-"


def _unshare(flags: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _probe(flags: int) -> bool:
    """Whether this process may unshare with ``flags`` (tried in a child)."""
    pid = os.fork()
    if pid == 0:
        try:
            _unshare(flags)
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _can_run_as(uid: int, python: str) -> bool:
    def drop() -> None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)

    try:
        r = subprocess.run(
            [python, "-c", "import compute.runtime"],
            preexec_fn=drop,
            capture_output=True,
            cwd="/",
            env={"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0


# -- records of runs, for the clean-up after a worker killed outright -------------------


def default_runs_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"vcoin-process-runs-{os.geteuid()}"


def _own_dir(path: Path) -> Path:
    """``path`` as a folder only this uid may write: records in it are trusted to name
    processes to kill and folders to remove."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise SandboxError(
            f"{path} (the process sandbox's run records) must be a folder of uid "
            f"{os.geteuid()} that no one else may write; remove it or set another"
        )
    return path


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    session: int
    start: int  # clock ticks after boot: with the pid, one process ever (until a reboot)
    zombie: bool


def proc_info(pid: int) -> ProcInfo | None:
    """``/proc/<pid>/stat``'s fields that tell a process apart; None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and ')': the fields after it follow the last ')'.
    rest = raw[raw.rindex(b")") + 2 :].split()
    return ProcInfo(pid, int(rest[3]), int(rest[19]), rest[0] in (b"Z", b"X"))


def _uid(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def _carries(pid: int, token: str) -> bool:
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:  # gone, or another user's (not ours to kill then)
        return False
    return f"{RUN_ENV}={token}".encode() in env.split(b"\0")


@dataclass(frozen=True)
class RunRecord:
    """One job run of the process sandbox, written before it starts, removed once killed."""

    token: str
    boot_id: str
    uid: int  # the job's: the only processes whose environment is read for the token
    scratch: str
    out: str
    pid: int = 0  # the session leader; 0 while it is being started
    start: int = 0  # the leader's start time (``ProcInfo.start``)

    def write(self, runs_dir: Path) -> None:
        tmp = runs_dir / f".{self.token}.tmp"
        tmp.write_text(json.dumps(asdict(self)))
        os.replace(tmp, runs_dir / f"{self.token}.json")  # whole or not at all

    def remove(self, runs_dir: Path) -> None:
        (runs_dir / f"{self.token}.json").unlink(missing_ok=True)

    def processes(self) -> list[ProcInfo]:
        """Its live processes: the leader's session while the leader is the recorded
        process (a session id stays taken while its leader exists, zombie or not),
        and every process of the job's uid carrying the token. None from before a reboot."""
        if self.boot_id != _boot_id():
            return []
        leader = proc_info(self.pid) if self.pid else None
        ours = leader is not None and leader.start == self.start and leader.session == self.pid
        found = []
        me = os.getpid()
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) == me:
                continue
            p = proc_info(int(entry.name))
            if p is None or p.zombie:
                continue
            if ours and p.session == self.pid:
                found.append(p)
            elif _uid(p.pid) == self.uid and _carries(p.pid, self.token):
                found.append(p)
        return found

    def kill(self) -> list[str]:
        """SIGKILL its processes, looking again until none is left (one may fork between
        a look and the kill); ``pid (command)`` of each killed."""
        killed: dict[int, str] = {}
        for _ in range(100):
            procs = self.processes()
            if not procs:
                break
            for p in procs:
                comm = _comm(p.pid)
                if _kill_exactly(p):
                    killed.setdefault(p.pid, f"{p.pid} ({comm})")
            time.sleep(0.01)
        else:
            log.warning("job run %s: processes still there after 100 rounds of kills", self.token)
        return list(killed.values())


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def _kill_exactly(p: ProcInfo) -> bool:
    """SIGKILL ``p`` and no other process that has taken its pid since it was seen."""
    try:
        fd = os.pidfd_open(p.pid)
    except ProcessLookupError:
        return False
    except OSError:  # a kernel before 5.3: the narrow race of a plain kill
        now = proc_info(p.pid)
        if now is None or now.start != p.start:
            return False
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            return False
        return True
    try:
        # The pidfd holds this very process: checked now, the signal cannot go astray.
        now = proc_info(p.pid)
        if now is None or now.start != p.start:
            return False
        signal.pidfd_send_signal(fd, signal.SIGKILL)
        return True
    except ProcessLookupError:
        return False
    finally:
        os.close(fd)


def _remove_scratch(scratch: str) -> bool:
    path = Path(scratch)
    if not path.name.startswith(SCRATCH_PREFIX) or not path.exists():
        return False
    subprocess.run(["rm", "-rf", str(path)], check=False)
    return True


def _is_under(path: str, root: Path) -> bool:
    return Path(path).is_relative_to(root)


class ProcessSandbox:
    name = "process"

    def __init__(
        self,
        python: str = sys.executable,
        run_as: int | None = None,
        runs_dir: Path | None = None,
    ) -> None:
        """``runs_dir``: where runs are recorded for ``clean_leftovers`` (a folder of
        this uid's; by default one per uid under the temp folder)."""
        self.python = python
        self.runs_dir = _own_dir(runs_dir or default_runs_dir())
        self.is_root = os.geteuid() == 0
        if run_as is None and self.is_root:
            run_as = NOBODY if _can_run_as(NOBODY, python) else None
        self.run_as = run_as
        if _probe(CLONE_NEWNET):
            self.net_flags: int | None = CLONE_NEWNET
        elif _probe(CLONE_NEWUSER | CLONE_NEWNET):
            self.net_flags = CLONE_NEWUSER | CLONE_NEWNET
        else:
            self.net_flags = None
        net = "own network namespace" if self.net_flags else "HOST NETWORK (unshare refused)"
        who = f"uid {self.run_as}" if self.run_as is not None else f"uid {os.geteuid()}"
        if self.is_root and self.run_as is None:
            # root ignores RLIMIT_NPROC; happens when the interpreter lives
            # where an unprivileged user cannot reach it (e.g. under /root).
            who = "ROOT (no process limit: the interpreter is not reachable by nobody)"
        self.isolation = (
            f"process, LESS ISOLATED than docker: {net}, {who}, rlimits, host filesystem"
        )
        log.warning("process sandbox in use: %s", self.isolation)

    def runtime_argv(self, mounts: Mounts, device: str) -> list[str]:
        assert mounts.job is not None
        return runtime_argv("python3", mounts.job, mounts.inputs, mounts.models, mounts.out, device)

    def _preexec(self, limits: Limits) -> Callable[[], None]:
        net_flags, run_as = self.net_flags, self.run_as

        def setup() -> None:
            os.setsid()
            if net_flags is not None:
                _unshare(net_flags)
            lim = [
                (resource.RLIMIT_DATA, limits.memory_bytes),
                (resource.RLIMIT_CPU, int(limits.timeout_s * max(limits.cpus, 1)) + 1),
                (resource.RLIMIT_FSIZE, limits.file_bytes),
                (resource.RLIMIT_CORE, 0),
                (resource.RLIMIT_NPROC, limits.pids),
            ]
            for which, value in lim:
                resource.setrlimit(which, (value, value))
            if run_as is not None and os.geteuid() == 0:
                os.setgroups([])
                os.setgid(run_as)
                os.setuid(run_as)

        return setup

    def run(
        self,
        argv: Sequence[str],
        mounts: Mounts,
        limits: Limits,
        env: dict[str, str] | None = None,
        gpus: Sequence[str] = (),
    ) -> SandboxResult:
        cmd = list(argv)
        if cmd and cmd[0] == "python3":
            cmd[0] = self.python
        scratch = mounts.out.parent / f"{SCRATCH_PREFIX}{mounts.out.name}"
        uid = self.run_as if self.run_as is not None and self.is_root else os.geteuid()
        record = RunRecord(
            uuid.uuid4().hex, _boot_id(), uid, str(scratch.resolve()), str(mounts.out.resolve())
        )
        # Before anything starts: a worker killed from here on leaves a record to clean by.
        record.write(self.runs_dir)
        scratch.mkdir(mode=0o777, exist_ok=True)
        os.chmod(scratch, 0o777)
        child_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(scratch),
            "TMPDIR": str(scratch),
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "HF_HUB_OFFLINE": "1",
            "CUDA_VISIBLE_DEVICES": ",".join(gpus),
            **(env or {}),
            RUN_ENV: record.token,
        }
        tail = LogTail(limits.log_bytes)
        t0 = time.monotonic()
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=scratch,
                env=child_env,
                preexec_fn=self._preexec(limits),
            )
        except BaseException:
            self._end(record)
            raise
        # Unreaped until proc.wait(), so the pid is still this child's to read.
        leader = proc_info(proc.pid)
        if leader is not None:
            record = RunRecord(**{**asdict(record), "pid": proc.pid, "start": leader.start})
            record.write(self.runs_dir)
        assert proc.stdout is not None
        out = cast(io.BufferedReader, proc.stdout)  # read1: feed the tail as output arrives

        def pump() -> None:
            while chunk := out.read1(65536):
                tail.feed(chunk)

        reader = threading.Thread(target=pump)
        reader.start()
        timed_out = False
        try:
            proc.wait(timeout=limits.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            # The job's whole group goes, including anything it forked; then what left
            # the group: its session while the leader is unreaped, whatever has the token.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            record.kill()
            proc.wait()
            reader.join(10)
            self._end(record)
        code = proc.returncode
        logs = tail.text()
        return SandboxResult(
            backend=self.name,
            exit_code=code,
            oom_killed="MemoryError" in logs and code != 0,
            timed_out=timed_out or code == -signal.SIGXCPU,
            logs=logs,
            logs_truncated=tail.truncated,
            duration_s=time.monotonic() - t0,
        )

    def _end(self, record: RunRecord) -> None:
        _remove_scratch(record.scratch)
        record.remove(self.runs_dir)  # last: until here a killed worker leaves it to clean

    def clean_leftovers(self, under: Path) -> list[str]:
        """Kill the processes of runs whose output folder lies under ``under`` that a
        worker killed outright left running, and remove their scratch folders; one line
        per run saying what went. Call it before this worker starts any job there."""
        root = under.resolve()
        done = []
        for path in sorted(self.runs_dir.glob("*.json")):
            try:
                record = RunRecord(**json.loads(path.read_text()))
            except (OSError, ValueError, TypeError) as e:
                log.warning("unreadable process sandbox record %s removed: %s", path, e)
                path.unlink(missing_ok=True)
                continue
            if not _is_under(record.out, root):
                continue  # another worker's, or another program's
            killed = record.kill()
            removed = _remove_scratch(record.scratch)
            record.remove(self.runs_dir)
            what = [f"killed {', '.join(killed)}"] if killed else ["no process left"]
            if removed:
                what.append(f"removed {record.scratch}")
            done.append(f"run {record.token[:12]} (output {record.out}): {'; '.join(what)}")
        return done
