"""Store keys of the jobs module.

The priority queue is an index whose key order *is* the queue order, so the
best open job is the first key under ``QUEUE_PREFIX`` and a claim removes one
key: no scan, whatever the queue length.

    queue key = 0x03 ‖ (2^128-1 - max_price) u128 ‖ (255 - priority) u8 ‖ job id u64

Deadlines are keyed by height first, so end_block reads exactly the entries
that fall due in its block.
"""

from __future__ import annotations

NAME = "jobs"

PARAMS = b"\x00"
NEXT_JOB_ID = b"\x01"
JOB_PREFIX = b"\x02"  # id → Job
QUEUE_PREFIX = b"\x03"  # queue order → id
STATE_PREFIX = b"\x04"  # state ‖ id → b""
POSTER_PREFIX = b"\x05"  # poster ‖ id → b""
WORKER_JOBS_PREFIX = b"\x06"  # worker ‖ id → b"" (jobs it holds or held last)
WORKER_PREFIX = b"\x07"  # worker address → Worker
MODEL_WORKERS_PREFIX = b"\x08"  # len(model) ‖ model ‖ worker → b""
MODEL_PREFIX = b"\x09"  # model id → Model
DEADLINE_PREFIX = b"\x0a"  # height ‖ kind ‖ id → b""

MAX_PRICE = (1 << 128) - 1  # the queue key holds prices in 16 bytes

CLAIM_DEADLINE = b"c"  # no claim by then: the job expires
RESULT_DEADLINE = b"r"  # no result by then: a timeout, the job is requeued


def u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def job(job_id: int) -> bytes:
    return JOB_PREFIX + u64(job_id)


def queue(max_price: int, priority: int, job_id: int) -> bytes:
    return (
        QUEUE_PREFIX
        + (MAX_PRICE - max_price).to_bytes(16, "big")
        + bytes([255 - priority])
        + u64(job_id)
    )


def queue_job_id(key: bytes) -> int:
    return int.from_bytes(key[-8:], "big")


def by_state(state_byte: bytes, job_id: int) -> bytes:
    return STATE_PREFIX + state_byte + u64(job_id)


def state_prefix(state_byte: bytes) -> bytes:
    return STATE_PREFIX + state_byte


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


def deadline(height: int, kind: bytes, job_id: int) -> bytes:
    return DEADLINE_PREFIX + u64(height) + kind + u64(job_id)


def deadlines_until(height: int) -> tuple[bytes, bytes]:
    """The key range of every deadline at or before ``height``."""
    return DEADLINE_PREFIX, DEADLINE_PREFIX + u64(height + 1)


def split_deadline(key: bytes) -> tuple[int, bytes, int]:
    return int.from_bytes(key[1:9], "big"), key[9:10], int.from_bytes(key[10:18], "big")
