"""The gateway's settings: defaults < ``home/config.toml`` < ``VCOIN_GATEWAY_*`` env < flags.

The layering is the daemons' (``chain.settings``): every setting has one name as the
TOML key, the env var (``VCOIN_GATEWAY_LISTEN``) and the flag (``--listen``). The
home (``--home``, else ``$VCOIN_GATEWAY_HOME``, else ``~/.vcoin-gateway``) holds
``config.toml``, ``gateway.sqlite3`` (the default store) and ``jwt.secret`` (made on
first start unless ``jwt_secret`` is set; instances that share a PostgreSQL store
must share the secret too).
"""

from __future__ import annotations

import math
import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from chain import settings

HOME_ENV = "VCOIN_GATEWAY_HOME"
ENV_PREFIX = "VCOIN_GATEWAY_"
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("json", "text")


class ConfigError(ValueError):
    """A setting is unknown or its value is not allowed."""


def default_home() -> Path:
    env = os.environ.get(HOME_ENV)
    return Path(env).expanduser() if env else Path.home() / ".vcoin-gateway"


DOCS = {
    "listen": "host:port the HTTP API listens on (/v1/…, /metrics, /docs)",
    "rpc": "the node's RPC URL (queries: models, authz grants, chain id)",
    "database": "store URL: postgresql://… or sqlite:///path; empty: <home>/gateway.sqlite3",
    "domain": "the sign-in domain (EIP-4361); empty: the listen address",
    "uri": "the sign-in URI; empty: http://<domain>",
    "account": "the gateway's chain account (bech32): the grantee of users' authz grants",
    "rest": "the node's REST URL (the artifact store: job outputs)",
    "key": "name of the gateway's signing key in <home>/keys (vcoind keys, test backend or "
    "key_passphrase_file): it signs MsgExec; empty: no inference endpoints",
    "key_passphrase_file": "file holding the passphrase of a `file`-backend key",
    "max_price": "avcn escrowed per inference job when a request names no max_price",
    "job_timeout_s": "seconds an inference request waits for its job to settle before 504",
    "files_quota_bytes": "bytes of /v1/files one user may keep (the gateway's account uploads "
    "them all, under the node's artifact quota for that account)",
    "jwt_secret": "HS256 secret of session tokens; empty: <home>/jwt.secret (made once)",
    "jwt_ttl_s": "lifetime of a session token, seconds",
    "nonce_ttl_s": "lifetime of a sign-in challenge, seconds",
    "eth_chain_id": "EIP-155 chain id in SIWE messages; 0: the node's (evm params)",
    "default_rate_limit": "requests per minute of a new API key when none is asked",
    "max_rate_limit": "the most requests per minute a key may be given",
    "bad_key_limit": "failed authentications per minute per client address before 429",
    "log_level": "debug, info, warning or error",
    "log_format": "json (one object per line) or text",
}


@dataclass(frozen=True)
class GatewayConfig:
    home: str = ""
    listen: str = "127.0.0.1:8080"
    rpc: str = "http://127.0.0.1:26657"
    database: str = ""
    domain: str = ""
    uri: str = ""
    account: str = ""
    rest: str = "http://127.0.0.1:1317"
    key: str = ""
    key_passphrase_file: str = ""
    max_price: str = "1000000000000000000"
    job_timeout_s: float = 120.0
    files_quota_bytes: int = 64 * 1024 * 1024
    jwt_secret: str = ""
    jwt_ttl_s: int = 900
    nonce_ttl_s: int = 300
    eth_chain_id: int = 0
    default_rate_limit: int = 60
    max_rate_limit: int = 6000
    bad_key_limit: int = 20
    log_level: str = "info"
    log_format: str = "json"

    @property
    def home_path(self) -> Path:
        return Path(self.home) if self.home else default_home()

    @property
    def file(self) -> Path:
        return self.home_path / "config.toml"

    @property
    def database_url(self) -> str:
        return self.database or f"sqlite:///{self.home_path / 'gateway.sqlite3'}"

    @property
    def signin_domain(self) -> str:
        return self.domain or self.listen

    @property
    def signin_uri(self) -> str:
        return self.uri or f"http://{self.signin_domain}"

    def validate(self) -> None:
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(f"log_level must be one of {', '.join(LOG_LEVELS)}")
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(f"log_format must be one of {', '.join(LOG_FORMATS)}")
        host, _, port = self.listen.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError("listen must look like 127.0.0.1:8080")
        if "://" not in self.rpc:
            raise ConfigError("rpc must be a URL such as http://127.0.0.1:26657")
        if self.database and not self.database.startswith(
            ("postgresql://", "postgres://", "sqlite://")
        ):
            raise ConfigError("database must be postgresql://… or sqlite:///path")
        if self.account:
            from chain.crypto import AddressError, parse_address

            try:
                parse_address(self.account)
            except AddressError as e:
                raise ConfigError(f"account: {e}") from e
        for name in (
            "jwt_ttl_s",
            "nonce_ttl_s",
            "default_rate_limit",
            "max_rate_limit",
            "bad_key_limit",
            "files_quota_bytes",
        ):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise ConfigError(f"{name} must be positive, not {v}")
        if self.default_rate_limit > self.max_rate_limit:
            raise ConfigError("default_rate_limit is above max_rate_limit")
        if not self.max_price.isascii() or not self.max_price.isdigit():
            raise ConfigError("max_price is a whole number of avcn")
        if not (self.job_timeout_s > 0 and math.isfinite(self.job_timeout_s)):
            raise ConfigError(f"job_timeout_s must be positive, not {self.job_timeout_s}")
        if self.eth_chain_id < 0:
            raise ConfigError("eth_chain_id must be ≥ 0")

    def secret(self) -> bytes:
        """The JWT secret: the setting, else ``<home>/jwt.secret`` (made once, 0600)."""
        if self.jwt_secret:
            return self.jwt_secret.encode()
        path = self.home_path / "jwt.secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        return path.read_text().strip().encode()

    def with_(self, **changes: Any) -> GatewayConfig:
        cfg = replace(self, **{k: v for k, v in changes.items() if v is not None})
        cfg.validate()
        return cfg

    def save(self) -> Path:
        self.home_path.mkdir(parents=True, exist_ok=True)
        header = ["# vcoin-gateway settings; env VCOIN_GATEWAY_<NAME> and --flags override"]
        self.file.write_text(settings.render_toml(self, header, DOCS))
        return self.file

    @classmethod
    def load(
        cls, home: Path | str | None = None, overrides: dict[str, Any] | None = None
    ) -> GatewayConfig:
        cfg = cls(home=str(Path(home).expanduser() if home else default_home()))
        try:
            return settings.load_layers(cfg, cfg.file, ENV_PREFIX, overrides)
        except ConfigError:
            raise
        except ValueError as e:
            raise ConfigError(str(e)) from e
