"""Events: what state changes announce to clients (ABCI events)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    type: str
    attributes: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, type_: str, **attrs: object) -> Event:
        return cls(type_, tuple((k, str(v)) for k, v in attrs.items()))

    def get(self, key: str) -> str | None:
        for k, v in self.attributes:
            if k == key:
                return v
        return None

    def to_json(self) -> dict[str, object]:
        """CometBFT's JSON shape for an event."""
        return {
            "type": self.type,
            "attributes": [{"key": k, "value": v, "index": True} for k, v in self.attributes],
        }
