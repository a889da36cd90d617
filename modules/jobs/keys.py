"""Store keys of the jobs module.

The priority queue is an index whose key order *is* the queue order, so the
best open job is the first key under ``QUEUE_PREFIX`` and a claim removes one
key: no scan, whatever the queue length.

    queue key = 0x03 ‖ (2^128-1 - max_price) u128 ‖ (255 - priority) u8 ‖ job id u64

The state index doubles as every timer: its key carries a height after the
state, the one at which the job must next be looked at (the claim deadline of
a queued job, the result deadline of a claimed one, the submission height of a
submitted one; 0 otherwise), so end_block reads exactly the jobs that fall due
with one range scan, and no separate deadline entry has to be written and
deleted on every transition.

    state key = 0x04 ‖ state u8 ‖ height u64 ‖ job id u64
"""

from __future__ import annotations

NAME = "jobs"

PARAMS = b"\x00"
NEXT_JOB_ID = b"\x01"
JOB_PREFIX = b"\x02"  # id → Job
QUEUE_PREFIX = b"\x03"  # queue order → id
STATE_PREFIX = b"\x04"  # state ‖ height ‖ id → b""
POSTER_PREFIX = b"\x05"  # poster ‖ id → b""
WORKER_JOBS_PREFIX = b"\x06"  # worker ‖ id → b"" (jobs it holds or held last)
WORKER_PREFIX = b"\x07"  # worker address → Worker
MODEL_WORKERS_PREFIX = b"\x08"  # len(model) ‖ model ‖ worker → b""
MODEL_PREFIX = b"\x09"  # model id → Model
PAYLOAD_PREFIX = b"\x0a"  # job id → a large inline input and spec, written once

MAX_PRICE = (1 << 128) - 1  # the queue key holds prices in 16 bytes


def u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def job(job_id: int) -> bytes:
    return JOB_PREFIX + u64(job_id)


def payload(job_id: int) -> bytes:
    return PAYLOAD_PREFIX + u64(job_id)


def queue(max_price: int, priority: int, job_id: int) -> bytes:
    return (
        QUEUE_PREFIX
        + (MAX_PRICE - max_price).to_bytes(16, "big")
        + bytes([255 - priority])
        + u64(job_id)
    )


def queue_job_id(key: bytes) -> int:
    return int.from_bytes(key[-8:], "big")


def by_state(state_byte: bytes, height: int, job_id: int) -> bytes:
    return STATE_PREFIX + state_byte + u64(height) + u64(job_id)


def state_prefix(state_byte: bytes) -> bytes:
    return STATE_PREFIX + state_byte


def state_range(state_byte: bytes, lo: int, hi: int) -> tuple[bytes, bytes]:
    """Keys of jobs in a state whose index height is in [lo, hi]."""
    p = STATE_PREFIX + state_byte
    return p + u64(lo), p + u64(hi + 1)


def split_state(key: bytes) -> tuple[int, int, int]:
    """(state byte, height, job id) of a state index key."""
    return key[1], int.from_bytes(key[2:10], "big"), int.from_bytes(key[10:18], "big")


def by_poster(poster: bytes, job_id: int) -> bytes:
    return POSTER_PREFIX + poster + u64(job_id)


def poster_prefix(poster: bytes) -> bytes:
    return POSTER_PREFIX + poster


def by_worker(worker: bytes, job_id: int) -> bytes:
    return WORKER_JOBS_PREFIX + worker + u64(job_id)


def worker_jobs_prefix(worker: bytes) -> bytes:
    return WORKER_JOBS_PREFIX + worker


def worker(addr: bytes) -> bytes:
    return WORKER_PREFIX + addr


def model_workers_prefix(model_id: str) -> bytes:
    m = model_id.encode()
    return MODEL_WORKERS_PREFIX + bytes([len(m)]) + m


def model_worker(model_id: str, addr: bytes) -> bytes:
    return model_workers_prefix(model_id) + addr


def model(model_id: str) -> bytes:
    return MODEL_PREFIX + model_id.encode()
