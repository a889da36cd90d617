"""Warm job containers for the docker sandbox: the runtime's imports done before the job comes.

A fresh container spends about two seconds importing torch and transformers
before the job's first line runs; the container itself costs a fifth of a
second. A warm container is created with exactly the job containers'
configuration (``DockerSandbox.container_config``: read-only root, no network, no
capabilities, non-root, the same limits, GPUs and mount points) and runs the
runtime with ``--await-job``: it loads the libraries and waits for
``/job/job.json``. Mounts are fixed when a container is created, so each warm
container has its own folder ``<root>/<name>/{inputs,out,job}``; at the
hand-over the job's inputs are linked into its inputs folder and the job spec
renamed into its job folder, and once it has exited its outputs are moved to
the job's output folder. It runs that one job and is removed, like a cold one;
the job's time limit counts from the hand-over.

While it waits, the pool touches ``job/.alive`` every few seconds; a container
that sees it go stale for ``alive_timeout_s`` exits (the worker was killed
outright), so none waits forever. The next warm container is started when the
job's container has gone, in the background, so its CPU-heavy start-up does not
compete with the job. A job runs cold instead (the caller falls back to
``DockerSandbox.run``) when no warm container is there yet, when it has died,
or when the job asks for another models folder, other limits, device or GPUs
than the pool was made for.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compute.sandbox.base import Limits, Mounts, SandboxError, SandboxResult, prepare_out_dir

if TYPE_CHECKING:
    from collections.abc import Sequence

    from compute.sandbox.docker_backend import DockerSandbox

log = logging.getLogger("vcoin.worker.sandbox")

READY_LINE = "vcoin-runtime: ready"
WARM_LABEL = "vcoin.warm"
ALIVE_FILE = ".alive"  # in the job folder: touched while the pool lives
KEEPALIVE_S = 5.0


@dataclass(frozen=True)
class WarmKey:
    """What a warm container was made for; a job must ask for the same to use it."""

    models: str
    limits: Limits
    device: str
    gpus: tuple[str, ...]

    @classmethod
    def of(cls, models: Path, limits: Limits, device: str, gpus: Sequence[str]) -> WarmKey:
        return cls(str(models.resolve()), limits, device, tuple(gpus))


@dataclass
class Warm:
    container: Any
    folder: Path
    created: float  # time.monotonic() when it was created


class WarmPool:
    """Up to ``size`` idle warm containers for jobs matching ``key``."""

    def __init__(
        self,
        sandbox: DockerSandbox,
        root: Path,
        key: WarmKey,
        size: int = 1,
        alive_timeout_s: float = 60.0,
    ) -> None:
        self.sandbox = sandbox
        self.root = root
        self.key = key
        self.size = size
        self.alive_timeout_s = alive_timeout_s
        self.last_error = ""
        self._idle: list[Warm] = []
        self._starting = 0
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o755)
        # A warm container exits when its .alive goes stale: after this process is
        # killed outright, it does not wait for a job forever.
        self._keeper = threading.Thread(target=self._keep_alive, daemon=True)
        self._keeper.start()

    def _keep_alive(self) -> None:
        while not self._stop.wait(KEEPALIVE_S):
            with self._lock:
                folders = [w.folder for w in self._idle]
            for f in folders:
                try:
                    os.utime(f / "job" / ALIVE_FILE)
                except OSError:  # taken and removed since
                    pass

    # -- keeping containers ready ------------------------------------------------------
    def fill(self) -> None:
        """Start containers in the background until ``size`` are idle or starting."""
        with self._lock:
            if self._closed:
                return
            need = max(0, self.size - len(self._idle) - self._starting)
            self._starting += need
            new = [threading.Thread(target=self._start_one, daemon=True) for _ in range(need)]
            self._threads = [t for t in self._threads if t.is_alive()] + new
        for t in new:
            t.start()

    def _start_one(self) -> None:
        warm = None
        try:
            warm = self._create()
        except Exception as e:  # noqa: BLE001 - a failed start only means cold runs
            self.last_error = f"{type(e).__name__}: {e}"
            log.warning("could not start a warm job container: %s", self.last_error)
        with self._lock:
            self._starting -= 1
            if warm is not None and not self._closed:
                self._idle.append(warm)
                return
        if warm is not None:
            self._discard(warm)

    def _create(self) -> Warm:
        name = f"vcoin-job-{uuid.uuid4().hex[:12]}"
        folder = self.root / name
        try:
            for sub in ("", "inputs", "job"):
                (folder / sub).mkdir(exist_ok=True)
                os.chmod(folder / sub, 0o755)
            prepare_out_dir(folder / "out")
            mounts = Mounts(folder / "inputs", Path(self.key.models), folder / "out")
            (folder / "job" / ALIVE_FILE).touch(mode=0o444)
            argv = [*self.sandbox.runtime_argv(mounts, self.key.device), "--await-job"]
            argv += ["--alive-timeout", str(self.alive_timeout_s)]
            cfg = self.sandbox.container_config(
                argv,
                mounts,
                self.key.limits,
                {},
                self.key.gpus,
                job_dir=folder / "job",
                name=name,
                labels={WARM_LABEL: "1"},
            )
            created = time.monotonic()
            container = self.sandbox.client.containers.create(self.sandbox.image, **cfg)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        warm = Warm(container, folder, created)
        try:
            container.start()
        except BaseException:
            self._discard(warm)
            raise
        return warm

    def wait_ready(self, timeout: float = 120.0) -> float | None:
        """Block until an idle warm container has loaded its libraries; the seconds from
        its creation to then (seen to within ~20 ms), or None if none got there in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                idle = list(self._idle)
            for w in idle:
                try:
                    tail = w.container.logs(stdout=True, stderr=True, tail=20)
                except Exception:  # noqa: BLE001 - gone since: look again
                    continue
                if READY_LINE.encode() in tail:
                    return time.monotonic() - w.created
            time.sleep(0.02)
        return None

    # -- handing a job over ------------------------------------------------------------
    def take(self, key: WarmKey) -> Warm | None:
        """An idle, still running container for ``key``, now this caller's alone."""
        if key != self.key:
            return None
        with self._lock:
            if not self._idle:
                return None
            warm = self._idle.pop(0)
        try:
            warm.container.reload()
            running = warm.container.status == "running"
        except Exception:  # noqa: BLE001 - gone from the engine
            running = False
        if not running:
            log.warning("warm job container %s had stopped: running the job cold", warm.folder.name)
            self._discard(warm)
            return None
        return warm

    def run(self, job: bytes, inputs: Path, out: Path, key: WarmKey) -> SandboxResult | None:
        """``job`` in a warm container, outputs moved to ``out`` (made by the caller,
        empty); None when no warm container fits: the caller runs it cold."""
        import docker

        warm = self.take(key)
        if warm is None:
            self.fill()
            return None
        t0 = time.monotonic()
        try:
            _link_tree(inputs, warm.folder / "inputs")
            job_dir = warm.folder / "job"
            tmp = job_dir / ".job.json.tmp"
            tmp.write_bytes(job)
            os.chmod(tmp, 0o444)
            os.replace(tmp, job_dir / "job.json")  # the container sees it whole or not at all
        except OSError as e:  # the job never reached the container: run it cold
            log.warning("could not hand the job to a warm container (%s): running it cold", e)
            self._discard(warm)
            self.fill()
            return None
        try:
            res = self.sandbox.collect(warm.container, self.key.limits, t0, warm=True)
            for p in sorted((warm.folder / "out").iterdir()):
                shutil.move(p, out / p.name)
            return res
        except docker.errors.APIError as e:
            raise SandboxError(f"docker failed the warm job container: {e.explanation or e}") from e
        finally:
            self._discard(warm)
            self.fill()

    # -- ending ------------------------------------------------------------------------
    def _discard(self, warm: Warm) -> None:
        self.sandbox.remove(warm.container)
        shutil.rmtree(warm.folder, ignore_errors=True)

    def close(self) -> None:
        """Remove the idle containers and stop starting new ones (a start under way
        finishes, then removes its own container)."""
        self._stop.set()
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            threads = list(self._threads)
        for t in threads:
            t.join(timeout=90)
        for w in idle:
            self._discard(w)


def _link_tree(src: Path, dst: Path) -> None:
    """``src``'s files in ``dst``: hard links where the filesystem allows, else copies."""
    for p in sorted(src.iterdir()):
        target = dst / p.name
        if p.is_dir():
            target.mkdir()
            os.chmod(target, 0o755)
            _link_tree(p, target)
            continue
        try:
            os.link(p, target)
        except OSError:
            shutil.copyfile(p, target)
            os.chmod(target, 0o444)
