"""Messages of the training module: each one's stateless checks parse it once into
what its handler takes. The checks that read params or state (rank, shards, rounds
and targets against the params, prices against the jobs min price, the model) are
the handler's; each refusal names the field."""

from __future__ import annotations

import re
from dataclasses import dataclass

from chain.crypto import AddressError, from_bech32
from chain.errors import ErrInvalidAddress
from chain.proto import type_url
from modules.training import tx_pb2
from modules.training.errors import ErrInvalidTraining
from modules.training.records import FFA_MEAN, Config

# The module's messages, generated from proto/vcoin/training/v1/tx.proto.
MsgPostTraining = tx_pb2.MsgPostTraining
MsgCancelTraining = tx_pb2.MsgCancelTraining

POST_TRAINING_URL = type_url(MsgPostTraining)
CANCEL_TRAINING_URL = type_url(MsgCancelTraining)

_HEX32 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}")
MAX_TARGETS_PARSE = 64
# What the job runtime accepts (compute.training.inputs.CONFIG_INTS and the manifest's
# record limit; tests/modules/training/chain holds them equal): a config past these would be
# escrowed and then fail on every worker, so it is refused at post instead.
CONFIG_RANGES: dict[str, tuple[int, int]] = {
    "rank": (1, 64),
    "alpha": (1, 256),
    "steps": (1, 1000),
    "lr_micro": (1, 1_000_000),
    "batch_size": (1, 64),
    "max_length": (8, 512),
}
MAX_RECORDS = 1 << 20
MAX_AMOUNT_DIGITS = 39  # 2^128 - 1 has 39 digits


@dataclass(frozen=True)
class PostTraining:
    poster: bytes
    model: str
    dataset: str  # hex
    manifest: str  # hex
    records: int
    shards: int
    rounds: int
    config: Config
    aggregation: str
    price_per_shard: int
    aggregate_price: int
    shard_blocks: int

    @property
    def escrow(self) -> int:
        """rounds × (shards × price_per_shard + aggregate_price)."""
        return self.rounds * (self.shards * self.price_per_shard + self.aggregate_price)


@dataclass(frozen=True)
class CancelTraining:
    poster: bytes
    training_id: int


def _addr(text: str, what: str) -> bytes:
    try:
        return from_bech32(text)
    except AddressError as e:
        raise ErrInvalidAddress(f"{what}: {e}") from e


def _hash(text: str, what: str) -> str:
    if not _HEX32.fullmatch(text):
        raise ErrInvalidTraining(f"{what} must be a sha256 as 64 lowercase hex characters")
    return text


def _amount(text: str, what: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > MAX_AMOUNT_DIGITS:
        raise ErrInvalidTraining(f"{what} {text!r:.60} must be a whole number of avcn")
    n = int(text)
    if n == 0 or n >= 1 << 128:
        raise ErrInvalidTraining(f"{what} must be positive and under 2^128 avcn")
    return n


def _positive(v: int, what: str) -> int:
    if v < 1:
        raise ErrInvalidTraining(f"{what} must be at least 1")
    return int(v)


def _within(v: int, what: str) -> int:
    lo, hi = CONFIG_RANGES[what]
    if not lo <= v <= hi:
        raise ErrInvalidTraining(f"{what} must be in {lo}..{hi} (the runtime's limits), got {v}")
    return v


def validate_post_training(msg: MsgPostTraining) -> PostTraining:
    poster = _addr(msg.poster, "poster")
    if not _NAME.fullmatch(msg.model):
        raise ErrInvalidTraining(f"model {msg.model!r:.140}: use 1-128 letters, digits or ._:/@+-")
    records = _positive(msg.records, "records")
    if records > MAX_RECORDS:
        raise ErrInvalidTraining(f"records must be at most {MAX_RECORDS}, got {records}")
    shards = _positive(msg.shards, "shards")
    if shards > records:
        raise ErrInvalidTraining(
            f"shards ({shards}) must be at most records ({records}): every shard needs a record"
        )
    targets = list(msg.target_modules)
    if not targets:
        raise ErrInvalidTraining("target_modules must name at least one module")
    if len(targets) > MAX_TARGETS_PARSE or len(set(targets)) != len(targets):
        raise ErrInvalidTraining("target_modules lists a module twice or too many modules")
    if msg.aggregation != FFA_MEAN:
        raise ErrInvalidTraining(
            f"aggregation {msg.aggregation!r:.40} is not supported; use {FFA_MEAN!r}"
        )
    config = Config(
        rank=_within(msg.rank, "rank"),
        alpha=_within(msg.alpha, "alpha"),
        targets=tuple(targets),
        steps=_within(msg.steps, "steps"),
        lr_micro=_within(msg.lr_micro, "lr_micro"),
        batch_size=_within(msg.batch_size, "batch_size"),
        seed=int(msg.seed),
        max_length=_within(msg.max_length, "max_length"),
    )
    return PostTraining(
        poster=poster,
        model=msg.model,
        dataset=_hash(msg.dataset, "dataset"),
        manifest=_hash(msg.manifest, "manifest"),
        records=records,
        shards=shards,
        rounds=_positive(msg.rounds, "rounds"),
        config=config,
        aggregation=msg.aggregation,
        price_per_shard=_amount(msg.price_per_shard, "price_per_shard"),
        aggregate_price=_amount(msg.aggregate_price, "aggregate_price"),
        shard_blocks=int(msg.shard_blocks),
    )


def validate_cancel_training(msg: MsgCancelTraining) -> CancelTraining:
    poster = _addr(msg.poster, "poster")
    if msg.training_id == 0:
        raise ErrInvalidTraining("training_id is required (ids start at 1)")
    return CancelTraining(poster, int(msg.training_id))
