"""The docker sandbox asks the engine for exactly the job's GPUs, and none for a CPU job.

No GPU and no Docker engine are needed: the sandbox gets a real docker-py client
whose create call is caught where it would be sent, so the test reads the very
request body the engine would receive (``HostConfig.DeviceRequests``, the
``--gpus`` of ``docker run``), for a job run through ``execute_job`` as the
worker runs it, and the configuration every container (cold or warm) is made
from.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import docker
import pytest

from compute.sandbox import Limits, Mounts, execute_job
from compute.sandbox.docker_backend import DockerSandbox

JOB_GPUS = ["GPU-4f6a1c2e-0000-4000-8000-000000000001", "3"]
IMAGE = "vcoin-worker:gpu-config-test"


class EngineReached(Exception):
    """The create request got as far as the engine's socket; its body is in ``body``."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__("container create request")
        self.body = body


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[DockerSandbox]:
    # A real client on an address nothing listens on; only the image lookup (at start)
    # and the container create (what the test reads) are answered here.
    def from_env(**_: Any) -> docker.DockerClient:
        return docker.DockerClient(base_url="unix:///nonexistent/docker.sock", version="1.43")

    def create_container_from_config(
        _api: Any, config: dict[str, Any], name: str | None, platform: str | None = None
    ) -> dict[str, Any]:
        raise EngineReached(json.loads(json.dumps(config)))

    monkeypatch.setattr(docker, "from_env", from_env)
    monkeypatch.setattr(
        docker.models.images.ImageCollection,
        "get",
        lambda _self, name: SimpleNamespace(id="sha256:" + "0" * 64),
    )
    monkeypatch.setattr(
        docker.api.client.APIClient, "create_container_from_config", create_container_from_config
    )
    sb = DockerSandbox(IMAGE, warm=False)
    yield sb
    sb.client.close()


def engine_body(sb: DockerSandbox, tmp_path: Path, device: str, gpus: list[str]) -> dict[str, Any]:
    """The create request of a job run the way the worker runs one."""
    for d in ("inputs", "models"):
        (tmp_path / d).mkdir()
    job = {"task_type": "text-generation", "model": "m", "params": {}}
    with pytest.raises(EngineReached) as caught:
        execute_job(
            sb, job, tmp_path / "inputs", tmp_path / "models", tmp_path / "out", Limits(),
            device, gpus,
        )  # fmt: skip
    return caught.value.body


def test_a_gpu_job_asks_the_engine_for_exactly_its_gpus(
    sandbox: DockerSandbox, tmp_path: Path
) -> None:
    body = engine_body(sandbox, tmp_path, "cuda", JOB_GPUS)
    assert body["Image"] == IMAGE
    assert body["HostConfig"]["DeviceRequests"] == [
        {
            "Driver": "",
            "Count": 0,  # not "all" (-1), not a count: these devices and no others
            "DeviceIDs": JOB_GPUS,
            "Capabilities": [["gpu"]],
            "Options": {},
        }
    ]
    assert f"NVIDIA_VISIBLE_DEVICES={','.join(JOB_GPUS)}" in body["Env"]
    # the lock-down is the same as for any job
    assert body["HostConfig"]["NetworkMode"] == "none"
    assert body["HostConfig"]["CapDrop"] == ["ALL"]


def test_a_cpu_job_asks_the_engine_for_no_gpu(sandbox: DockerSandbox, tmp_path: Path) -> None:
    body = engine_body(sandbox, tmp_path, "cpu", [])
    assert body["Image"] == IMAGE
    assert not body["HostConfig"].get("DeviceRequests")
    assert not any(e.startswith("NVIDIA_VISIBLE_DEVICES=") for e in body.get("Env") or [])


def test_every_container_config_carries_the_job_gpus(
    sandbox: DockerSandbox, tmp_path: Path
) -> None:
    # The configuration warm containers are made from too (``warm.WarmPool``).
    mounts = Mounts(tmp_path / "inputs", tmp_path / "models", tmp_path / "out")
    argv = ["python3", "-m", "compute.runtime"]
    gpu = sandbox.container_config(argv, mounts, Limits(), {}, ["1"], job_dir=tmp_path / "job")
    [request] = gpu["device_requests"]
    assert (request["DeviceIDs"], request["Capabilities"]) == (["1"], [["gpu"]])
    assert gpu["environment"]["NVIDIA_VISIBLE_DEVICES"] == "1"
    cpu = sandbox.container_config(argv, mounts, Limits(), {}, [], job_dir=tmp_path / "job")
    assert not cpu.get("device_requests")
    assert "NVIDIA_VISIBLE_DEVICES" not in cpu["environment"]
