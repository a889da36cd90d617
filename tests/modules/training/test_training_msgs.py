"""The training messages' stateless checks (``modules/training/msgs.py``): every limit at,
just under and just over it, and every refusal naming its field exactly as the user
typed it (the chain-level tests match the log loosely, so a misnamed field passed them)."""

from __future__ import annotations

from typing import Any

import pytest

from chain.errors import ChainError, ErrInvalidAddress
from modules.training import msgs as tm
from modules.training.errors import ErrInvalidTraining
from tests.modules.training.chain.conftest import POSTER, post_fields

MAX_U128 = (1 << 128) - 1


def post(**kw: Any) -> Any:
    return tm.validate_post_training(tm.MsgPostTraining(**post_fields(POSTER, **kw)))


def refused(says: str, **kw: Any) -> None:
    with pytest.raises(ChainError) as e:
        post(**kw)
    assert e.value.kind == ErrInvalidTraining and e.value.message.startswith(says), e.value


def test_a_good_post_is_parsed_whole() -> None:
    p = post(price_per_shard="1", aggregate_price=str(MAX_U128))
    assert (p.poster, p.records, p.shards, p.rounds) == (POSTER.address, 10, 2, 2)
    assert p.aggregation == "ffa-mean" and (p.dataset, p.manifest) == ("d" * 64, "e" * 64)
    assert (p.price_per_shard, p.aggregate_price) == (1, MAX_U128)  # both ends of the range
    assert p.escrow == 2 * (2 * 1 + MAX_U128)
    assert p.model == "tiny-lora"


@pytest.mark.parametrize(
    ("field", "says"),
    [
        ("price_per_shard", "price_per_shard"),
        ("aggregate_price", "aggregate_price"),
    ],
)
def test_an_amount_is_a_whole_number_from_1_to_2_128_minus_1(field: str, says: str) -> None:
    assert getattr(post(**{field: "1"}), field) == 1
    assert getattr(post(**{field: str(MAX_U128)}), field) == MAX_U128  # 39 digits
    refused(f"{says} must be positive and under 2^128 avcn", **{field: "0"})
    refused(f"{says} must be positive and under 2^128 avcn", **{field: str(MAX_U128 + 1)})
    refused(f"{says} '1{'0' * 39}' must be a whole number of avcn", **{field: "1" + "0" * 39})
    refused(f"{says} '1.5' must be a whole number of avcn", **{field: "1.5"})
    refused(f"{says} '' must be a whole number of avcn", **{field: ""})


def test_shards_at_most_records() -> None:
    assert post(records=3, shards=3).shards == 3
    refused("shards (4) must be at most records (3)", records=3, shards=4)
    refused("shards must be at least 1", shards=0)
    refused("records must be at least 1", records=0, shards=0)
    assert post(records=tm.MAX_RECORDS).records == tm.MAX_RECORDS
    refused(f"records must be at most {tm.MAX_RECORDS}", records=tm.MAX_RECORDS + 1)


def test_rounds_at_least_one() -> None:
    assert post(rounds=1).rounds == 1
    refused("rounds must be at least 1", rounds=0)


def test_target_modules_at_most_64_and_each_once() -> None:
    most = [f"m{i}" for i in range(tm.MAX_TARGETS_PARSE)]
    assert post(target_modules=most).config.targets == tuple(most)
    refused("target_modules lists a module twice or too many", target_modules=[*most, "extra"])
    refused("target_modules lists a module twice or too many", target_modules=["q", "q"])
    refused("target_modules must name at least one module", target_modules=[])


@pytest.mark.parametrize("field", ["dataset", "manifest"])
def test_hashes_are_64_lowercase_hex(field: str) -> None:
    refused(f"{field} must be a sha256 as 64 lowercase hex characters", **{field: "D" * 64})
    refused(f"{field} must be a sha256", **{field: "d" * 63})


def test_a_bad_poster_is_named() -> None:
    for bad in (
        lambda: post(poster="vcoin1nope"),
        lambda: tm.validate_cancel_training(tm.MsgCancelTraining(poster="nope", training_id=1)),
    ):
        with pytest.raises(ChainError, match=r"^poster: ") as e:
            bad()
        assert e.value.kind == ErrInvalidAddress
    c = tm.validate_cancel_training(tm.MsgCancelTraining(poster=POSTER.bech32, training_id=1))
    assert (c.poster, c.training_id) == (POSTER.address, 1)
    with pytest.raises(ChainError, match="^training_id is required"):
        tm.validate_cancel_training(tm.MsgCancelTraining(poster=POSTER.bech32, training_id=0))
