"""Whether a job's check is cheap, as the chain can tell from the job record alone:
the detection floor (``risk.py``) is drawn only for those, since its cost is the
sampling rate times the check's cost.

A job of a type in ``detection_floor_tasks`` has a cheap check, except where the
oracle (``oracle/executor.py``) would re-execute it in full:

* ``text-generation`` whose spec asks for sampling (``params.do_sample`` true, or
  ``params.temperature`` > 0): it is compared by similarity after a full re-run;
  greedy text is checked by one prefill pass;
* ``embedding`` while ``embed_check_rows`` is 0: every row is re-embedded;
* ``lora-train`` (not listed by default) without ``params.checkpoint_every`` (an
  integer > 0): there are no checkpoints to replay one interval from.

The spec was checked when the job was posted (``modules/jobs/msgs.py``); it is read
here with the same bounded parser, numbers as ``Decimal`` (no floats on chain). A
spec that does not parse as the runtime wants cannot run: the oracle's check fails it
without running anything, which is cheap too.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chain.bounded import InputError, load_json

TEXT_GENERATION = "text-generation"
EMBEDDING = "embedding"
LORA = "lora-train"
MAX_SPEC_BYTES = 65_536  # the jobs module's parse bound (MAX_SPEC_PARSE_BYTES)


def spec_params(spec: str) -> dict[str, Any] | None:
    """The ``params`` object of a job's spec text; {} without a spec, None when it is
    not a JSON object with an object under ``params``."""
    if not spec:
        return {}
    try:
        doc = load_json(spec, "spec", max_bytes=MAX_SPEC_BYTES)
    except InputError:
        return None
    if not isinstance(doc, dict):
        return None
    params = doc.get("params", {})
    return params if isinstance(params, dict) else None


def sampled(params: dict[str, Any]) -> bool:
    """The oracle's ``sampled_decoding`` on chain numbers: sampling (free text) rather
    than greedy decoding."""
    t = params.get("temperature")
    return bool(params.get("do_sample")) or (isinstance(t, int | Decimal) and t > 0)


def cheap_check(task_type: str, spec: str, floor_tasks: tuple[str, ...], check_rows: int) -> bool:
    """Whether a job of ``task_type`` with ``spec`` is drawn at the detection floor."""
    if task_type not in floor_tasks:
        return False
    if task_type == EMBEDDING:
        return check_rows > 0
    if task_type in (TEXT_GENERATION, LORA):
        params = spec_params(spec)
        if params is None:
            return True
        if task_type == LORA:
            every = params.get("checkpoint_every")
            return isinstance(every, int) and every > 0
        return not sampled(params)
    return True  # a type the params name: the operator says its check is cheap
