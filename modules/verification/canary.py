"""Canary commitments: an oracle binds itself to a canary's expected output before
any worker can claim the job, and reveals it after the worker submits.

    commitment = sha256("vcoin/canary/v1" ‖ u64 job id ‖ expected output sha256 ‖ salt)

The job id is inside the hash, not beside it, so the commitment tx does not
say which job is a canary: canary jobs are posted from ordinary accounts and
look like any other job until the reveal. (Oracles may also commit decoys.)

A *plant* (an oracle canary) commits the same way under its own domain,

    commitment = sha256("vcoin/plant/v1" ‖ u64 job id ‖ right output sha256 ‖ salt)

so a plant's commitment tx looks like a canary's (or a decoy's) and one kind
can never be opened as the other. The planter posts the job, has its own
worker account submit a *wrong* result, and reveals after the verdict: every
oracle that attested that result as good did not check it (``keeper.reveal_plant``).
"""

from __future__ import annotations

import hashlib

DOMAIN = b"vcoin/canary/v1"
PLANT_DOMAIN = b"vcoin/plant/v1"
MIN_SALT = 16
MAX_SALT = 64


def commitment(
    job_id: int, expected_output_hash: bytes, salt: bytes, planted: bool = False
) -> bytes:
    if len(expected_output_hash) != 32 or not MIN_SALT <= len(salt) <= MAX_SALT:
        raise ValueError(f"expected hash is 32 bytes; salt {MIN_SALT}..{MAX_SALT} bytes")
    domain = PLANT_DOMAIN if planted else DOMAIN
    return hashlib.sha256(domain + job_id.to_bytes(8, "big") + expected_output_hash + salt).digest()
