"""Events of the slashing module. ``Slashed``, ``Jailed`` and ``Tombstoned`` come
from staking and ``ReputationChanged`` from reputation, where the state changes;
these summarise each decision."""

from __future__ import annotations

from chain.crypto import to_bech32
from chain.events import Event

CHEATING_PUNISHED = "CheatingPunished"
ORACLE_PENALISED = "OraclePenalised"
ORACLE_PENALTY_WITHDRAWN = "OraclePenaltyWithdrawn"
DOUBLE_SIGN_PUNISHED = "DoubleSignPunished"
DOWNTIME_PUNISHED = "DowntimePunished"
EVIDENCE_IGNORED = "EvidenceIgnored"


def double_sign_punished(validator: bytes, kind: str, height: int, slashed: int) -> Event:
    return Event.of(
        DOUBLE_SIGN_PUNISHED,
        address=to_bech32(validator),
        kind=kind,
        height=height,
        slashed=slashed,
    )


def downtime_punished(
    validator: bytes, missed: int, window: int, jailed_until: int, slashed: int
) -> Event:
    return Event.of(
        DOWNTIME_PUNISHED,
        address=to_bech32(validator),
        missed=missed,
        window=window,
        jailed_until=jailed_until,
        slashed=slashed,
    )


def evidence_ignored(cons_address: bytes, kind: str, height: int, reason: str) -> Event:
    return Event.of(
        EVIDENCE_IGNORED,
        consensus_address=cons_address.hex(),
        kind=kind,
        height=height,
        reason=reason,
    )


def cheating_punished(
    worker: bytes, score_bps: int, jailed_until: int, slashed: int, tombstoned: bool
) -> Event:
    return Event.of(
        CHEATING_PUNISHED,
        address=to_bech32(worker),
        score_bps=score_bps,
        jailed_until=jailed_until,
        slashed=slashed,
        tombstoned=str(tombstoned).lower(),
    )


def oracle_penalised(oracle: bytes, points_bps: int, score_bps: int) -> Event:
    return Event.of(
        ORACLE_PENALISED, address=to_bech32(oracle), points_bps=points_bps, score_bps=score_bps
    )


def oracle_penalty_withdrawn(oracle: bytes, points_bps: int, score_bps: int) -> Event:
    return Event.of(
        ORACLE_PENALTY_WITHDRAWN,
        address=to_bech32(oracle),
        points_bps=points_bps,
        score_bps=score_bps,
    )
