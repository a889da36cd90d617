"""What this machine offers for jobs, read through NVML (``nvidia-ml-py``, module ``pynvml``).

A machine with no NVIDIA driver, or no GPU, is reported as CPU-only with the
reason, never as an error: such a worker can still run CPU jobs.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    memory_bytes: int
    uuid: str


@dataclass(frozen=True)
class Capabilities:
    gpus: tuple[GpuInfo, ...] = ()
    driver_version: str = ""
    cuda_driver_version: str = ""
    cpu_count: int = field(default_factory=lambda: os.cpu_count() or 1)
    reason: str = ""  # why there is no GPU, when there is none

    @property
    def cpu_only(self) -> bool:
        return not self.gpus

    @property
    def gpu_memory_bytes(self) -> int:
        return max((g.memory_bytes for g in self.gpus), default=0)

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["cpu_only"] = self.cpu_only
        return doc


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_capabilities() -> Capabilities:
    try:
        import pynvml
    except ImportError:
        return Capabilities(reason="nvidia-ml-py is not installed")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as e:
        return Capabilities(reason=f"no NVIDIA driver answers NVML ({_text(e)})")
    try:
        driver = _text(pynvml.nvmlSystemGetDriverVersion())
        cuda = pynvml.nvmlSystemGetCudaDriverVersion()
        gpus = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            mem = pynvml.nvmlDeviceGetMemoryInfo(h)
            gpus.append(
                GpuInfo(
                    index=i,
                    name=_text(pynvml.nvmlDeviceGetName(h)),
                    memory_bytes=int(mem.total),
                    uuid=_text(pynvml.nvmlDeviceGetUUID(h)),
                )
            )
    finally:
        pynvml.nvmlShutdown()
    return Capabilities(
        gpus=tuple(gpus),
        driver_version=driver,
        cuda_driver_version=f"{cuda // 1000}.{cuda % 1000 // 10}",
        reason="" if gpus else "NVML found no GPU",
    )
