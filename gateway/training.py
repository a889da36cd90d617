"""Distributed training behind ``/v1/fine_tuning/jobs`` (``gateway.finetune``), issue 16.

A create whose ``hyperparameters`` name ``n_shards`` or ``n_rounds`` (VCoin extensions)
posts a distributed LoRA training (``modules/training``) for the key's owner rather than
one ``lora-train`` job: its examples are split into ``n_shards`` shards, each trained on a
worker for ``n_rounds`` rounds and averaged on chain (FFA-LoRA). The training file
becomes the dataset, one record a line ``{"text": <the example's text>}`` (canonical JSON:
the text each example trains on, as ``gateway.files`` renders it), and its manifest
``{"dataset","records","version"}`` (the shape of ``compute.training.manifest``; the
gateway may not import ``compute``, so ``dataset_of`` builds it here and
``tests/gateway/test_finetune_training.py`` holds the two equal). Both are uploaded with
the gateway's account, and ``MsgExec([MsgPostTraining])`` runs under the owner's
``post-training`` grant to the gateway, which gives up the whole escrow at once.

Hyperparameters: ``n_shards`` (1 to 32, at most the examples), ``n_rounds`` (1 to 50),
``n_epochs`` per round (``auto`` 1), ``batch_size`` (``auto`` min(4, a shard's examples)),
``learning_rate_multiplier`` (``auto`` 1: 1e-3 × it, in millionths on chain), ``rank``,
``alpha``, ``max_length`` (as for a single job) and ``target_modules`` (default
``["q_proj", "v_proj"]``, the llama-style projections). A shard trains ``steps`` =
ceil(n_epochs × ceil(examples / n_shards) / batch_size) steps a round (at most 1000).
Every shard job and every aggregate is priced at the request's ``max_price``, so the
escrow is n_rounds × (n_shards + 1) × max_price: the key's ``spend_cap`` must cover it
(402 otherwise, nothing uploaded or posted). The chain's own refusals (a param past its
limits, a model that cannot train) come back 400 with its words.

Reading: the job object's ``status`` is the training's state: ``queued`` while round 0's
shard jobs all wait for a worker, ``running``, ``succeeded`` (completed),
``failed``, ``cancelled``; ``fine_tuned_model`` is the final adapter's sha256 (its file
in ``result_files`` when the gateway can read it); ``training_id`` sits beside the job
fields and in ``vcoin``. ``/events`` has one ``metrics`` event per aggregated round with
the round's mean training loss (every step loss of every accepted shard, read from the
shard outputs' ``train_losses`` metadata). ``/cancel`` sends ``MsgCancelTraining`` under
the owner's ``cancel-training`` grant. The store keeps such a row as a fine-tune whose
``hyperparameters`` carry ``n_shards``; its ``job_id`` column holds the training id, its
``input_sha256`` the manifest, its ``price`` the escrow. Once the training is final the
key's ``spent`` keeps what its settled jobs paid and gives back the rest.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Callable
from typing import Any, TypeGuard

from gateway.errors import ApiError
from gateway.jobs import Jobs
from gateway.store import FineTuneRow

KEYS = ("n_shards", "n_rounds")
MAX_SHARDS = 32  # the training module's max_shards default
MAX_ROUNDS = 50  # its max_rounds default
MAX_STEPS = 1000
DEFAULT_TARGETS = ("q_proj", "v_proj")
AGGREGATION = "ffa-mean"
STATUS = {"completed": "succeeded", "failed": "failed", "cancelled": "cancelled"}


def canonical(doc: Any) -> bytes:
    """Sorted keys, no spaces, ASCII only (``compute.runtime.hashing.canonical_json``)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def is_training(hp: Any) -> TypeGuard[dict[str, Any]]:
    """Whether a request's (or a stored row's) hyperparameters ask for a training."""
    return isinstance(hp, dict) and any(k in hp for k in KEYS)


def dataset_of(texts: list[str]) -> tuple[bytes, bytes]:
    """(the dataset JSONL, its manifest) of the examples' texts (module docstring)."""
    lines = [canonical({"text": t}) for t in texts]
    jsonl = b"".join(line + b"\n" for line in lines)
    manifest = {
        "version": 1,
        "dataset": hashlib.sha256(jsonl).hexdigest(),
        "records": [hashlib.sha256(line).hexdigest() for line in lines],
    }
    return jsonl, canonical(manifest)


def _bad(message: str, param: str) -> ApiError:
    return ApiError(400, message, "invalid_parameter", param=param)


def _int(v: Any, name: str, lo: int, hi: int) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise _bad(f"{name} must be an integer from {lo} to {hi}", f"hyperparameters.{name}")
    return v


def training_params(
    hp: dict[str, Any], examples: int, extra: dict[str, tuple[type, int, int, int]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(MsgPostTraining's config fields, the hyperparameters the job object shows) of a
    request's ``hyperparameters`` over ``examples`` texts; ``extra`` is the single job's
    rank, alpha and max_length bounds (``gateway.finetune.LORA_EXTRA``)."""
    known = {"n_epochs", "batch_size", "learning_rate_multiplier", "target_modules", *KEYS}
    known |= set(extra)
    unknown = sorted(set(hp) - known)
    if unknown:
        raise _bad(f"unknown hyperparameters {unknown}; known: {sorted(known)}", "hyperparameters")
    shards = _int(hp.get("n_shards", 1), "n_shards", 1, MAX_SHARDS)
    if shards > examples:
        raise _bad(
            f"n_shards ({shards}) is more than the file's {examples} examples: every shard "
            "needs one",
            "hyperparameters.n_shards",
        )
    rounds = _int(hp.get("n_rounds", 1), "n_rounds", 1, MAX_ROUNDS)
    per_shard = math.ceil(examples / shards)
    epochs = hp.get("n_epochs", "auto")
    epochs = 1 if epochs == "auto" else _int(epochs, "n_epochs", 1, 50)
    batch = hp.get("batch_size", "auto")
    batch = min(4, per_shard) if batch == "auto" else _int(batch, "batch_size", 1, 64)
    mult = hp.get("learning_rate_multiplier", "auto")
    mult = 1.0 if mult == "auto" else mult
    if not isinstance(mult, int | float) or isinstance(mult, bool) or not 1e-3 <= mult <= 1e3:
        raise _bad(
            "learning_rate_multiplier must be a number from 0.001 to 1000",
            "hyperparameters.learning_rate_multiplier",
        )
    steps = math.ceil(epochs * per_shard / batch)
    if steps > MAX_STEPS:
        raise _bad(
            f"n_epochs × a shard's examples / batch_size is {steps} steps; at most {MAX_STEPS}",
            "hyperparameters.n_epochs",
        )
    targets = hp.get("target_modules", list(DEFAULT_TARGETS))
    if (
        not isinstance(targets, list)
        or not targets
        or not all(isinstance(t, str) and 0 < len(t) <= 64 for t in targets)
    ):
        raise _bad(
            "target_modules must be a list of module names", "hyperparameters.target_modules"
        )
    fields: dict[str, Any] = {
        "shards": shards,
        "rounds": rounds,
        "steps": steps,
        "batch_size": batch,
        "lr_micro": round(1000 * float(mult)),
        "target_modules": list(targets),
        "aggregation": AGGREGATION,
    }
    for name, (_kind, default, lo, hi) in extra.items():
        fields[name] = _int(hp.get(name, default), name, lo, hi)
    shown = {
        "n_epochs": epochs,
        "batch_size": batch,
        "learning_rate_multiplier": float(mult),
        "n_shards": shards,
        "n_rounds": rounds,
        "steps": steps,
        "target_modules": list(targets),
        **{k: fields[k] for k in extra},
    }
    return fields, shown


def escrow_of(shards: int, rounds: int, price: int) -> int:
    """rounds × (shards × price_per_shard + aggregate_price), both prices ``price``."""
    return rounds * (shards * price + price)


def train_losses(output: bytes) -> list[float]:
    """The step losses in a shard output's safetensors metadata (``train_losses``)."""
    (n,) = struct.unpack_from("<Q", output, 0)
    meta = json.loads(output[8 : 8 + n]).get("__metadata__", {})
    return [float(x) for x in json.loads(meta.get("train_losses") or "[]")]


def status_of(t: dict[str, Any], job_state: Callable[[int], str]) -> str:
    """OpenAI's status of a training record (module docstring)."""
    if t["state"] in STATUS:
        return STATUS[t["state"]]
    rounds = t.get("rounds_detail") or []
    if int(t.get("round", 0)) == 0 and rounds:
        shards = rounds[0]["shards"]
        if all(s["state"] == "open" for s in shards) and all(
            job_state(int(s["job_id"])) == "queued" for s in shards
        ):
            return "queued"
    return "running"


class Rounds:
    """What the gateway reads about a training's rounds: the shards' losses (cached by
    output hash: an output never changes) and the block time of a height."""

    def __init__(self, jobs: Callable[[], Jobs], block_time: Callable[[int], int]) -> None:
        self.jobs, self.block_time = jobs, block_time
        self._losses: dict[str, list[float]] = {}

    def losses(self, digest: str) -> list[float] | None:
        """A shard output's step losses; None when the gateway cannot read it."""
        if digest not in self._losses:
            try:
                got = train_losses(self.jobs().artifact(digest))
            except (ApiError, ValueError, KeyError, struct.error):
                return None
            if len(self._losses) > 100_000:  # a bound, not an eviction policy
                self._losses.clear()
            self._losses[digest] = got
        return self._losses[digest]

    def mean_loss(self, rd: dict[str, Any]) -> float | None:
        """The mean of every step loss of the round's accepted shards."""
        all_losses: list[float] = []
        for s in rd["shards"]:
            if s["state"] == "accepted" and s["output"]:
                got = self.losses(str(s["output"]))
                if got is None:
                    return None
                all_losses += got
        return sum(all_losses) / len(all_losses) if all_losses else None

    def events(self, t: dict[str, Any]) -> list[tuple[int, str, str, Any]]:
        """(time, message, type, data) of each round, oldest first."""
        out: list[tuple[int, str, str, Any]] = []
        jobs = self.jobs()
        at = self.block_time(int(t["posted_height"]))
        for rd in t.get("rounds_detail") or []:
            r = int(rd["round"])
            ids = [str(s["job_id"]) for s in rd["shards"]]
            out.append((at, f"Round {r + 1}/{t['rounds']} started: shard jobs {', '.join(ids)}",
                        "message", None))  # fmt: skip
            if not rd.get("global_out"):
                continue
            agg = jobs.job(int(rd["aggregate_job"]))
            at = self.block_time(int(agg.get("finished_height") or t["posted_height"]))
            accepted = [s for s in rd["shards"] if s["state"] == "accepted"]
            loss = self.mean_loss(rd)
            data: dict[str, Any] = {
                "step": r + 1,
                "round": r,
                "shards": len(accepted),
                "global": rd["global_out"],
            }
            msg = f"Round {r + 1}/{t['rounds']} aggregated from {len(accepted)} shards"
            if loss is not None:
                data["train_loss"] = loss
                msg += f": mean training loss={loss:.4f}"
            out.append((at, f"{msg}; global adapter {rd['global_out']}", "metrics", data))
        return out


def paid_of(jobs: Jobs, t: dict[str, Any]) -> int:
    """What a final training's settled jobs paid (its accepted shards and aggregates)."""
    paid = 0
    for rd in t.get("rounds_detail") or []:
        ids = [int(s["job_id"]) for s in rd["shards"] if s["state"] == "accepted"]
        if rd.get("global_out"):
            ids.append(int(rd["aggregate_job"]))
        for job_id in ids:
            j = jobs.job(job_id)
            if j.get("state") == "settled":
                paid += int(j.get("paid") or 0)
    return paid


def job_object(
    ft: FineTuneRow,
    t: dict[str, Any] | None,
    status: str,
    finished_at: int | None,
    result_files: list[str],
) -> dict[str, Any]:
    """OpenAI's fine-tuning job object of a training row and its chain record (or None
    before the chain took it), with ``training_id`` beside the job fields."""
    adapter = str(t.get("adapter") or "") if t else ""
    error = None
    if status == "failed":
        error = {"code": "training_failed", "param": None, "message":
                 f"training {ft.job_id} failed on chain; its rounds: GET "
                 f"/vcoin/training/v1/trainings/{ft.job_id} on the node's REST"}  # fmt: skip
    hp = json.loads(ft.hyperparameters)
    return {
        "id": ft.id,
        "object": "fine_tuning.job",
        "created_at": ft.created_at,
        "error": error,
        "fine_tuned_model": adapter if status == "succeeded" else None,
        "finished_at": finished_at,
        "hyperparameters": hp,
        "model": ft.model,
        "organization_id": ft.owner,
        "result_files": result_files,
        "seed": ft.seed,
        "status": status,
        "trained_tokens": None,
        "training_file": ft.training_file,
        "validation_file": None,
        "estimated_finish": None,
        "integrations": [],
        "suffix": ft.suffix,
        "method": {"type": "supervised", "supervised": {"hyperparameters": hp}},
        "training_id": ft.job_id,
        "vcoin": {
            "training_id": ft.job_id,
            "job_id": None,
            "state": str(t["state"]) if t else None,
            "tx_hash": ft.tx_hash,
            "input_sha256": ft.input_sha256,  # the manifest
            "dataset": t.get("dataset") if t else None,
            "round": int(t["round"]) if t else None,
            "rounds": int(t["rounds"]) if t else None,
            "escrow": str(ft.price),
            "escrow_left": str(t["escrow_left"]) if t else None,
            "output_hash": adapter or None,
        },
    }


__all__ = [
    "job_object",
    "KEYS",
    "Rounds",
    "dataset_of",
    "escrow_of",
    "is_training",
    "paid_of",
    "status_of",
    "train_losses",
    "training_params",
]
