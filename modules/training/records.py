"""What the training store holds: trainings and their rounds, as JSON (the query
shape: amounts as decimal strings of avcn, hashes as hex, the poster bech32), and
the inline inputs of the jobs the module posts (canonical JSON)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from chain.crypto import from_bech32, to_bech32

# Training states.
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
STATES = (RUNNING, COMPLETED, FAILED, CANCELLED)

# A shard's state within a round.
OPEN = "open"  # its job is open (or being re-posted)
ACCEPTED = "accepted"  # its job settled: output and worker recorded
DROPPED = "dropped"  # out of attempts or budget: left out of the round's aggregate

SHARD = "lora-shard"
AGGREGATE = "lora-aggregate"
FFA_MEAN = "ffa-mean"


def canonical(d: Any) -> bytes:
    """Canonical JSON: sorted keys, no spaces."""
    return json.dumps(d, sort_keys=True, separators=(",", ":")).encode()


def shard_weight(records: int, shards: int, i: int) -> int:
    """Records in shard ``i`` (``compute/training/shards.py`` deals them out)."""
    return records // shards + (1 if i < records % shards else 0)


@dataclass(frozen=True)
class Config:
    rank: int
    alpha: int
    targets: tuple[str, ...]
    steps: int
    lr_micro: int
    batch_size: int
    seed: int
    max_length: int

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "alpha": self.alpha,
            "targets": list(self.targets),
            "steps": self.steps,
            "lr_micro": self.lr_micro,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "max_length": self.max_length,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Config:
        return cls(
            int(d["rank"]),
            int(d["alpha"]),
            tuple(str(t) for t in d["targets"]),
            int(d["steps"]),
            int(d["lr_micro"]),
            int(d["batch_size"]),
            int(d["seed"]),
            int(d["max_length"]),
        )


@dataclass
class Training:
    id: int
    poster: bytes
    model: str
    dataset: str
    manifest: str
    records: int
    shards: int
    rounds: int
    config: Config
    price_per_shard: int
    aggregate_price: int
    shard_blocks: int
    escrow_left: int
    posted_height: int
    aggregation: str = FFA_MEAN
    state: str = RUNNING
    round: int = 0
    adapter: str = ""
    finished_height: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "poster": to_bech32(self.poster),
            "model": self.model,
            "state": self.state,
            "dataset": self.dataset,
            "manifest": self.manifest,
            "records": self.records,
            "shards": self.shards,
            "rounds": self.rounds,
            "config": self.config.to_json(),
            "aggregation": self.aggregation,
            "price_per_shard": str(self.price_per_shard),
            "aggregate_price": str(self.aggregate_price),
            "shard_blocks": self.shard_blocks,
            "escrow_left": str(self.escrow_left),
            "round": self.round,
            "adapter": self.adapter,
            "posted_height": self.posted_height,
            "finished_height": self.finished_height,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Training:
        return cls(
            id=int(d["id"]),
            poster=from_bech32(str(d["poster"])),
            model=str(d["model"]),
            dataset=str(d["dataset"]),
            manifest=str(d["manifest"]),
            records=int(d["records"]),
            shards=int(d["shards"]),
            rounds=int(d["rounds"]),
            config=Config.from_json(d["config"]),
            price_per_shard=int(str(d["price_per_shard"])),
            aggregate_price=int(str(d["aggregate_price"])),
            shard_blocks=int(d["shard_blocks"]),
            escrow_left=int(str(d["escrow_left"])),
            posted_height=int(d["posted_height"]),
            aggregation=str(d["aggregation"]),
            state=str(d["state"]),
            round=int(d["round"]),
            adapter=str(d["adapter"]),
            finished_height=int(d.get("finished_height", 0)),
        )


@dataclass
class Shard:
    shard: int
    weight: int
    job_id: int = 0
    attempts: int = 0
    state: str = OPEN
    worker: str = ""  # bech32, once accepted
    output: str = ""  # hex of the accepted job's output

    def to_json(self) -> dict[str, Any]:
        return {
            "shard": self.shard,
            "job_id": self.job_id,
            "attempts": self.attempts,
            "state": self.state,
            "worker": self.worker,
            "output": self.output,
            "weight": self.weight,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Shard:
        return cls(
            int(d["shard"]),
            int(d["weight"]),
            int(d["job_id"]),
            int(d["attempts"]),
            str(d["state"]),
            str(d["worker"]),
            str(d["output"]),
        )


@dataclass
class Round:
    round: int
    global_in: str
    shards: list[Shard] = field(default_factory=list)
    aggregate_job: int = 0
    aggregate_attempts: int = 0
    global_out: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "global_in": self.global_in,
            "shards": [s.to_json() for s in self.shards],
            "aggregate_job": self.aggregate_job,
            "aggregate_attempts": self.aggregate_attempts,
            "global_out": self.global_out,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Round:
        return cls(
            int(d["round"]),
            str(d["global_in"]),
            [Shard.from_json(s) for s in d["shards"]],
            int(d["aggregate_job"]),
            int(d["aggregate_attempts"]),
            str(d["global_out"]),
        )

    def settled(self) -> bool:
        """Every shard accepted or dropped."""
        return all(s.state != OPEN for s in self.shards)


def shard_input(t: Training, r: Round, i: int) -> bytes:
    """The inline input of shard ``i`` of round ``r`` (the runtime reads it)."""
    return canonical(
        {
            "kind": SHARD,
            "training": t.id,
            "round": r.round,
            "shard": i,
            "shards": t.shards,
            "records": t.records,
            "dataset": t.dataset,
            "manifest": t.manifest,
            "global": r.global_in,
            "config": t.config.to_json(),
        }
    )


def aggregate_input(t: Training, r: Round) -> bytes:
    """The inline input of round ``r``'s aggregate: its accepted shards, ascending."""
    updates = [
        {"shard": s.shard, "sha256": s.output, "weight": s.weight}
        for s in sorted(r.shards, key=lambda s: s.shard)
        if s.state == ACCEPTED
    ]
    return canonical(
        {
            "kind": AGGREGATE,
            "training": t.id,
            "round": r.round,
            "global": r.global_in,
            "updates": updates,
            "config": t.config.to_json(),
        }
    )
