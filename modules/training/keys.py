"""Store keys of the training module.

A training's record lives under its id, each of its rounds under (id, round);
an index by poster lists a poster's trainings, and an index by job id names
the training, round and shard (or aggregate) of every job the module posted."""

from __future__ import annotations

NAME = "training"
MODULE_ACCOUNT = "training"  # holds every running training's escrow_left

PARAMS = b"\x00"
NEXT_ID = b"\x01"  # the next training id (8 bytes)
TRAINING_PREFIX = b"\x02"  # id (8) → the training record
ROUND_PREFIX = b"\x03"  # id (8) ‖ round (4) → the round record
BY_POSTER_PREFIX = b"\x04"  # lp(poster) ‖ id (8) → b""
BY_JOB_PREFIX = b"\x05"  # job id (8) → {"training","round","shard"|"aggregate"}


def lp(addr: bytes) -> bytes:
    return bytes([len(addr)]) + addr


def training(tid: int) -> bytes:
    return TRAINING_PREFIX + tid.to_bytes(8, "big")


def round_(tid: int, r: int) -> bytes:
    return ROUND_PREFIX + tid.to_bytes(8, "big") + r.to_bytes(4, "big")


def by_poster(poster: bytes, tid: int) -> bytes:
    return BY_POSTER_PREFIX + lp(poster) + tid.to_bytes(8, "big")


def by_job(job_id: int) -> bytes:
    return BY_JOB_PREFIX + job_id.to_bytes(8, "big")
