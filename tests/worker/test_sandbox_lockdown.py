"""Every job container is created locked down: the request the engine receives.

No Docker engine is needed: as in ``test_sandbox_gpu_config.py``, a real docker-py
client's create call is caught where it would be sent, and the test reads the body.
The Docker tests (``test_sandbox_docker.py``) prove the same rules from inside a
running container; this file names each field, so that a change to one fails here
on any machine, with or without an engine.
"""

from __future__ import annotations

from pathlib import Path

from compute.sandbox import Limits, Mounts
from compute.sandbox.docker_backend import DockerSandbox
from tests.worker.test_sandbox_gpu_config import IMAGE, engine_body, sandbox

__all__ = ["sandbox"]  # the fixture, shared with the GPU config tests

MiB = 1024 * 1024


def test_the_container_is_locked_down_field_by_field(
    sandbox: DockerSandbox, tmp_path: Path
) -> None:
    body = engine_body(sandbox, tmp_path, "cpu", [])
    host = body["HostConfig"]
    limits = Limits()
    assert body["Image"] == IMAGE
    assert body["User"] == "10001:10001"  # not root
    assert host["ReadonlyRootfs"] is True
    assert host["NetworkMode"] == "none"
    assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd")
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert not host.get("Privileged")
    assert host["Memory"] == limits.memory_bytes == 4 * 1024 * MiB
    assert host["MemorySwap"] == limits.memory_bytes  # the same figure: no swap
    assert host["NanoCpus"] == 1_000_000_000
    assert host["PidsLimit"] == 256
    assert host["Ulimits"] == [{"Name": "core", "Soft": 0, "Hard": 0}]
    assert host["Tmpfs"] == {"/tmp": f"rw,noexec,nosuid,nodev,size={1024 * MiB},mode=1777"}
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": str(4 * 65536)}}
    binds = {b.split(":")[1]: (b.split(":")[0], b.split(":")[2]) for b in host["Binds"]}
    assert set(binds) == {"/inputs", "/models", "/out", "/job/job.json"}
    assert binds["/inputs"] == (str((tmp_path / "inputs").resolve()), "ro")
    assert binds["/models"] == (str((tmp_path / "models").resolve()), "ro")
    assert binds["/out"] == (str((tmp_path / "out").resolve()), "rw")  # the only writable one
    assert Path(binds["/job/job.json"][0]).name == "job.json" and binds["/job/job.json"][1] == "ro"
    assert body["WorkingDir"] == "/tmp"
    assert body["AttachStdout"] is False and body["AttachStderr"] is False  # detached
    assert body["Labels"]["vcoin.sandbox"] == "job"
    assert body["Cmd"][:3] == ["python3", "-m", "compute.runtime"]


def test_limits_reach_the_engine_as_given(sandbox: DockerSandbox, tmp_path: Path) -> None:
    mounts_dir = tmp_path / "m"
    mounts_dir.mkdir()
    limits = Limits(memory_bytes=512 * MiB, cpus=1.5, pids=64, tmpfs_bytes=8 * MiB, log_bytes=1)
    cfg = sandbox.container_config(
        ["true"], Mounts(mounts_dir, mounts_dir, mounts_dir), limits, {"A": "1"}, []
    )
    assert (cfg["mem_limit"], cfg["memswap_limit"]) == (512 * MiB, 512 * MiB)
    assert cfg["nano_cpus"] == 1_500_000_000
    assert cfg["pids_limit"] == 64
    assert cfg["tmpfs"]["/tmp"].endswith(f",size={8 * MiB},mode=1777")
    assert cfg["environment"] == {"A": "1"}
    # a tiny log tail still keeps 64 KiB (x4) of the engine's log
    assert cfg["log_config"]["Config"]["max-size"] == str(4 * 65536)
    assert cfg["name"].startswith("vcoin-job-") and len(cfg["name"]) == len("vcoin-job-") + 12


def test_a_warm_container_mounts_its_job_folder_read_only(
    sandbox: DockerSandbox, tmp_path: Path
) -> None:
    """A warm container (``warm.WarmPool``) finds its job file later in a folder mounted
    at /job, read-only like the rest of its inputs."""
    d = tmp_path / "m"
    d.mkdir()
    cfg = sandbox.container_config(
        ["true"], Mounts(d / "in", d / "models", d / "out"), Limits(), {}, [], job_dir=d / "job"
    )
    assert cfg["volumes"] == {
        str((d / "in").resolve()): {"bind": "/inputs", "mode": "ro"},
        str((d / "models").resolve()): {"bind": "/models", "mode": "ro"},
        str((d / "out").resolve()): {"bind": "/out", "mode": "rw"},
        str((d / "job").resolve()): {"bind": "/job", "mode": "ro"},
    }
    assert cfg["working_dir"] == "/tmp" and cfg["detach"] is True
