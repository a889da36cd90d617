"""The oracle's settings: defaults < ``home/config.toml`` < ``VCOIN_ORACLE_*`` env < flags.

The layering is the node's and the worker's (``chain.settings``). Every setting
has one name used in all four places: the TOML key ``poll_s``, the env var
``VCOIN_ORACLE_POLL_S``, the override key ``poll_s`` (what ``--poll-s`` or
another flag maps to). Lists are TOML arrays, or comma-separated in env vars.
An unknown key (in the file, an env var with the prefix, an override) is
refused with the list of the known ones, and every value is checked
(``OracleConfig.validate``), so a typo stops the oracle instead of being
ignored.

The home folder (``--home``, else ``$VCOIN_ORACLE_HOME``, else
``~/.vcoin-oracle``) holds::

    config.toml          these settings, written by ``init``
    config.json          the settings file of older homes: still read, under config.toml
    keys/                the account key (chain keystore) and the ed25519 key
    state.json           what the daemon has handled (see ``state``)
    evidence/<sha256>    every evidence document it attested with
    cache/               models, inputs and outputs fetched by hash
    runs/                scratch folders of re-executions (removed after use)
    plants.json          the plant worker keys and plants (``oracle.plant``; 0600)
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from chain import settings

HOME_ENV = "VCOIN_ORACLE_HOME"
ENV_PREFIX = "VCOIN_ORACLE_"
SANDBOXES = ("auto", "docker", "process")
DEVICES = ("auto", "cpu", "cuda")
KEYRING_BACKENDS = ("file", "test")
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("json", "text")


class ConfigError(ValueError):
    """A setting is unknown or its value is not allowed."""


def default_home() -> Path:
    env = os.environ.get(HOME_ENV)
    return Path(env).expanduser() if env else Path.home() / ".vcoin-oracle"


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
    canary_settle_blocks: int = 100  # a poster idle this long has posted all it will
    canary_learn_blocks: int = 300  # a new state file learns the posters of this many blocks
    canary_commit_every: int = 20  # blocks between scheduled commitment txs; 0: precommit by id
    # plant known-bad results (oracle.plant) while plant_rate_bps > 0; opt-in: it bonds a
    # worker account from the oracle's funds and its plants punish that account
    plant: bool = False
    plant_season_jobs: int = 3  # honest jobs a plant worker does before its first plant
    plant_rotate_after: int = 2  # plants per key: a fresh one stays above the slash line
    plant_wait_blocks: int = 20  # the plant worker takes only jobs left queued this long
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
        return self.home_path / "config.toml"

    @property
    def legacy_file(self) -> Path:
        """Where homes made before config.toml keep their settings."""
        return self.home_path / "config.json"

    def validate(self) -> None:
        def one_of(name: str, allowed: tuple[str, ...]) -> None:
            if getattr(self, name) not in allowed:
                got = getattr(self, name)
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {got!r}")

        one_of("sandbox", SANDBOXES)
        one_of("device", DEVICES)
        one_of("keyring_backend", KEYRING_BACKENDS)
        one_of("log_level", LOG_LEVELS)
        one_of("log_format", LOG_FORMATS)
        if not self.key_name.strip():
            raise ConfigError("key_name must not be empty")
        for name in ("rpc", "artifacts"):
            if "://" not in getattr(self, name):
                raise ConfigError(f"{name} must be a URL such as http://127.0.0.1:26657")
        if self.metrics:
            host, _, port = self.metrics.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ConfigError("metrics must look like 127.0.0.1:9464 (or be empty)")
        for name in ("run_timeout_s", "poll_s"):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise ConfigError(f"{name} must be a positive number of seconds, not {v}")
        if not (self.shutdown_grace_s >= 0 and math.isfinite(self.shutdown_grace_s)):
            raise ConfigError(f"shutdown_grace_s must be ≥ 0 seconds, not {self.shutdown_grace_s}")
        if self.max_check_attempts < 1:
            raise ConfigError("max_check_attempts must be at least 1")
        if self.plant_rotate_after < 1:
            raise ConfigError("plant_rotate_after must be at least 1")
        for name in (
            "canary_min_observed",
            "canary_settle_blocks",
            "canary_learn_blocks",
            "canary_commit_every",
            "gas_price",
            "plant_season_jobs",
            "plant_wait_blocks",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be ≥ 0")
        if any(not t for t in self.canary_task_types):
            raise ConfigError("canary_task_types holds an empty task type")

    def with_(self, **changes: Any) -> OracleConfig:
        """These settings with ``changes`` (``None`` values skipped), checked: an unknown
        key or a bad value raises ``ConfigError``."""
        _refuse_unknown(k for k, v in changes.items() if v is not None)
        kinds = _kinds()
        try:
            cfg = replace(
                self,
                **{k: settings.coerce(k, kinds[k], v) for k, v in changes.items() if v is not None},
            )
        except ValueError as e:
            raise ConfigError(str(e)) from e
        cfg.validate()
        return cfg

    def save(self) -> Path:
        """Write ``config.toml`` (atomically), commented with what each key does."""
        self.home_path.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_suffix(".toml.tmp")
        tmp.write_text(render_toml(self))
        os.replace(tmp, self.file)
        return self.file

    @classmethod
    def load(
        cls, home: Path | str | None = None, overrides: dict[str, Any] | None = None
    ) -> OracleConfig:
        """Defaults, then the home's config.json (older homes) and config.toml, then
        ``VCOIN_ORACLE_*`` env vars, then ``overrides`` (``None`` values skipped)."""
        cfg = cls(home=str(Path(home).expanduser() if home else default_home()))
        try:
            cfg = cfg._with_legacy_file()
            if cfg.file.exists():
                import tomllib

                with cfg.file.open("rb") as f:
                    _refuse_unknown(tomllib.load(f), f"{cfg.file}: ")
            for var in sorted(os.environ):
                key = var[len(ENV_PREFIX) :].lower()
                if var.startswith(ENV_PREFIX) and var != HOME_ENV and key not in _kinds():
                    raise ConfigError(
                        f"unknown env variable {var}: no setting {key!r}; the known ones are: "
                        + ", ".join(_kinds())
                    )
            _refuse_unknown(k for k, v in (overrides or {}).items() if v is not None)
            return settings.load_layers(cfg, cfg.file, ENV_PREFIX, overrides)
        except ConfigError:
            raise
        except ValueError as e:  # a value chain.settings could not read, a bad TOML file
            raise ConfigError(str(e)) from e

    def _with_legacy_file(self) -> OracleConfig:
        if not self.legacy_file.exists():
            return self
        try:
            data = json.loads(self.legacy_file.read_text())
        except ValueError as e:
            raise ConfigError(f"{self.legacy_file}: not JSON: {e}") from e
        if not isinstance(data, dict):
            raise ConfigError(f"{self.legacy_file}: not a JSON object")
        _refuse_unknown(data, f"{self.legacy_file}: ")
        kinds = _kinds()
        return replace(self, **{k: settings.coerce(k, kinds[k], v) for k, v in data.items()})


def _kinds() -> dict[str, str]:
    return {f.name: str(f.type) for f in fields(OracleConfig) if f.name != "home"}


def _refuse_unknown(keys: Any, where: str = "") -> None:
    known = _kinds()
    for k in sorted(keys):
        if k not in known:
            raise ConfigError(
                f"{where}unknown setting {k!r}; the known ones are: {', '.join(known)}"
            )


DOCS = {
    "key_name": "Name of the account key in <home>/keys (and of the ed25519 key beside it).",
    "keyring_backend": "file (encrypted keys) | test (UNENCRYPTED: devnets only).",
    "rpc": "Node RPC URL (JSON-RPC and the /websocket event stream).",
    "artifacts": "Artifact store URL (the node's REST address serves /artifacts).",
    "sandbox": "Where re-executions run: docker | process (LESS isolated) | auto (docker if up).",
    "device": "auto | cpu | cuda: the runtime's device; match the workers' device class.",
    "run_timeout_s": "Wall-clock limit of one re-execution or canary run (seconds, > 0).",
    "metrics": "host:port of the Prometheus /metrics endpoint; empty turns it off.",
    "canaries": "Post hidden canary jobs (true) or only check (false).",
    "canary_task_types": "Task types to post canaries of; empty: those of the real job mix.",
    "canary_min_observed": "User jobs to have seen before the first canary imitates the mix.",
    "canary_settle_blocks": "Blocks a real poster stays idle before canary personas imitate "
    "its job count (no canary before one has; ≥ 0).",
    "canary_learn_blocks": "With no state file, the real posters of this many blocks before "
    "the chain's tip are learned at start, so the first canaries need not wait for a poster "
    "to settle (0: learn only from the blocks followed; ≥ 0).",
    "canary_commit_every": "Blocks between the oracle's canary commitment txs: each holds 4 "
    "commitments, those of the canaries ready then (bound to their posts) and random decoys "
    "for the rest, so their pace and size say nothing of when a canary is posted (0: commit "
    "each canary by job id in the block before its post: fewer txs, but that timing shows; "
    "≥ 0).",
    "plant": "Plant known-bad results through a worker account of the oracle's own, to "
    "catch oracles that pass what they did not check (only while the chain's plant_rate_bps > 0).",
    "plant_season_jobs": "Honest jobs a plant worker submits before its first plant (≥ 0).",
    "plant_rotate_after": "Plants per plant worker key; then it unbonds and a fresh key starts "
    "(≥ 1).",
    "plant_wait_blocks": "Blocks a job must stay queued before the plant worker takes it: "
    "real workers get the first chance (≥ 0).",
    "poll_s": "Seconds between block polls when the websocket is quiet or down (> 0).",
    "shutdown_grace_s": "On SIGTERM, seconds a running check may still finish (≥ 0).",
    "max_check_attempts": "Tries of a check the oracle cannot judge before it gives up (≥ 1).",
    "gas_price": "avcn per gas for the oracle's txs; 0: the chain's min_gas_price.",
    "log_level": "debug | info | warning | error",
    "log_format": "json (one object per line) | text",
}


def render_toml(cfg: OracleConfig | None = None) -> str:
    header = [
        "# vcoin-oracle configuration. Each key can also be set by the env var",
        f"# {ENV_PREFIX}<KEY> (e.g. {ENV_PREFIX}POLL_S) or a command-line flag,",
        "# which win over this file.",
    ]
    return settings.render_toml(cfg or OracleConfig(), header, DOCS)


def settings_help() -> str:
    """Every setting with its env var and what it does (for ``vcoin-oracle --help``)."""
    lines = []
    for name, doc in DOCS.items():
        lines.append(f"  {name:<21} {ENV_PREFIX}{name.upper()}")
        lines.append(f"      {doc.rstrip('.')}. Default: {getattr(OracleConfig(), name)!r}.")
    return "\n".join(lines)
