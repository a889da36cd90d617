"""The inline inputs of the two training tasks, checked, and the artifacts they name.

The chain's training module writes them (canonical JSON: sorted keys, no spaces); the
runtime, the worker agent and the oracle read them::

    lora-shard:     {"kind": "lora-shard", "training": T, "round": r, "shard": i,
                     "shards": N, "records": n, "dataset": "<hex>", "manifest": "<hex>",
                     "global": "<hex>" | "" (round 0 only), "config": CONFIG}
    lora-aggregate: {"kind": "lora-aggregate", "training": T, "round": r,
                     "global": "<hex>" | "" (round 0 only),
                     "updates": [{"shard": i, "sha256": "<hex>", "weight": w}, ...],
                     "config": CONFIG}
    CONFIG:         {"rank", "alpha", "targets": [module names], "steps", "lr_micro",
                     "batch_size", "seed", "max_length"}

Every artifact named (dataset, manifest, global, each update) is a *ref*: ``refs(doc)``
lists them, the worker and the oracle download each as ``inputs/<sha256>``, and the
runtime's job.json lists them as ``"refs": [...]`` (``compute.runtime.spec``).
A malformed document is ``ValueError`` here (``JobError("bad_input")`` to callers).
"""

from __future__ import annotations

import re
from typing import Any

SHARD = "lora-shard"
AGGREGATE = "lora-aggregate"
TASKS = (SHARD, AGGREGATE)
HEX64 = re.compile(r"[0-9a-f]{64}")
MODULE_NAME = re.compile(r"[A-Za-z0-9_.]{1,64}")
U32, U64 = 2**32 - 1, 2**64 - 1
MAX_SHARDS = 256
# name -> (min, max) of each integer of the config
CONFIG_INTS: dict[str, tuple[int, int]] = {
    "rank": (1, 64),
    "alpha": (1, 256),
    "steps": (1, 1000),
    "lr_micro": (1, 1_000_000),  # learning rate = lr_micro / 1e6, at most 1.0
    "batch_size": (1, 64),
    "seed": (0, U64),
    "max_length": (8, 512),
}


def _int(doc: dict[str, Any], name: str, lo: int, hi: int, where: str = "") -> int:
    v = doc.get(name)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ValueError(f"{where}{name} must be an integer in {lo}..{hi}, got {v!r}")
    return v


def _hex(v: Any, what: str, empty: bool = False) -> str:
    if isinstance(v, str) and (HEX64.fullmatch(v) or (empty and v == "")):
        return v
    raise ValueError(f"{what} must be a sha256 hex digest{' or empty' if empty else ''}")


def _keys(doc: Any, want: set[str], what: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise ValueError(f"{what} must be a JSON object")
    if set(doc) != want:
        missing, extra = sorted(want - set(doc)), sorted(set(doc) - want)
        raise ValueError(f"{what}: missing keys {missing}, unknown keys {extra}")
    return doc


def check_config(doc: Any) -> dict[str, Any]:
    cfg = _keys(doc, {*CONFIG_INTS, "targets"}, "config")
    for name, (lo, hi) in CONFIG_INTS.items():
        _int(cfg, name, lo, hi, "config.")
    t = cfg["targets"]
    if (
        not isinstance(t, list)
        or not 1 <= len(t) <= 16
        or not all(isinstance(m, str) and MODULE_NAME.fullmatch(m) for m in t)
        or len(set(t)) != len(t)
    ):
        raise ValueError("config.targets must be 1 to 16 distinct module names")
    return cfg


def _global(doc: dict[str, Any]) -> None:
    g = _hex(doc["global"], "global", empty=True)
    if (g == "") != (doc["round"] == 0):
        raise ValueError("global is empty in round 0 and names the last aggregate after it")


def check_shard_input(doc: Any) -> dict[str, Any]:
    keys = {"kind", "training", "round", "shard", "shards", "records", "dataset", "manifest"}
    d = _keys(doc, keys | {"global", "config"}, "a lora-shard input")
    if d["kind"] != SHARD:
        raise ValueError(f"kind must be {SHARD!r}")
    _int(d, "training", 0, U64)
    _int(d, "round", 0, U32)
    shards = _int(d, "shards", 1, MAX_SHARDS)
    _int(d, "shard", 0, shards - 1)
    _int(d, "records", shards, 1 << 20)
    _hex(d["dataset"], "dataset")
    _hex(d["manifest"], "manifest")
    _global(d)
    check_config(d["config"])
    return d


def check_aggregate_input(doc: Any) -> dict[str, Any]:
    d = _keys(doc, {"kind", "training", "round", "global", "updates", "config"}, "input")
    if d["kind"] != AGGREGATE:
        raise ValueError(f"kind must be {AGGREGATE!r}")
    _int(d, "training", 0, U64)
    _int(d, "round", 0, U32)
    _global(d)
    ups = d["updates"]
    if not isinstance(ups, list) or not 1 <= len(ups) <= MAX_SHARDS:
        raise ValueError(f"updates must be a list of 1 to {MAX_SHARDS} updates")
    last = -1
    for u in ups:
        u = _keys(u, {"shard", "sha256", "weight"}, "each update")
        shard = _int(u, "shard", 0, MAX_SHARDS - 1, "update.")
        if shard <= last:
            raise ValueError("updates must be in ascending shard order, each shard once")
        last = shard
        _hex(u["sha256"], "update.sha256")
        _int(u, "weight", 1, 1 << 20, "update.")
    check_config(d["config"])
    return d


def check_input(task: str, doc: Any) -> dict[str, Any]:
    """The document, checked for ``task``; ValueError naming what is wrong."""
    if task == SHARD:
        return check_shard_input(doc)
    if task == AGGREGATE:
        return check_aggregate_input(doc)
    raise ValueError(f"{task!r} is not a training task")


def refs(doc: dict[str, Any]) -> list[str]:
    """The artifacts a checked document names, each once, in the order they appear:
    dataset, manifest, global (when not empty) for a shard; global, then the updates by
    shard for an aggregate."""
    if doc["kind"] == SHARD:
        names = [doc["dataset"], doc["manifest"], doc["global"]]
    else:
        names = [doc["global"], *(u["sha256"] for u in doc["updates"])]
    out: list[str] = []
    for n in names:
        if n and n not in out:
            out.append(n)
    return out
