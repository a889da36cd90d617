"""Store keys of the verification module.

Each result waiting for a verdict has one pending record and exactly one
timer, keyed by height first so end_block reads only what falls due.
"""

from __future__ import annotations

NAME = "verification"

PARAMS = b"\x00"
PENDING_PREFIX = b"\x01"  # job id → Pending
TIMER_PREFIX = b"\x02"  # height ‖ stage ‖ job id → b""
ATTEST_PREFIX = b"\x03"  # job id ‖ oracle → Attestation
CANARY_PREFIX = b"\x04"  # commitment → Canary
CANARY_EXPIRY_PREFIX = b"\x05"  # height ‖ commitment → b""
CHECKING_PREFIX = b"\x06"  # job id → b"" for jobs waiting for attestations


def u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def pending(job_id: int) -> bytes:
    return PENDING_PREFIX + u64(job_id)


def timer(height: int, stage: bytes, job_id: int) -> bytes:
    return TIMER_PREFIX + u64(height) + stage + u64(job_id)


def timers_until(height: int) -> tuple[bytes, bytes]:
    return TIMER_PREFIX, TIMER_PREFIX + u64(height + 1)


def split_timer(key: bytes) -> tuple[int, bytes, int]:
    return int.from_bytes(key[1:9], "big"), key[9:10], int.from_bytes(key[10:18], "big")


def attestation(job_id: int, oracle: bytes) -> bytes:
    return ATTEST_PREFIX + u64(job_id) + oracle


def attestations_of(job_id: int) -> bytes:
    return ATTEST_PREFIX + u64(job_id)


def canary(commitment: bytes) -> bytes:
    return CANARY_PREFIX + commitment


def canary_expiry(height: int, commitment: bytes) -> bytes:
    return CANARY_EXPIRY_PREFIX + u64(height) + commitment


def canary_expiries_until(height: int) -> tuple[bytes, bytes]:
    return CANARY_EXPIRY_PREFIX, CANARY_EXPIRY_PREFIX + u64(height + 1)


def checking(job_id: int) -> bytes:
    return CHECKING_PREFIX + u64(job_id)
