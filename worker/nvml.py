"""What this machine can run, read through NVML (``nvidia-ml-py``, module ``pynvml``).

``probe()`` never raises: with no NVIDIA driver, no library or no GPU it
returns CPU-only capabilities and says why in ``note``, so registration and
``--help`` on a laptop work and tell the operator plainly what was found.

Registered figures (``MsgRegisterWorker``): ``gpu_model`` (the first GPU's
name, with ``N x`` when there are several kinds), ``memory_mib`` (the
smallest GPU's memory, since a job gets one GPU's worth per GPU), and
``gpu_count``. A CPU-only machine registers ``gpu_count`` 0 and
``memory_mib`` 0, which is what the chain expects of one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

MIB = 1 << 20


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    memory_mib: int
    uuid: str = ""


@dataclass(frozen=True)
class Capabilities:
    gpus: tuple[Gpu, ...] = ()
    driver: str = ""
    cuda: str = ""
    note: str = ""  # why the machine counts as CPU-only, when it does
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cpu_only(self) -> bool:
        return not self.gpus

    @property
    def gpu_count(self) -> int:
        return len(self.gpus)

    @property
    def memory_mib(self) -> int:
        return min((g.memory_mib for g in self.gpus), default=0)

    @property
    def gpu_model(self) -> str:
        if not self.gpus:
            return ""
        names = sorted({g.name for g in self.gpus})
        return names[0] if len(names) == 1 else " + ".join(names)

    @property
    def device_ids(self) -> list[str]:
        """What the sandbox passes as NVIDIA_VISIBLE_DEVICES / device requests."""
        return [g.uuid or str(g.index) for g in self.gpus]

    def summary(self) -> str:
        if self.cpu_only:
            return f"CPU only: {self.note}" if self.note else "CPU only"
        return (
            f"{self.gpu_count} x {self.gpu_model}, {self.memory_mib} MiB each, "
            f"driver {self.driver or '?'}, CUDA {self.cuda or '?'}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "cpu_only": self.cpu_only,
            "gpu_model": self.gpu_model,
            "gpu_count": self.gpu_count,
            "memory_mib": self.memory_mib,
            "driver": self.driver,
            "cuda": self.cuda,
            "gpus": [asdict(g) for g in self.gpus],
            "note": self.note,
        }


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _load_pynvml() -> Any:
    import pynvml

    return pynvml


def probe(load: Callable[[], Any] = _load_pynvml) -> Capabilities:
    """The GPUs NVML sees; CPU-only (with the reason in ``note``) when it sees none."""
    try:
        nv = load()
    except ImportError:
        return Capabilities(note="nvidia-ml-py (pynvml) is not installed")
    try:
        nv.nvmlInit()
    except Exception as e:  # noqa: BLE001 - NVMLError_LibraryNotFound, DriverNotLoaded, …
        return Capabilities(note=f"no NVIDIA driver answers NVML ({_text(e) or type(e).__name__})")
    try:
        driver = _text(nv.nvmlSystemGetDriverVersion())
        try:
            v = int(nv.nvmlSystemGetCudaDriverVersion())
            cuda = f"{v // 1000}.{v % 1000 // 10}"
        except Exception:  # noqa: BLE001 - older drivers lack the call
            cuda = ""
        gpus = []
        for i in range(int(nv.nvmlDeviceGetCount())):
            h = nv.nvmlDeviceGetHandleByIndex(i)
            mem = nv.nvmlDeviceGetMemoryInfo(h)
            try:
                uuid = _text(nv.nvmlDeviceGetUUID(h))
            except Exception:  # noqa: BLE001
                uuid = ""
            gpus.append(Gpu(i, _text(nv.nvmlDeviceGetName(h)), int(mem.total) // MIB, uuid))
    except Exception as e:  # noqa: BLE001 - a half-working driver is treated as none
        return Capabilities(note=f"NVML failed while listing GPUs: {_text(e)}")
    finally:
        try:
            nv.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass
    note = "" if gpus else "the NVIDIA driver answers but lists no GPU"
    return Capabilities(tuple(gpus), driver, cuda, note)
