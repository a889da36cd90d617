"""Events of the slashing module. ``Slashed``, ``Jailed`` and ``Tombstoned`` come
from staking and ``ReputationChanged`` from reputation, where the state changes;
these two summarise each decision."""

from __future__ import annotations

from chain.crypto import to_bech32
from chain.events import Event

CHEATING_PUNISHED = "CheatingPunished"
ORACLE_PENALISED = "OraclePenalised"
ORACLE_PENALTY_WITHDRAWN = "OraclePenaltyWithdrawn"


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
