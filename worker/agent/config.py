"""Worker configuration: defaults < $VCOIN_WORKER_HOME/config.toml < VCOIN_WORKER_* env < flags.

Every setting has one name used in all four places: the TOML key
``max_concurrent``, the env var ``VCOIN_WORKER_MAX_CONCURRENT``, the override
key ``max_concurrent`` (the CLI maps ``--max-concurrent`` to it). Lists are
TOML arrays, or comma-separated in env vars and flags.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain import settings

HOME_ENV = "VCOIN_WORKER_HOME"
ENV_PREFIX = "VCOIN_WORKER_"
SANDBOXES = ("auto", "docker", "process")
DEVICES = ("auto", "cpu", "cuda")


def default_home() -> Path:
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".vcoin-worker").expanduser()


@dataclass(frozen=True)
class WorkerConfig:
    home: str = ""
    key: str = "worker"
    node: str = "http://127.0.0.1:26657"
    artifacts: str = "http://127.0.0.1:1317"
    # execution
    sandbox: str = "auto"
    image: str = ""
    warm_pool: bool = True
    device: str = "auto"
    job_memory_mib: int = 4096
    job_cpus: float = 1.0
    job_pids: int = 256
    job_timeout_s: int = 600
    # claim policy
    task_types: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    price_floor: int = 0
    max_concurrent: int = 1
    # daemon
    heartbeats: bool = True
    shutdown_grace_s: int = 30
    catchup_scan_blocks: int = 2000
    metrics_laddr: str = "127.0.0.1:9101"
    log_level: str = "info"
    log_format: str = "json"

    @property
    def home_path(self) -> Path:
        return Path(self.home) if self.home else default_home()

    @property
    def config_file(self) -> Path:
        return self.home_path / "config.toml"

    @property
    def data_dir(self) -> Path:
        return self.home_path / "data"

    def validate(self) -> None:
        if self.sandbox not in SANDBOXES:
            raise ValueError(f"sandbox must be one of {', '.join(SANDBOXES)}, not {self.sandbox!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        if self.log_format not in ("json", "text"):
            raise ValueError("log_format must be json or text")
        for name in ("max_concurrent", "job_memory_mib", "job_pids", "job_timeout_s"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.job_cpus <= 0:
            raise ValueError("job_cpus must be positive")
        if self.price_floor < 0 or self.shutdown_grace_s < 0 or self.catchup_scan_blocks < 0:
            raise ValueError("price_floor, shutdown_grace_s and catchup_scan_blocks are ≥ 0")
        for name in ("node", "artifacts"):
            if "://" not in getattr(self, name):
                raise ValueError(f"{name} must be a URL such as http://127.0.0.1:26657")
        if self.metrics_laddr:
            host, _, port = self.metrics_laddr.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError("metrics_laddr must look like 127.0.0.1:9101 (or be empty)")


def load_config(
    home: Path | str | None = None, overrides: dict[str, Any] | None = None
) -> WorkerConfig:
    """Defaults, then the home's config.toml, then VCOIN_WORKER_* env vars, then ``overrides``."""
    cfg = WorkerConfig(home=str(Path(home).expanduser() if home else default_home()))
    return settings.load_layers(cfg, cfg.config_file, ENV_PREFIX, overrides)


_DOC = {
    "key": "Name of the signing key in <home>/keys (made by `vcoin-worker init`).",
    "node": "Node RPC URL (JSON-RPC and the /websocket event stream).",
    "artifacts": "Artifact store URL (the node's REST port serves /artifacts).",
    "sandbox": "docker (isolated containers) | process (LESS isolated, no engine needed) | auto",
    "image": "Docker image for jobs; empty: the tag scripts/build-worker-image builds.",
    "warm_pool": "docker: keep one job container started with the libraries loaded, so a "
    "job skips their ~2 s import (one job per container all the same); false: start each cold.",
    "device": "auto | cpu | cuda: where the runtime runs models.",
    "job_memory_mib": "Memory limit per job (MiB); a job over it fails as out_of_memory.",
    "job_cpus": "CPUs per job.",
    "job_pids": "Most processes per job.",
    "job_timeout_s": "Wall-clock limit per job (also bounded by the job's result deadline).",
    "task_types": "Task types to claim; empty: every type the served models run.",
    "models": "Chain model ids to serve; empty: every registered model that fits this machine.",
    "price_floor": "Lowest max_price (avcn) worth claiming; also the registered ask.",
    "max_concurrent": "Jobs run at once (also registered on chain).",
    "heartbeats": "Send MsgHeartbeat once per reputation slot (uptime counts toward reputation).",
    "shutdown_grace_s": "On SIGTERM, seconds running jobs get to finish before they are "
    "given back.",
    "catchup_scan_blocks": "After a restart, scan up to this many missed blocks event by event; "
    "beyond that, read the open queue instead.",
    "metrics_laddr": "Prometheus /metrics listen address; empty disables it.",
    "log_level": "debug | info | warning | error",
    "log_format": "json (one object per line) | text",
}


def render_toml(cfg: WorkerConfig | None = None) -> str:
    header = [
        "# vcoin-worker configuration. Each key can also be set by the env var",
        "# VCOIN_WORKER_<KEY> (e.g. VCOIN_WORKER_MAX_CONCURRENT) or a command-line",
        "# flag, which win over this file.",
    ]
    return settings.render_toml(cfg or WorkerConfig(), header, _DOC)


def write_config(cfg: WorkerConfig) -> Path:
    path = cfg.config_file
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(render_toml(cfg))
    os.replace(tmp, path)
    return path
