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

**Bound to the post instead of the id** (``post_commitment``): a canary may also be
committed as

    commitment = sha256("vcoin/canary/v2" ‖ poster address ‖ input sha256 ‖ expected output
                        sha256 ‖ salt)

(a plant under "vcoin/plant/v2"). The poster's key and the input are the oracle's
own choice before anything is posted, so this commitment can go on chain at any
time before the claim: in a batch with others, on the oracle's own schedule, not
in the block before the post, where its timing tells a watching worker that the
next job is a canary. The chain opens a reveal against the id-bound commitment
first and then the post-bound one (different domains: neither can be opened as
the other); the rules after that are the same.

A reveal punishes someone (a canary's worker, a plant's passing oracles), so it
must also prove the revealer made the job a canary or a plant: a commitment
alone proves nothing, since job ids are sequential and any oracle could commit
to the next ids with a made-up hash and open them on an honest user's job. The
reveal carries ``controller_signature``, a secp256k1 signature (as the Cosmos
keys sign) over

    reveal_sign_bytes = sha256("vcoin/reveal/v1" ‖ chain id ‖ u64 job id ‖ commitment)

by the job's **poster** account key for a canary and by its **worker** account
key for a plant. The planter holds both keys already (it posted the canary from
a fresh key; its own worker account submitted the plant's wrong result), and
linking them to the oracle at reveal time gives nothing away: the worker has
already submitted (canary) or the verdict is in (plant).
"""

from __future__ import annotations

import hashlib

from chain.crypto import PrivateKey

DOMAIN = b"vcoin/canary/v1"
PLANT_DOMAIN = b"vcoin/plant/v1"
POST_DOMAIN = b"vcoin/canary/v2"
POST_PLANT_DOMAIN = b"vcoin/plant/v2"
REVEAL_DOMAIN = b"vcoin/reveal/v1"
MIN_SALT = 16
MAX_SALT = 64


def commitment(
    job_id: int, expected_output_hash: bytes, salt: bytes, planted: bool = False
) -> bytes:
    if len(expected_output_hash) != 32 or not MIN_SALT <= len(salt) <= MAX_SALT:
        raise ValueError(f"expected hash is 32 bytes; salt {MIN_SALT}..{MAX_SALT} bytes")
    domain = PLANT_DOMAIN if planted else DOMAIN
    return hashlib.sha256(domain + job_id.to_bytes(8, "big") + expected_output_hash + salt).digest()


def post_commitment(
    poster: bytes,
    input_hash: bytes,
    expected_output_hash: bytes,
    salt: bytes,
    planted: bool = False,
) -> bytes:
    """The commitment bound to the job's poster and input rather than its id."""
    if len(poster) != 20 or len(input_hash) != 32:
        raise ValueError("the poster is a 20-byte address; the input hash is 32 bytes")
    if len(expected_output_hash) != 32 or not MIN_SALT <= len(salt) <= MAX_SALT:
        raise ValueError(f"expected hash is 32 bytes; salt {MIN_SALT}..{MAX_SALT} bytes")
    domain = POST_PLANT_DOMAIN if planted else POST_DOMAIN
    return hashlib.sha256(domain + poster + input_hash + expected_output_hash + salt).digest()


def reveal_sign_bytes(chain_id: str, job_id: int, commitment: bytes) -> bytes:
    """What a reveal's controller signs: sha256(domain ‖ chain id ‖ u64 job id ‖ commitment)."""
    if len(commitment) != 32:
        raise ValueError("the commitment is 32 bytes")
    data = REVEAL_DOMAIN + chain_id.encode() + job_id.to_bytes(8, "big") + commitment
    return hashlib.sha256(data).digest()


def sign_reveal(
    controller: PrivateKey,
    chain_id: str,
    job_id: int,
    expected_output_hash: bytes,
    salt: bytes,
    planted: bool = False,
    post: tuple[bytes, bytes] | None = None,
) -> bytes:
    """A reveal's ``controller_signature``: ``controller`` is the job's poster key for a
    canary, its worker key for a plant. ``post`` (the job's poster address and input
    hash) when the commitment is bound to the post, not the id."""
    if post is None:
        c = commitment(job_id, expected_output_hash, salt, planted)
    else:
        c = post_commitment(post[0], post[1], expected_output_hash, salt, planted)
    return controller.sign(reveal_sign_bytes(chain_id, job_id, c))
