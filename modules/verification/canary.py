"""Canary commitments: an oracle binds itself to a canary's expected output before
any worker can claim the job, and reveals it after the worker submits.

    commitment = sha256("vcoin/canary/v1" ‖ u64 job id ‖ expected output sha256 ‖ salt)

The job id is inside the hash, not beside it, so the commitment tx does not
say which job is a canary: canary jobs are posted from ordinary accounts and
look like any other job until the reveal. (Oracles may also commit decoys.)
"""

from __future__ import annotations

import hashlib

DOMAIN = b"vcoin/canary/v1"
MIN_SALT = 16
MAX_SALT = 64


def commitment(job_id: int, expected_output_hash: bytes, salt: bytes) -> bytes:
    if len(expected_output_hash) != 32 or not MIN_SALT <= len(salt) <= MAX_SALT:
        raise ValueError(f"expected hash is 32 bytes; salt {MIN_SALT}..{MAX_SALT} bytes")
    return hashlib.sha256(DOMAIN + job_id.to_bytes(8, "big") + expected_output_hash + salt).digest()
