"""``ffa-mean``: the round's global adapter, a pure function of the accepted updates.

B_global = Σ wᵢ·Bᵢ / Σ wᵢ over the updates (wᵢ: the shard's record count), each tensor
accumulated in float64 in ascending shard order — one numpy ufunc per operation (a
product, then a sum: nothing fused), each correctly rounded by IEEE 754, so the same bits
on any CPU — and cast to float32 at the end. A is the updates' common A (each must equal
the others; the runtime task also holds it to the seed's A). The file is written by
``save_safetensors`` (canonical header), so ``aggregate(...)`` returns the same bytes
wherever it runs, and the oracle checks an aggregate job by comparing sha256s.

The global adapter's metadata: ``task`` (``lora-aggregate``), ``aggregation``
(``ffa-mean``), ``training``, ``round``, ``base_model``, ``adapter_config`` (peft's JSON,
copied from the updates, which must agree), ``shards`` and ``weights`` (JSON lists, in
shard order).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from compute.runtime.hashing import save_safetensors
from compute.training.adapter import check_tensors, is_a, read

AGGREGATION = "ffa-mean"
SAME_META = ("training", "round", "base_model", "adapter_config")


def ffa_mean(updates: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """The weighted mean of the B tensors of ``updates`` (``(weight, tensors)``, already in
    ascending shard order), float64 accumulation, float32 result; A tensors are copied
    from the first update."""
    import numpy as np
    import torch

    if not updates:
        raise ValueError("no updates to aggregate")
    total = float(sum(w for w, _ in updates))
    first = updates[0][1]
    out: dict[str, Any] = {}
    for name in sorted(first):
        if is_a(name):
            out[name] = first[name].clone()
            continue
        acc = np.zeros(tuple(first[name].shape), dtype=np.float64)
        for w, tensors in updates:
            term = tensors[name].numpy().astype(np.float64) * np.float64(w)
            acc = acc + term
        mean = (acc / np.float64(total)).astype(np.float32)
        out[name] = torch.from_numpy(np.ascontiguousarray(mean))
    return out


def load_updates(
    update_paths_and_weights: Iterable[tuple[Path, int]],
    training: int | None = None,
    round: int | None = None,
    seed_tensors: dict[str, Any] | None = None,
) -> tuple[list[tuple[int, int, dict[str, Any]]], dict[str, str]]:
    """Each update as ``(shard, weight, tensors)`` in ascending shard order, and the
    metadata they share. ValueError when a file does not parse, is not a ``lora-shard``
    output, belongs to another training or round than given, repeats a shard, disagrees
    with the others on the base model or the config, or has other tensors or another A
    than the first (or than ``seed_tensors``, when given)."""
    rows: list[tuple[int, int, dict[str, Any]]] = []
    common: dict[str, str] | None = None
    due = seed_tensors
    for path, weight in update_paths_and_weights:
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 1:
            raise ValueError(f"the weight of {path.name} must be a positive integer")
        tensors, meta = read(path)
        what = f"update {path.name}"
        if meta.get("task") != "lora-shard":
            raise ValueError(f"{what} is not a lora-shard output")
        try:
            shard = int(meta["shard"])
            got = {k: meta[k] for k in SAME_META}
        except (KeyError, ValueError):
            raise ValueError(f"{what} lacks its shard, training, round or config") from None
        if training is not None and got["training"] != str(training):
            raise ValueError(f"{what} is of training {got['training']}, not {training}")
        if round is not None and got["round"] != str(round):
            raise ValueError(f"{what} is of round {got['round']}, not {round}")
        if common is None:
            common = got
        elif got != common:
            raise ValueError(f"{what} differs from the first update in {SAME_META}")
        if due is None:
            due = tensors
        check_tensors(tensors, due, what)
        if any(s == shard for s, _, _ in rows):
            raise ValueError(f"shard {shard} is given twice")
        rows.append((shard, weight, tensors))
    if common is None:
        raise ValueError("no updates to aggregate")
    rows.sort(key=lambda r: r[0])
    return rows, common


def aggregate(
    update_paths_and_weights: Iterable[tuple[Path, int]],
    training: int | None = None,
    round: int | None = None,
    seed_tensors: dict[str, Any] | None = None,
) -> bytes:
    """The global adapter file's bytes (module docstring) of the updates ``(path, weight)``,
    in any order; ``load_updates`` says what is refused (ValueError)."""
    rows, common = load_updates(update_paths_and_weights, training, round, seed_tensors)
    tensors = ffa_mean([(w, t) for _, w, t in rows])
    meta = {
        "task": "lora-aggregate",
        "aggregation": AGGREGATION,
        **common,
        "shards": json.dumps([s for s, _, _ in rows]),
        "weights": json.dumps([w for _, w, _ in rows]),
    }
    with tempfile.TemporaryDirectory(prefix="vcoin-agg-") as tmp:
        path = Path(tmp) / "global.safetensors"
        save_safetensors(tensors, path, meta)
        return path.read_bytes()
