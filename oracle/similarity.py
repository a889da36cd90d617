"""Per-task-type comparison of a worker's output with the oracle's re-execution.

Every comparison gives a ``Comparison``: a similarity in basis points (the
integer that goes on chain, always rounded down, see ``fixedpoint``), a
verdict, and the figures behind it (they go into the evidence document whose
sha256 is the attestation's evidence hash). The verdict is never ``pass``
below the chain's ``similarity_threshold_bps`` (0.95 → 9500 by default); some
metrics are stricter than the threshold.

Metrics and why:

* **text-generation, greedy** (the runtime's only decoding): *exact match* of
  the output file's sha256. Greedy decoding under the runtime's determinism
  rules gives the same tokens for the same job; any other output means the
  work was not done as specified, and a near miss (one changed word) is
  exactly what a cheater who edits outputs produces, so no tolerance is
  given. On a mismatch the similarity is still computed, per completion, with
  the free-text metric below (its minimum over completions), so the evidence
  says how far off the output was; the verdict stays ``fail``.
* **text-generation, sampled** (a spec with ``temperature`` > 0 or
  ``do_sample``; not produced by today's runtime, handled for when it is):
  *free text* — embedding cosine (all-MiniLM-L6-v2) combined with normalized
  token overlap by a geometric mean (see ``textsim``), the minimum over
  completions; pass at ≥ threshold. Prompts must match the job's one for one.
* **embedding**: *cosine of the embedding vectors*, row by row, the minimum
  over rows; pass at ≥ threshold. Float differences between devices move a
  cosine by ~1e-6, far from the threshold; a worker that returns vectors of
  another model, of other texts, or noise lands far below it. Shapes must
  match (one row per input text, the model's width).
* **lora-train**: *cosine of the adapter weights*, tensor by tensor (the
  minimum), and the *held-out loss* of the worker's adapter, recomputed by the
  oracle on the job's ``eval_texts`` (its training texts when it has none).
  Per tensor rather than one flat vector because the LoRA ``A`` matrices
  start from the seeded random init and dwarf the trained ``B`` matrices: a
  flat cosine would pass an adapter whose ``B`` is junk or zero. Cosine is
  blind to scale, so the loss check catches an adapter that points the right
  way but is scaled (or otherwise does not work); the worker's own reported
  losses are never trusted. The loss tolerance is relative to the *training
  effect* ``|L_base − L_oracle|`` (the base model's loss minus the oracle
  adapter's): ``|L_worker − L_oracle| ≤ loss_tolerance_bps/10000 ·
  max(|L_base − L_oracle|, loss_floor_bps/10000 · L_oracle)``. A tolerance
  relative to the loss itself would be useless for short fine-tunes, whose
  effect on the loss is smaller than any sensible percentage of it (an
  untrained adapter would pass). Similarity = the weight cosine; pass needs
  both.
* **canaries**: *exact hash*, checked by the chain itself at reveal.

Whose fault: only evidence about the worker's output fails it — a file that
does not parse (``BadOutput``), the wrong shape, a dissimilar value. When the
oracle itself cannot judge — a task type it has no metric for, an ``OSError``
on a file in its own cache, its own output unreadable, a bug in a metric
(``TypeError`` …), its device out of memory — ``compare`` raises
``OracleFault`` and the executor abstains: it attests nothing against the
worker.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from oracle.fixedpoint import BPS, cosine_bps, rows_cosine_bps

if TYPE_CHECKING:
    from oracle.lora_eval import LossEvaluator

TEXT_GENERATION = "text-generation"
EMBEDDING = "embedding"
LORA = "lora-train"
MAX_OUTPUT_BYTES = 256 * 1024 * 1024

EXACT = "exact-sha256"
FREE_TEXT = "free-text(minilm-cosine,token-overlap)"
EMBED_COSINE = "embedding-row-cosine"
LORA_METRIC = "lora(weight-cosine,heldout-loss)"
T = TypeVar("T")


# Logits: the greedy prefill check accepts a token this close to the top (``prefill``).
# fp32 logits of one model on two devices differ by ~1e-5 (a KV-cache decode and a prefill
# here: ~1e-6); 0.01 leaves three orders of magnitude for other kernels, and a token this
# close to the top is, to the model, the same choice.
TIE_MARGIN = 0.01


@dataclass(frozen=True)
class Policy:
    """How strict to be; ``threshold_bps`` comes from the chain's verification params."""

    threshold_bps: int = 9500
    loss_tolerance_bps: int = 1000  # 10 % of the training effect on the held-out loss
    loss_floor_bps: int = 1  # the effect counts as at least 0.01 % of the loss
    tie_margin: float = TIE_MARGIN


@dataclass(frozen=True)
class Comparison:
    task: str
    metric: str
    similarity_bps: int
    passed: bool
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 <= self.similarity_bps <= BPS:
            raise ValueError("similarity_bps is 0..10000")

    @property
    def verdict(self) -> str:
        return "pass" if self.passed else "fail"


class BadOutput(ValueError):
    """The worker's output is unreadable or malformed: evidence that fails it."""


class OracleFault(Exception):
    """The oracle cannot judge (its own file, metric, device or knowledge failed): it
    abstains, never failing the worker for it."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def sampled_decoding(params: dict[str, Any]) -> bool:
    """Whether a text-generation spec asks for sampling (free text) rather than greedy."""
    t = params.get("temperature", 0)
    return bool(params.get("do_sample")) or (isinstance(t, int | float) and t > 0)


def compare(
    task: str,
    expected: Path,
    actual: Path,
    policy: Policy,
    *,
    params: dict[str, Any] | None = None,
    loss_of: LossEvaluator | None = None,
) -> Comparison:
    """Compare the worker's output file ``actual`` with the oracle's ``expected``.

    ``loss_of`` evaluates a LoRA adapter's held-out loss (``lora_eval``; the
    daemon builds one from the job's model and texts).
    """
    if task not in (TEXT_GENERATION, EMBEDDING, LORA):
        raise OracleFault(f"no metric for task type {task!r}")
    try:
        exp_hash, act_hash = sha256_file(expected), sha256_file(actual)
        too_big = actual.stat().st_size > MAX_OUTPUT_BYTES
    except OSError as e:  # both files are in the oracle's own cache and run folder
        raise OracleFault(f"cannot read its own copy of the outputs: {e}") from e
    base = {"expected_sha256": exp_hash, "actual_sha256": act_hash}
    try:
        if too_big:
            raise BadOutput(f"the output is over {MAX_OUTPUT_BYTES} bytes")
        if task == TEXT_GENERATION:
            c = _text_generation(expected, actual, exp_hash == act_hash, policy, params or {})
        elif task == EMBEDDING:
            c = _embedding(expected, actual, exp_hash == act_hash, policy)
        else:
            c = _lora(expected, actual, exp_hash == act_hash, policy, loss_of)
    except BadOutput as e:
        # An output the oracle cannot even read is as wrong as it gets.
        return Comparison(task, "unreadable", 0, False, {**base, "error": str(e)[:500]})
    except OracleFault:
        raise
    except Exception as e:  # noqa: BLE001 - anything else is the oracle's own failure
        raise OracleFault(f"{task} metric failed: {type(e).__name__}: {e}"[:500]) from e
    return Comparison(c.task, c.metric, c.similarity_bps, c.passed, {**base, **c.details})


def _own(read: Callable[[Path], T], path: Path) -> T:
    """``read(path)`` of the oracle's own output: a failure is the oracle's fault."""
    try:
        return read(path)
    except Exception as e:  # noqa: BLE001
        raise OracleFault(f"its own output does not read back: {type(e).__name__}: {e}") from e


# -- text generation --------------------------------------------------------------------
def _completions(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as e:  # bad JSON, bad UTF-8, absurd nesting
        raise BadOutput(f"output.json is not JSON: {e}") from None
    items = doc.get("completions") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not items:
        raise BadOutput("output.json has no completions list")
    for it in items:
        if not isinstance(it, dict) or not isinstance(it.get("completion"), str):
            raise BadOutput("each completion needs a completion string")
    return items


def _text_generation(
    expected: Path, actual: Path, same: bool, policy: Policy, params: dict[str, Any]
) -> Comparison:
    sampled = sampled_decoding(params)
    metric = FREE_TEXT if sampled else EXACT
    if same:
        return Comparison(TEXT_GENERATION, metric, BPS, True, {"exact": True})
    from oracle.textsim import free_text_bps

    exp, act = _own(_completions, expected), _completions(actual)
    if len(exp) != len(act):
        return Comparison(
            TEXT_GENERATION, metric, 0, False, {"error": f"{len(act)} completions, {len(exp)} due"}
        )
    per = []
    for e, a in zip(exp, act, strict=True):
        if e.get("prompt") != a.get("prompt"):
            per.append({"cosine": 0, "overlap": 0, "similarity": 0, "prompt_differs": True})
            continue
        per.append(free_text_bps(e["completion"], a["completion"]))
    sim = min(p["similarity"] for p in per)
    passed = sampled and sim >= policy.threshold_bps
    return Comparison(TEXT_GENERATION, metric, sim, passed, {"exact": False, "items": per})


# -- embeddings ---------------------------------------------------------------------------
def _load_tensors(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    from safetensors import safe_open

    out: dict[str, Any] = {}
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = dict(f.metadata() or {})
            for name in f.keys():  # noqa: SIM118 - safe_open is not a mapping
                out[name] = f.get_tensor(name)
    except OSError:
        raise  # the file is in the oracle's own cache: its fault, not the content's
    except Exception as e:  # noqa: BLE001 - any parse failure means an unreadable output
        raise BadOutput(f"not a readable safetensors file: {e}") from None
    return out, meta


def _embedding(expected: Path, actual: Path, same: bool, policy: Policy) -> Comparison:
    if same:
        return Comparison(EMBEDDING, EMBED_COSINE, BPS, True, {"exact": True})
    exp, _ = _own(_load_tensors, expected)
    act, _ = _load_tensors(actual)
    if "embeddings" not in act:
        raise BadOutput("the output has no 'embeddings' tensor")
    e, a = exp["embeddings"], act["embeddings"]
    if e.shape != a.shape:
        return Comparison(
            EMBEDDING, EMBED_COSINE, 0, False, {"error": f"shape {a.shape}, due {e.shape}"}
        )
    rows = rows_cosine_bps(e, a)
    sim = min(rows)
    details = {"exact": False, "rows": len(rows), "min_row_bps": sim, "rows_bps": rows[:64]}
    return Comparison(EMBEDDING, EMBED_COSINE, sim, sim >= policy.threshold_bps, details)


# -- LoRA ---------------------------------------------------------------------------------
def _lora(
    expected: Path,
    actual: Path,
    same: bool,
    policy: Policy,
    loss_of: LossEvaluator | None,
) -> Comparison:
    if same:
        return Comparison(LORA, LORA_METRIC, BPS, True, {"exact": True})
    from compute.runtime.checkpoints import adapter_tensors

    # the adapter alone: a checkpoint chain is the interval replay's to judge (``interval``)
    exp = adapter_tensors(_own(_load_tensors, expected)[0])
    act = adapter_tensors(_load_tensors(actual)[0])
    if sorted(exp) != sorted(act):
        missing = sorted(set(exp) - set(act))[:8]
        extra = sorted(set(act) - set(exp))[:8]
        err = f"adapter tensors differ: missing {missing}, extra {extra}"
        return Comparison(LORA, LORA_METRIC, 0, False, {"error": err})
    per = {name: cosine_bps(exp[name], act[name]) for name in sorted(exp)}
    weight = min(per.values())
    details: dict[str, Any] = {"exact": False, "weight_cosine_bps": weight, "tensors_bps": per}
    loss_ok = True
    if loss_of is None:
        details["loss_check"] = "skipped: no evaluator"
    elif weight >= policy.threshold_bps:
        # Only worth the forward passes when the weights could pass at all.
        lb, lo = loss_of.base_loss(), _own(loss_of, expected)
        lw = loss_of(actual)  # BadOutput when the worker's adapter does not load
        effect = max(abs(lb - lo), policy.loss_floor_bps / BPS * abs(lo))
        allowed = policy.loss_tolerance_bps / BPS * effect
        loss_ok = math.isfinite(lw) and abs(lw - lo) <= allowed
        details.update(loss_base=lb, loss_expected=lo, loss_actual=lw, loss_allowed_diff=allowed)
        details["loss_check"] = "ok" if loss_ok else "out of tolerance"
    passed = weight >= policy.threshold_bps and loss_ok
    return Comparison(LORA, LORA_METRIC, weight, passed, details)
