"""Events of the training module; each carries ``training_id``."""

from __future__ import annotations

from chain.coins import DENOM
from chain.crypto import to_bech32
from chain.events import Event
from modules.training.records import Training

POSTED = "TrainingPosted"
ROUND_STARTED = "TrainingRoundStarted"
SHARD_REQUEUED = "TrainingShardRequeued"
SHARD_DROPPED = "TrainingShardDropped"
ROUND_AGGREGATED = "TrainingRoundAggregated"
COMPLETED = "TrainingCompleted"
FAILED = "TrainingFailed"
CANCELLED = "TrainingCancelled"


def posted(t: Training, escrow: int) -> Event:
    return Event.of(
        POSTED,
        training_id=t.id,
        poster=to_bech32(t.poster),
        model=t.model,
        shards=t.shards,
        rounds=t.rounds,
        escrow=f"{escrow}{DENOM}",
    )


def round_started(t: Training, r: int, jobs: list[int]) -> Event:
    return Event.of(ROUND_STARTED, training_id=t.id, round=r, jobs=",".join(map(str, jobs)))


def shard_requeued(t: Training, r: int, shard: int, old: int, new: int, why: str) -> Event:
    return Event.of(
        SHARD_REQUEUED, training_id=t.id, round=r, shard=shard, old_job=old, job_id=new, reason=why
    )


def shard_dropped(t: Training, r: int, shard: int, why: str) -> Event:
    return Event.of(SHARD_DROPPED, training_id=t.id, round=r, shard=shard, reason=why)


def aggregate_posted(t: Training, r: int, job_id: int, accepted: int) -> Event:
    return Event.of(
        "TrainingAggregatePosted", training_id=t.id, round=r, job_id=job_id, updates=accepted
    )


def round_aggregated(t: Training, r: int, global_hex: str) -> Event:
    return Event.of(ROUND_AGGREGATED, training_id=t.id, round=r, **{"global": global_hex})


def completed(t: Training, refunded: int) -> Event:
    return Event.of(COMPLETED, training_id=t.id, adapter=t.adapter, refunded=f"{refunded}{DENOM}")


def failed(t: Training, why: str, refunded: int) -> Event:
    return Event.of(FAILED, training_id=t.id, reason=why, refunded=f"{refunded}{DENOM}")


def cancelled(t: Training, refunded: int) -> Event:
    return Event.of(CANCELLED, training_id=t.id, refunded=f"{refunded}{DENOM}")
