"""Params of the bank module."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from chain.params import params_from_json
from modules.bank.errors import ErrInvalidParams


@dataclass(frozen=True)
class Params:
    send_enabled: bool = True

    def validate(self) -> None:
        if not isinstance(self.send_enabled, bool):
            raise ErrInvalidParams("send_enabled must be true or false")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Params:
        return params_from_json(cls, d, ErrInvalidParams, "bank")
