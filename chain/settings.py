"""Layered settings for the daemons: defaults < a TOML file < env vars < overrides.

A daemon's settings are a frozen dataclass whose field names are used in all
four places: the TOML key ``max_concurrent``, the env var ``<PREFIX>MAX_CONCURRENT``
and the override key ``max_concurrent`` (what a CLI flag maps to). The ``home``
field is where the file lives, so it is not a setting of its own. Env values
and flags arrive as text and are read by the field's type; lists are TOML
arrays, or comma-separated in env vars and flags.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar


class Settings(Protocol):
    __dataclass_fields__: ClassVar[dict[str, Any]]

    def validate(self) -> None: ...


S = TypeVar("S", bound=Settings)


def coerce(name: str, kind: str, raw: Any) -> Any:
    """``raw`` (from TOML, env or a flag) as a value of the field type ``kind``."""
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in ("1", "true", "yes", "on"):
            return True
        if str(raw).lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{name}: expected true or false, got {raw!r}")
    if kind == "int":
        try:
            return int(raw)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{name}: expected a whole number, got {raw!r}") from e
    if kind == "float":
        try:
            return float(raw)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{name}: expected a number, got {raw!r}") from e
    if kind.startswith("tuple"):
        items = raw.split(",") if isinstance(raw, str) else list(raw)
        return tuple(str(i).strip() for i in items if str(i).strip())
    return str(raw)


def load_layers(cfg: S, config_file: Path, env_prefix: str, overrides: dict[str, Any] | None) -> S:
    """``cfg`` (defaults and home) with ``config_file``, then ``env_prefix``+NAME env
    vars, then ``overrides`` (``None`` values skipped) laid over it, validated."""
    kinds = {f.name: str(f.type) for f in fields(cfg) if f.name != "home"}
    layered: dict[str, Any] = {}
    if config_file.exists():
        with config_file.open("rb") as f:
            data = tomllib.load(f)
        unknown = set(data) - set(kinds)
        if unknown:
            raise ValueError(f"{config_file}: unknown settings {sorted(unknown)}")
        layered.update(data)
    for n in sorted(kinds):
        env = os.environ.get(env_prefix + n.upper())
        if env is not None:
            layered[n] = env
    for k, v in (overrides or {}).items():
        if v is not None:
            if k not in kinds:
                raise ValueError(f"unknown setting {k!r}")
            layered[k] = v
    cfg = replace(cfg, **{k: coerce(k, kinds[k], v) for k, v in layered.items()})
    cfg.validate()
    return cfg


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    if isinstance(v, tuple):
        return "[" + ", ".join(f'"{i}"' for i in v) + "]"
    return f'"{v}"'


def render_toml(cfg: Settings, header: list[str], docs: dict[str, str]) -> str:
    """``cfg`` as a commented TOML file: the ``header`` comment lines, then each
    setting under its line of ``docs``."""
    lines = [*header, ""]
    for k, v in asdict(cfg).items():
        if k == "home":
            continue
        lines += [f"# {docs.get(k, '')}", f"{k} = {_toml_value(v)}", ""]
    return "\n".join(lines)
