"""The docker sandbox: each job in a fresh, locked-down container.

Per container: read-only root filesystem; a tmpfs at /tmp (noexec, sized);
inputs and models bind-mounted read-only, the output folder read-write, the job
spec read-only; ``network_mode=none`` (only a loopback interface); every
capability dropped; ``no-new-privileges``; a non-root user; memory (no swap),
CPU and pids limits; no core dumps; GPU device requests only when GPUs are
given; a wall-clock timeout after which the container is killed; the engine's
log file capped and only a tail of it read back. The container is removed
whatever happens.

Warm containers (``warm.py``): once ``prewarm`` has named the models folder,
limits and device, one container with this same configuration waits with the
libraries loaded; ``execute_job`` hands it the next job that matches. It runs
that one job and is removed like any other; a new one is started after it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compute.sandbox.base import Limits, Mounts, SandboxError, SandboxResult, runtime_argv

if TYPE_CHECKING:
    from compute.sandbox.warm import WarmPool

DEFAULT_USER = "10001:10001"
IN_INPUTS, IN_MODELS, IN_OUT, IN_JOB = "/inputs", "/models", "/out", "/job/job.json"
IN_JOB_DIR = "/job"
# how long a SIGKILLed container's OOMKilled flag is waited for (see oom_killed)
OOM_EVENT_WAIT_S = 2.0


# pragma: no mutate start
# scripts/mutation mutates only container_config, the lockdown every job container gets;
# the engine calls around it are exercised by tests/worker/test_sandbox_docker.py.
def engine_problem() -> str | None:
    """None when a Docker engine answers; else one line saying why not."""
    try:
        import docker

        client = docker.from_env(version="auto", timeout=10)
        client.ping()
        client.close()
    except Exception as e:  # noqa: BLE001 - any failure means no usable engine
        return f"no Docker engine answers ({type(e).__name__}: {e}); run scripts/setup-docker"
    return None


class DockerSandbox:
    name = "docker"
    isolation = "container: read-only root, no network, no capabilities, non-root, cgroup limits"

    def __init__(
        self, image: str | None = None, user: str = DEFAULT_USER, warm: bool = True
    ) -> None:
        import docker

        if image is None:
            from compute.image import image_tag

            image = image_tag()
        self.image = image
        self.user = user
        self.client = docker.from_env(version="auto", timeout=60)
        try:
            self.image_id = str(self.client.images.get(image).id)
        except docker.errors.ImageNotFound:
            raise SandboxError(
                f"worker image {image} is not built: run scripts/build-worker-image"
            ) from None
        self.warm = warm
        self.pool: WarmPool | None = None

    def prewarm(
        self,
        root: Path,
        models: Path,
        limits: Limits,
        device: str = "cpu",
        gpus: Sequence[str] = (),
        alive_timeout_s: float = 60.0,
    ) -> None:
        """Keep a warm container for jobs on ``models`` with these limits and device, its
        job folders under ``root``; starts it in the background. No-op when warm is off.
        ``alive_timeout_s``: how long a warm container outlives this process."""
        if not self.warm:
            return
        from compute.sandbox.warm import WarmKey, WarmPool

        self.stop_warm()
        key = WarmKey.of(models, limits, device, gpus)
        self.pool = WarmPool(self, root, key, alive_timeout_s=alive_timeout_s)
        self.pool.fill()

    def run_warm(
        self,
        job: bytes,
        inputs: Path,
        models: Path,
        out: Path,
        limits: Limits,
        device: str,
        gpus: Sequence[str] = (),
    ) -> SandboxResult | None:
        """Run ``job`` in the warm container, its outputs moved to ``out``; None when
        there is none for this configuration (or it died): run it cold then."""
        if self.pool is None:
            return None
        from compute.sandbox.warm import WarmKey

        return self.pool.run(job, inputs, out, WarmKey.of(models, limits, device, gpus))

    def runtime_argv(self, mounts: Mounts, device: str) -> list[str]:
        return runtime_argv(
            "python3", IN_JOB, IN_INPUTS, IN_MODELS, IN_OUT, device, scratch="/tmp/scratch"
        )

    # pragma: no mutate end
    def container_config(
        self,
        argv: Sequence[str],
        mounts: Mounts,
        limits: Limits,
        env: dict[str, str],
        gpus: Sequence[str],
        job_dir: Path | None = None,
        name: str | None = None,
        labels: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The engine's create arguments for one job container running ``argv``, locked
        down as the module docstring says: ``client.containers.create(self.image, **cfg)``.

        Every job container, cold (``run``) or warm (``warm.WarmPool``), is made from
        this one configuration. ``job_dir``: a folder mounted read-only at /job instead of
        ``mounts.job`` (a warm container, whose job file appears there later). ``name``:
        the container's name (default: a fresh ``vcoin-job-…``); ``labels``: added to
        the ``vcoin.sandbox=job`` label.
        """
        from docker.types import DeviceRequest, LogConfig, Ulimit

        volumes = {
            str(mounts.inputs.resolve()): {"bind": IN_INPUTS, "mode": "ro"},
            str(mounts.models.resolve()): {"bind": IN_MODELS, "mode": "ro"},
            str(mounts.out.resolve()): {"bind": IN_OUT, "mode": "rw"},
        }
        if mounts.job is not None:
            volumes[str(mounts.job.resolve())] = {"bind": IN_JOB, "mode": "ro"}
        if job_dir is not None:
            volumes[str(job_dir.resolve())] = {"bind": IN_JOB_DIR, "mode": "ro"}
        env = dict(env)
        device_requests = None
        if gpus:
            env["NVIDIA_VISIBLE_DEVICES"] = ",".join(gpus)
            device_requests = [DeviceRequest(device_ids=list(gpus), capabilities=[["gpu"]])]
        return {
            "command": list(argv),
            "name": name or f"vcoin-job-{uuid.uuid4().hex[:12]}",
            "labels": {"vcoin.sandbox": "job", **(labels or {})},
            "user": self.user,
            "working_dir": "/tmp",
            "environment": env,
            "read_only": True,
            "tmpfs": {"/tmp": f"rw,noexec,nosuid,nodev,size={limits.tmpfs_bytes},mode=1777"},
            "volumes": volumes,
            "network_mode": "none",
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "mem_limit": limits.memory_bytes,
            "memswap_limit": limits.memory_bytes,  # the same figure: no swap
            "nano_cpus": int(limits.cpus * 1e9),
            "pids_limit": limits.pids,
            "ulimits": [Ulimit(name="core", soft=0, hard=0)],
            "log_config": LogConfig(
                type="json-file", config={"max-size": str(max(limits.log_bytes, 65536) * 4)}
            ),
            "device_requests": device_requests,
            "detach": True,
        }

    # pragma: no mutate start
    def run(
        self,
        argv: Sequence[str],
        mounts: Mounts,
        limits: Limits,
        env: dict[str, str] | None = None,
        gpus: Sequence[str] = (),
    ) -> SandboxResult:
        import docker

        t0 = time.monotonic()
        container = None
        try:
            container = self.client.containers.create(
                self.image, **self.container_config(argv, mounts, limits, env or {}, gpus)
            )
            container.start()
            return self.collect(container, limits, t0)
        except docker.errors.APIError as e:
            raise SandboxError(f"docker refused the job container: {e.explanation or e}") from e
        finally:
            if container is not None:
                self.remove(container)

    def collect(
        self, container: Any, limits: Limits, t0: float, warm: bool = False
    ) -> SandboxResult:
        """Wait for a started container (killed once ``limits.timeout_s`` from now have
        passed) and read how it ended; it is left for the caller to remove."""
        import requests

        timed_out = False
        try:
            status = container.wait(timeout=limits.timeout_s)
            exit_code: int | None = int(status.get("StatusCode", -1))
        except (requests.exceptions.RequestException, ConnectionError):
            timed_out = True
            container.kill()
            status = container.wait(timeout=30)
            exit_code = int(status.get("StatusCode", -1))
        duration = time.monotonic() - t0
        oom = self.oom_killed(container, exit_code, timed_out)
        raw = container.logs(stdout=True, stderr=True, tail=2000)
        logs = raw[-limits.log_bytes :].decode("utf-8", "replace")
        return SandboxResult(
            backend=self.name,
            exit_code=exit_code,
            oom_killed=oom,
            timed_out=timed_out,
            logs=logs,
            logs_truncated=len(raw) > limits.log_bytes,
            duration_s=duration,
            image=self.image_id,
            warm=warm,
        )

    @staticmethod
    def oom_killed(container: Any, exit_code: int | None, timed_out: bool) -> bool:
        """Whether the kernel killed the container for its memory limit. The daemon sets
        ``OOMKilled`` from the kernel's OOM event, which on a loaded machine can land
        after the exit it caused (CI saw a job killed by the OOM killer reported as a
        sandbox error): a SIGKILL exit (137) the sandbox did not cause (no time-out) is
        looked at again for up to ``OOM_EVENT_WAIT_S``."""
        container.reload()
        oom = bool(container.attrs["State"].get("OOMKilled"))
        if oom or exit_code != 137 or timed_out:
            return oom
        deadline = time.monotonic() + OOM_EVENT_WAIT_S
        while not oom and time.monotonic() < deadline:
            time.sleep(0.05)
            container.reload()
            oom = bool(container.attrs["State"].get("OOMKilled"))
        return oom

    @staticmethod
    def remove(container: Any) -> None:
        import docker

        try:
            container.remove(force=True)
        except docker.errors.APIError:
            pass

    def stop_warm(self) -> None:
        """Remove the idle warm containers and start no more; jobs then run cold."""
        if self.pool is not None:
            self.pool.close()
            self.pool = None

    def close(self) -> None:
        """Remove the idle warm containers; the sandbox runs no more jobs after this."""
        self.stop_warm()
        self.client.close()


# pragma: no mutate end
