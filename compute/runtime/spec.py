"""The job spec the runtime reads (``job.json``), checked field by field.

A job spec, version 1::

    {
      "version": 1,
      "job_id": "17",                       # optional, echoed into result.json
      "task": "text-generation",            # | "embedding" | "lora-train"
                                            # | "lora-shard" | "lora-aggregate"
      "model": "<sha256 of the model manifest>",
      "input": {"sha256": "<hex>"}          # a JSON file in --inputs named by its hash
               | {"inline": {...}},         # or the same JSON object, inline
      "params": {...},                      # per task, see TASK_PARAMS
      "refs": ["<hex>", ...]                # lora-shard / lora-aggregate only
    }

Inputs per task: text-generation ``{"prompts": [str, ...]}``; embedding
``{"texts": [str, ...]}``; lora-train ``{"texts": [str, ...], "eval_texts":
[str, ...]}`` (eval_texts optional). The training tasks ``lora-shard`` and
``lora-aggregate`` read the documents of ``compute.training.inputs``; the
artifacts those name (dataset, manifest, global adapter, updates) are their
*refs*: ``refs`` lists them, in the order ``compute.training.inputs.refs`` gives,
and each is a file ``<sha256>`` in the inputs folder beside the input (the
runtime checks the list against the input and each file's hash). Their only
param is ``seed``, which seeds the run's generators; the adapter's own seed is
the input's ``config.seed``. Every refusal is a ``JobError`` with a
stable code, so the worker can report it on chain and nothing crashes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from compute.runtime.errors import JobError
from compute.runtime.jsonlimits import JSONLimitError, loads

SPEC_VERSION = 1
TASKS = ("text-generation", "embedding", "lora-train", "lora-shard", "lora-aggregate")
REF_TASKS = ("lora-shard", "lora-aggregate")  # compute.training.inputs.TASKS
MAX_REFS = 260
# used with fullmatch: "$" would also match before a trailing newline
HEX64 = re.compile(r"[0-9a-f]{64}")
MAX_INLINE_BYTES = 64 * 1024
MAX_SPEC_BYTES = 2 * MAX_INLINE_BYTES
MAX_ITEMS = 256
MAX_TEXT_CHARS = 16 * 1024

# name -> (type, default, min, max); a param not listed for a task is refused.
TASK_PARAMS: dict[str, dict[str, tuple[type, Any, float, float]]] = {
    "text-generation": {
        "max_new_tokens": (int, 32, 1, 1024),
        "seed": (int, 0, 0, 2**31 - 1),
    },
    "embedding": {
        "max_length": (int, 256, 8, 512),
        "seed": (int, 0, 0, 2**31 - 1),
    },
    "lora-train": {
        "steps": (int, 8, 1, 1000),
        "batch_size": (int, 4, 1, 64),
        "learning_rate": (float, 1e-3, 1e-7, 1.0),
        "rank": (int, 4, 1, 64),
        "alpha": (int, 8, 1, 256),
        "max_length": (int, 64, 8, 512),
        "seed": (int, 0, 0, 2**31 - 1),
        # k > 0: checkpoints every k steps, hash-chained in the output, so an oracle can
        # check one interval by replaying it (``compute.runtime.checkpoints``); 0: none
        "checkpoint_every": (int, 0, 0, 1000),
    },
    "lora-shard": {"seed": (int, 0, 0, 2**31 - 1)},
    "lora-aggregate": {"seed": (int, 0, 0, 2**31 - 1)},
}
INPUT_LISTS = {
    "text-generation": ("prompts",),
    "embedding": ("texts",),
    "lora-train": ("texts", "eval_texts"),
}


@dataclass(frozen=True)
class JobSpec:
    task: str
    model: str
    input_sha256: str | None
    input_inline: dict[str, Any] | None
    params: dict[str, Any] = field(default_factory=dict)
    job_id: str = ""
    refs: tuple[str, ...] = ()


def _bad(message: str) -> JobError:
    return JobError("bad_job_spec", message)


def _hex(value: Any, what: str) -> str:
    if not isinstance(value, str) or not HEX64.fullmatch(value):
        raise _bad(f"{what} must be a sha256 digest (64 lowercase hex digits)")
    return value


def parse_spec(raw: bytes) -> JobSpec:
    try:
        doc = loads(raw, MAX_SPEC_BYTES)
    except JSONLimitError as e:
        raise _bad(f"job.json is not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise _bad("job.json must hold a JSON object")
    known = {"version", "job_id", "task", "model", "input", "params", "refs"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise _bad(f"unknown fields {unknown}: remove them")
    if doc.get("version") != SPEC_VERSION:
        raise _bad(f"version must be {SPEC_VERSION}, got {doc.get('version')!r}")
    task = doc.get("task")
    if task not in TASKS:
        raise JobError("unknown_task", f"task must be one of {list(TASKS)}, got {task!r}")
    model = _hex(doc.get("model"), "model")
    job_id = doc.get("job_id", "")
    if not isinstance(job_id, str | int) or isinstance(job_id, bool):
        raise _bad("job_id must be a string or an integer")
    inp = doc.get("input")
    if not isinstance(inp, dict) or len(inp) != 1 or not ({"sha256", "inline"} >= set(inp)):
        raise _bad('input must be {"sha256": "<hex>"} or {"inline": {...}}')
    sha = _hex(inp["sha256"], "input.sha256") if "sha256" in inp else None
    inline = inp.get("inline")
    if sha is None:
        if not isinstance(inline, dict):
            raise _bad("input.inline must be a JSON object")
        if len(json.dumps(inline)) > MAX_INLINE_BYTES:
            raise _bad(f"inline input is over {MAX_INLINE_BYTES} bytes: store it as an artifact")
        check_input(task, inline)
    params = check_params(task, doc.get("params", {}))
    refs = doc.get("refs")
    if task in REF_TASKS:
        if not isinstance(refs, list) or not 1 <= len(refs) <= MAX_REFS:
            raise _bad(f"{task} needs refs: a list of 1 to {MAX_REFS} sha256 digests")
        refs = tuple(_hex(r, "each of refs") for r in refs)
    elif refs is not None:
        raise _bad(f"refs are only for {list(REF_TASKS)}")
    return JobSpec(task, model, sha, inline, params, str(job_id), refs or ())


def check_params(task: str, params: Any) -> dict[str, Any]:
    if not isinstance(params, dict):
        raise _bad("params must be a JSON object")
    known = TASK_PARAMS[task]
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise _bad(f"params {unknown} are not known for {task}; known: {sorted(known)}")
    out: dict[str, Any] = {}
    for name, (kind, default, lo, hi) in known.items():
        v = params.get(name, default)
        if kind is int and (not isinstance(v, int) or isinstance(v, bool)):
            raise _bad(f"params.{name} must be an integer")
        if kind is float:
            if not isinstance(v, int | float) or isinstance(v, bool):
                raise _bad(f"params.{name} must be a number")
            v = float(v)
        if not lo <= v <= hi:
            raise _bad(f"params.{name} must be between {lo} and {hi}, got {v}")
        out[name] = v
    return out


def check_input(task: str, doc: Any) -> dict[str, Any]:
    """The task's input, checked; JobError ``bad_input`` naming what is wrong. The text
    tasks' inputs are lists of strings (``INPUT_LISTS``); the training tasks' are the
    documents of ``compute.training.inputs``."""
    if not isinstance(doc, dict):
        raise JobError("bad_input", "the input must be a JSON object")
    if task in REF_TASKS:
        from compute.training import inputs

        try:
            return inputs.check_input(task, doc)
        except ValueError as e:
            raise JobError("bad_input", f"the {task} input: {e}") from None
    names = INPUT_LISTS[task]
    unknown = sorted(set(doc) - set(names))
    if unknown:
        raise JobError("bad_input", f"input fields {unknown} are not known for {task}")
    out: dict[str, Any] = {}
    for i, name in enumerate(names):
        items = doc.get(name)
        if items is None and i > 0:
            continue
        if not isinstance(items, list) or not items or len(items) > MAX_ITEMS:
            raise JobError("bad_input", f"input.{name} must be a list of 1 to {MAX_ITEMS} strings")
        for s in items:
            if not isinstance(s, str) or not s or len(s) > MAX_TEXT_CHARS:
                raise JobError(
                    "bad_input",
                    f"each of input.{name} must be a non-empty string of at most "
                    f"{MAX_TEXT_CHARS} characters",
                )
            if not s.isascii():
                try:  # JSON may escape a lone surrogate, which no tokenizer reads
                    s.encode("utf-8")
                except UnicodeEncodeError:
                    raise JobError(
                        "bad_input", f"input.{name} has text that is not valid Unicode"
                    ) from None
        out[name] = list(items)
    return out
