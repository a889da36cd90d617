"""The process sandbox, for machines with no Docker engine. LESS ISOLATED than docker.

What it does: a new session (so the whole process group is killed on timeout),
a fresh network namespace with only a down loopback (``unshare(CLONE_NEWNET)``,
or with a user namespace when not root, where the kernel permits), rlimits on
address space, processes, CPU seconds, file size and core dumps, a wall-clock
timeout, and, when started as root, a switch to an unprivileged uid so the
process limit holds and the job cannot write what root owns.

What it does not: the job sees the host's whole filesystem (read-only only
where file permissions say so), shares the kernel's process and IPC
namespaces, and its memory is capped by address space rather than a cgroup,
so running out of memory shows as a Python ``MemoryError`` instead of an OOM
kill. Use the docker backend wherever an engine exists.
"""

from __future__ import annotations

import ctypes
import io
import logging
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import cast

from worker.sandbox.base import Limits, LogTail, Mounts, SandboxResult, runtime_argv

log = logging.getLogger("vcoin.worker.sandbox")

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
NOBODY = 65534


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
            [python, "-c", "import worker.runtime"],
            preexec_fn=drop,
            capture_output=True,
            cwd="/",
            env={"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0


class ProcessSandbox:
    name = "process"

    def __init__(self, python: str = sys.executable, run_as: int | None = None) -> None:
        self.python = python
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
                (resource.RLIMIT_AS, limits.memory_bytes),
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
        scratch = mounts.out.parent / f".scratch-{mounts.out.name}"
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
        }
        tail = LogTail(limits.log_bytes)
        t0 = time.monotonic()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=scratch,
            env=child_env,
            preexec_fn=self._preexec(limits),
        )
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
            # The job's whole session goes, including anything it forked.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            reader.join(10)
            subprocess.run(["rm", "-rf", str(scratch)], check=False)
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
