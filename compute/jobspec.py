"""From a job on chain to the runtime's ``job.json``: the one mapping workers and oracles share.

A job on chain (``vcoind query jobs job``) carries ``task_type``, ``model`` (a
chain model id), ``input_hash`` (an artifact, or the sha256 of
``inline_input``) and ``spec``, a JSON object (or empty) whose only key is
``params``, the task's parameters::

    spec = {"params": {"max_new_tokens": 16, "seed": 7}}

The runtime's job.json (``compute.runtime.spec``) is then::

    {"version": 1, "job_id": "<id>", "task": <task_type>,
     "model": <the model's weights_sha256: its manifest digest>,
     "input": {"sha256": <input_hash>}, "params": <spec.params>}

An inline input is written into the inputs folder under its hash, so both
kinds of input reach the runtime the same way and the hash it checks is the
one on chain.

The training tasks (``lora-shard``, ``lora-aggregate``: posted by the training module
only, their input always inline, see ``compute.training.inputs``) name other artifacts
in their input: the dataset, its manifest, the round's global adapter, the shards'
updates. ``ref_digests(job)`` lists them; the worker and the oracle download each into
the inputs folder as ``<sha256>`` beside the input, and job.json carries the same list as
``"refs": [...]`` (in that order), which the runtime checks against the input and each
file's hash. Anything else in the spec is refused as ``bad_job_spec``: the
runtime would refuse it too, and the poster learns at once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from compute.runtime.errors import JobError
from compute.runtime.jsonlimits import JSONLimitError, loads
from compute.runtime.spec import MAX_SPEC_BYTES, REF_TASKS, SPEC_VERSION, check_input, parse_spec

# "public": true makes the job's input and output readable by anyone in the artifact
# store (chain.artifact_policy); the runtime never sees it
SPEC_KEYS = ("params", "public")


class JobInput(TypedDict):
    """Where the runtime finds a job's input: the file named by its sha256 in the inputs folder."""

    sha256: str


class RuntimeJob(TypedDict):
    """The runtime's job.json, as ``runtime_job`` builds it (the module docstring's shape)."""

    version: int
    job_id: str
    task: str
    model: str  # the model's manifest digest (its weights_sha256 on chain)
    input: JobInput
    params: dict[str, Any]
    refs: NotRequired[list[str]]  # lora-shard / lora-aggregate: ``ref_digests(job)``


def spec_params(spec_text: str) -> dict[str, Any]:
    """The ``params`` of a chain spec; JobError ``bad_job_spec`` when it is malformed."""
    if not spec_text:
        return {}
    try:
        spec = loads(spec_text, MAX_SPEC_BYTES)
    except JSONLimitError as e:
        raise JobError("bad_job_spec", f"the job's spec: {e}") from None
    if not isinstance(spec, dict):
        raise JobError("bad_job_spec", "the job's spec must be a JSON object")
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise JobError(
            "bad_job_spec",
            f'the job\'s spec has unknown keys {unknown}; it may only hold {{"params": {{...}}}}',
        )
    if not isinstance(spec.get("public", False), bool):
        raise JobError("bad_job_spec", "spec.public must be true or false")
    params = spec.get("params", {})
    if not isinstance(params, dict):
        raise JobError("bad_job_spec", "spec.params must be a JSON object")
    return params


def runtime_job(job: Mapping[str, Any], model: Mapping[str, Any]) -> RuntimeJob:
    """job.json for ``job`` (a ``jobs/job`` query answer) and its ``model`` (``jobs/model``;
    only its ``weights_sha256``, the manifest digest, is used).

    Raises JobError when the spec is malformed, with the runtime's own checks, and
    KeyError when a record lacks a field.
    """
    doc: RuntimeJob = {
        "version": SPEC_VERSION,
        "job_id": str(job["id"]),
        "task": job["task_type"],
        "model": model["weights_sha256"],
        "input": {"sha256": job["input_hash"]},
        "params": spec_params(str(job.get("spec") or "")),
    }
    if job["task_type"] in REF_TASKS:
        doc["refs"] = ref_digests(job)
    parse_spec(json.dumps(doc).encode())  # the same checks the runtime makes, before any download
    return doc


def inline_input(job: Mapping[str, Any]) -> bytes:
    """The job's inline input (base64 on chain) as bytes; empty for an artifact input."""
    raw = job.get("inline_input") or ""
    return base64.b64decode(raw) if raw else b""


def write_inline_input(job: Mapping[str, Any], inputs_dir: Path) -> Path | None:
    """Write an inline input as ``inputs_dir/<input_hash>``; None for an artifact input."""
    data = inline_input(job)
    if not data:
        return None
    digest = hashlib.sha256(data).hexdigest()
    if digest != job["input_hash"]:
        raise JobError("input_hash_mismatch", "the inline input does not hash to input_hash")
    path = inputs_dir / digest
    path.write_bytes(data)
    os.chmod(path, 0o444)
    return path


def ref_digests(job: Mapping[str, Any]) -> list[str]:
    """The artifacts a training job's inline input names (dataset, manifest, global,
    updates; each once, in that order), which go into its inputs folder beside the input;
    ``[]`` for any other task type. JobError ``bad_input`` when the inline input is missing
    or malformed, ``input_hash_mismatch`` when it does not hash to ``input_hash``."""
    task = job.get("task_type")
    if task not in REF_TASKS:
        return []
    from compute.training.inputs import refs

    try:
        data = inline_input(job)
    except ValueError:
        raise JobError("bad_input", "the inline input is not base64") from None
    if not data:
        raise JobError("bad_input", f"a {task} job's input must be inline")
    if hashlib.sha256(data).hexdigest() != job.get("input_hash"):
        raise JobError("input_hash_mismatch", "the inline input does not hash to input_hash")
    try:
        doc = loads(data, MAX_SPEC_BYTES)
    except JSONLimitError as e:
        raise JobError("bad_input", f"the inline input is not JSON: {e}") from None
    return refs(check_input(str(task), doc))
