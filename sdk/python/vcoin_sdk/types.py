"""What queries and txs return."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JOB_STATES = (
    "queued", "claimed", "submitted", "checking",
    "settled", "rejected", "cancelled", "expired", "failed",
)  # fmt: skip
OPEN_STATES = ("queued", "claimed", "submitted", "checking")
FINAL_STATES = ("settled", "rejected", "cancelled", "expired", "failed")


def _int(v: Any) -> int:
    return int(v) if v not in (None, "") else 0


@dataclass(frozen=True)
class Account:
    address: str
    account_number: int
    sequence: int
    public_key: bytes | None = None


@dataclass(frozen=True)
class TxResult:
    """A tx's result: in a block (``height`` > 0) or only checked (``height`` 0)."""

    hash: str
    height: int = 0
    code: int = 0
    codespace: str = ""
    log: str = ""
    gas_wanted: int = 0
    gas_used: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.code == 0

    def attributes(self, event_type: str, key: str) -> list[str]:
        """The values of ``key`` in the tx's events of ``event_type``, in order."""
        return [
            str(a.get("value", ""))
            for e in self.events
            if e.get("type") == event_type
            for a in e.get("attributes") or []
            if a.get("key") == key
        ]

    @classmethod
    def of(cls, hash_: str, height: Any, r: dict[str, Any]) -> TxResult:
        return cls(
            hash=str(hash_).upper(),
            height=_int(height),
            code=_int(r.get("code")),
            codespace=str(r.get("codespace") or ""),
            log=str(r.get("log") or ""),
            gas_wanted=_int(r.get("gas_wanted")),
            gas_used=_int(r.get("gas_used")),
            events=list(r.get("events") or []),
        )


@dataclass(frozen=True)
class Job:
    """A job as the chain reports it (``raw``: every field of the node's answer)."""

    id: int
    poster: str
    state: str
    model: str
    task_type: str
    max_price: int
    worker: str
    price: int
    output_hash: str
    artifact_ref: str
    paid: int
    burned: int
    refunded: int
    last_error: str
    raw: dict[str, Any] = field(repr=False)

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @classmethod
    def of(cls, d: dict[str, Any]) -> Job:
        return cls(
            id=_int(d.get("id")),
            poster=str(d.get("poster") or ""),
            state=str(d.get("state") or ""),
            model=str(d.get("model") or ""),
            task_type=str(d.get("task_type") or ""),
            max_price=_int(d.get("max_price")),
            worker=str(d.get("worker") or ""),
            price=_int(d.get("price")),
            output_hash=str(d.get("output_hash") or ""),
            artifact_ref=str(d.get("artifact_ref") or ""),
            paid=_int(d.get("paid")),
            burned=_int(d.get("burned")),
            refunded=_int(d.get("refunded")),
            last_error=str(d.get("last_error") or ""),
            raw=d,
        )


@dataclass(frozen=True)
class Bond:
    address: str
    role: str
    bonded: int
    min_bond: int
    active: bool
    jailed_until: int
    tombstoned: bool
    unbonding: list[dict[str, Any]]

    @classmethod
    def of(cls, d: dict[str, Any]) -> Bond:
        return cls(
            address=str(d.get("address") or ""),
            role=str(d.get("role") or ""),
            bonded=_int(d.get("bonded")),
            min_bond=_int(d.get("min_bond")),
            active=bool(d.get("active")),
            jailed_until=_int(d.get("jailed_until")),
            tombstoned=bool(d.get("tombstoned")),
            unbonding=list(d.get("unbonding") or []),
        )


@dataclass(frozen=True)
class Reputation:
    address: str
    score_bps: int
    successes: int
    total: int
    penalties_bps: int
    uptime_bps: int
    stake_weight_bps: int
    has_history: bool

    @property
    def score(self) -> float:
        """0 to 100."""
        return self.score_bps / 100

    @classmethod
    def of(cls, d: dict[str, Any]) -> Reputation:
        return cls(
            address=str(d.get("address") or ""),
            score_bps=_int(d.get("score_bps")),
            successes=_int(d.get("successes")),
            total=_int(d.get("total")),
            penalties_bps=_int(d.get("penalties_bps")),
            uptime_bps=_int(d.get("uptime_bps")),
            stake_weight_bps=_int(d.get("stake_weight_bps")),
            has_history=bool(d.get("has_history")),
        )
