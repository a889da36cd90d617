"""Sharding: every record in exactly one shard a round, sizes by the chain's formula, the
same split for everyone who holds the manifest, a new split each round and training."""

from __future__ import annotations

import hashlib

import pytest

from compute.training.shards import permutation, shard_indices, shard_size

DIGEST = hashlib.sha256(b"a manifest").digest()


@pytest.mark.parametrize(("n", "shards"), [(10, 4), (12, 4), (7, 7), (100, 8), (5, 1)])
def test_every_record_is_in_exactly_one_shard_of_the_formula_size(n: int, shards: int) -> None:
    parts = [shard_indices(3, 1, DIGEST, n, shards, i) for i in range(shards)]
    assert sorted(j for p in parts for j in p) == list(range(n))
    assert [len(p) for p in parts] == [shard_size(n, shards, i) for i in range(shards)]
    assert [shard_size(n, shards, i) for i in range(shards)] == [
        n // shards + (1 if i < n % shards else 0) for i in range(shards)
    ]


def test_the_split_is_a_function_of_training_round_and_manifest() -> None:
    a = [shard_indices(3, 1, DIGEST, 40, 4, i) for i in range(4)]
    assert a == [shard_indices(3, 1, DIGEST, 40, 4, i) for i in range(4)]
    other_round = [shard_indices(3, 2, DIGEST, 40, 4, i) for i in range(4)]
    other_training = [shard_indices(4, 1, DIGEST, 40, 4, i) for i in range(4)]
    other_manifest = hashlib.sha256(b"another").digest()
    other_data = [shard_indices(3, 1, other_manifest, 40, 4, i) for i in range(4)]
    assert a != other_round and a != other_training and a != other_data
    # a new round mixes the records: shard 0 keeps well under all of its records
    assert len(set(a[0]) & set(other_round[0])) < len(a[0])


def test_the_permutation_is_the_contract_hash_order() -> None:
    prefix = b"vcoin-shard" + (3).to_bytes(8, "big") + (1).to_bytes(4, "big") + DIGEST
    keys = {j: hashlib.sha256(prefix + j.to_bytes(8, "big")).digest() for j in range(9)}
    perm = sorted(range(9), key=lambda j: keys[j])
    assert permutation(3, 1, DIGEST, 9) == perm
    assert shard_indices(3, 1, DIGEST, 9, 4, 1) == perm[1::4]


@pytest.mark.parametrize(
    ("n", "shards", "i", "msg"),
    [(3, 4, 0, "cannot fill"), (10, 0, 0, "at least 1"), (10, 4, 4, "not in 0..3")],
)
def test_impossible_shards_are_refused(n: int, shards: int, i: int, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        shard_indices(1, 0, DIGEST, n, shards, i)
    with pytest.raises(ValueError, match=msg):
        shard_size(n, shards, i)
