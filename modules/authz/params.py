"""Params of the authz module, changed only by the platform authority."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from chain.params import params_from_json
from modules.authz.errors import ErrInvalidParams


@dataclass(frozen=True)
class Params:
    """``max_exec_msgs``: the most inner messages one MsgExec may carry."""

    max_exec_msgs: int = 8

    def validate(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ErrInvalidParams(f"{f.name} must be a positive integer, got {v!r}")

    def to_json(self) -> dict[str, Any]:
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Params:
        return params_from_json(cls, d, ErrInvalidParams, "authz", int_strings=True)
