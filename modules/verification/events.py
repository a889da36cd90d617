"""Events of the verification module: what oracles and explorers follow."""

from __future__ import annotations

from chain.crypto import to_bech32
from chain.events import Event

RESULT_SAMPLED = "ResultSampled"
VERIFICATION_REQUESTED = "VerificationRequested"
CANARY_COMMITTED = "CanaryCommitted"
CANARY_REVEALED = "CanaryRevealed"
CANARY_EXPIRED = "CanaryExpired"
PLANT_REVEALED = "PlantRevealed"
PLANT_PASSED = "PlantPassed"
ATTESTED = "Attested"
VERDICT_REACHED = "VerdictReached"


def result_sampled(job_id: int, worker: bytes, picked: bool, rate_bps: int) -> Event:
    return Event.of(
        RESULT_SAMPLED,
        job_id=job_id,
        worker=to_bech32(worker),
        picked=str(picked).lower(),
        rate_bps=rate_bps,
    )


def verification_requested(job_id: int, worker: bytes, deadline: int) -> Event:
    return Event.of(
        VERIFICATION_REQUESTED, job_id=job_id, worker=to_bech32(worker), deadline=deadline
    )


def canary_committed(oracle: bytes, commitment: bytes) -> Event:
    return Event.of(CANARY_COMMITTED, oracle=to_bech32(oracle), commitment=commitment.hex())


def canary_revealed(job_id: int, oracle: bytes, matched: bool) -> Event:
    return Event.of(
        CANARY_REVEALED, job_id=job_id, oracle=to_bech32(oracle), matched=str(matched).lower()
    )


def plant_revealed(job_id: int, oracle: bytes, caught: int) -> Event:
    """A plant opened: ``caught`` oracles had attested its wrong result as good."""
    return Event.of(PLANT_REVEALED, job_id=job_id, oracle=to_bech32(oracle), caught=caught)


def plant_passed(job_id: int, oracle: bytes) -> Event:
    """``oracle`` attested a planted wrong result as good: it did not check it."""
    return Event.of(PLANT_PASSED, job_id=job_id, oracle=to_bech32(oracle))


def canary_expired(commitment: bytes) -> Event:
    return Event.of(CANARY_EXPIRED, commitment=commitment.hex())


def attested(job_id: int, oracle: bytes, verdict: str, similarity_bps: int, stake: int) -> Event:
    return Event.of(
        ATTESTED,
        job_id=job_id,
        oracle=to_bech32(oracle),
        verdict=verdict,
        similarity_bps=similarity_bps,
        stake=stake,
    )


def verdict_reached(
    job_id: int, verdict: str, how: str, pass_stake: int, fail_stake: int, total: int
) -> Event:
    return Event.of(
        VERDICT_REACHED,
        job_id=job_id,
        verdict=verdict,
        how=how,
        pass_stake=pass_stake,
        fail_stake=fail_stake,
        oracle_stake=total,
    )
