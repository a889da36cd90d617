"""Which records shard ``i`` of round ``r`` of training ``t`` trains on.

The records ``0 … n-1`` of the manifest are ordered by
``sha256(b"vcoin-shard" ‖ t (8 bytes BE) ‖ r (4 bytes BE) ‖ manifest digest (32 bytes) ‖ j
(8 bytes BE))`` (the digests of distinct ``j`` are distinct: no tie to break); shard ``i``
of ``N`` takes every ``N``-th of that order from position ``i`` (``perm[i::N]``). So every
record is in exactly one shard a round, the split changes from round to round, anyone who
holds the manifest recomputes it, and a shard's size (its weight in the aggregate) is
``n // N + (1 if i < n % N else 0)``: the one formula the chain needs.
"""

from __future__ import annotations

import hashlib

DOMAIN = b"vcoin-shard"


def _check(n: int, shards: int, i: int) -> None:
    if shards < 1:
        raise ValueError(f"shards must be at least 1, got {shards}")
    if n < shards:
        raise ValueError(f"{n} records cannot fill {shards} shards")
    if not 0 <= i < shards:
        raise ValueError(f"shard index {i} is not in 0..{shards - 1}")


def shard_size(n: int, shards: int, i: int) -> int:
    """How many records shard ``i`` of ``shards`` gets out of ``n``: its aggregate weight."""
    _check(n, shards, i)
    return n // shards + (1 if i < n % shards else 0)


def permutation(training: int, round: int, manifest_digest: bytes, n: int) -> list[int]:
    """The records ``0 … n-1`` in the round's order (module docstring)."""
    if len(manifest_digest) != 32:
        raise ValueError("manifest_digest must be the 32 bytes of a sha256")
    if not 0 <= training < 2**64 or not 0 <= round < 2**32:
        raise ValueError("training is a u64 and round a u32")
    prefix = DOMAIN + training.to_bytes(8, "big") + round.to_bytes(4, "big") + manifest_digest
    keys = [hashlib.sha256(prefix + j.to_bytes(8, "big")).digest() for j in range(n)]
    return sorted(range(n), key=keys.__getitem__)


def shard_indices(
    training: int, round: int, manifest_digest: bytes, n: int, shards: int, i: int
) -> list[int]:
    """The record indices (into the manifest's list) of shard ``i``, in training order."""
    _check(n, shards, i)
    return permutation(training, round, manifest_digest, n)[i::shards]
