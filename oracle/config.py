"""The oracle's settings: ``home/config.json``, written by ``init``, overridden by flags.

The home folder (``--home``, else ``$VCOIN_ORACLE_HOME``, else
``~/.vcoin-oracle``) holds::

    config.json          these settings
    keys/                the account key (chain keystore) and the ed25519 key
    state.json           what the daemon has handled (see ``state``)
    evidence/<sha256>    every evidence document it attested with
    cache/               models, inputs and outputs fetched by hash
    runs/                scratch folders of re-executions (removed after use)
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

HOME_ENV = "VCOIN_ORACLE_HOME"


def default_home() -> Path:
    env = os.environ.get(HOME_ENV)
    return Path(env) if env else Path.home() / ".vcoin-oracle"


@dataclass(frozen=True)
class OracleConfig:
    home: str = ""
    key_name: str = "oracle"
    keyring_backend: str = "file"
    rpc: str = "http://127.0.0.1:26657"
    artifacts: str = "http://127.0.0.1:1317"  # the node's REST address serves /artifacts
    sandbox: str = "auto"  # docker | process | auto (docker when an engine answers)
    device: str = "cpu"  # the runtime's --device; match the workers' device class
    run_timeout_s: float = 600.0
    metrics: str = "127.0.0.1:9464"  # host:port of the Prometheus endpoint; "" turns it off
    canaries: bool = True
    canary_task_types: tuple[str, ...] = ()  # empty: every task type in the real job mix
    canary_min_observed: int = 5  # user jobs to have seen before imitating the mix
    poll_s: float = 2.0  # block polling when the websocket is quiet or down
    shutdown_grace_s: float = 30.0  # SIGTERM: how long a running check may still finish
    max_check_attempts: int = 5
    gas_price: int = 0  # avcn per gas; 0 = the chain's min_gas_price
    log_level: str = "info"
    log_format: str = "json"

    @property
    def home_path(self) -> Path:
        return Path(self.home) if self.home else default_home()

    @property
    def file(self) -> Path:
        return self.home_path / "config.json"

    def with_(self, **changes: Any) -> OracleConfig:
        known = {f.name for f in fields(self)}
        return replace(self, **{k: v for k, v in changes.items() if k in known and v is not None})

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("home")
        d["canary_task_types"] = list(self.canary_task_types)
        return d

    def save(self) -> None:
        self.home_path.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.file)

    @classmethod
    def load(cls, home: Path | str | None = None) -> OracleConfig:
        h = Path(home) if home else default_home()
        cfg = cls(home=str(h))
        if cfg.file.exists():
            d = json.loads(cfg.file.read_text())
            if "canary_task_types" in d:
                d["canary_task_types"] = tuple(d["canary_task_types"])
            cfg = cfg.with_(**d)
        return cfg
