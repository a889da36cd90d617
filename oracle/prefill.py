"""Greedy text generation checked by prefill: one forward pass instead of N decode steps.

A worker's greedy completion is a claim that, at every position, its token was
the model's top choice given the prompt and the tokens before it. The oracle
puts ``prompt ‖ claimed tokens`` through the model once (teacher forcing): the
logits at position ``i`` are the model's scores for token ``i + 1``, so every
claimed token is judged from a single parallel pass. Decoding needs N
sequential steps (each a full read of the weights); the prefill is one pass
whose positions run in parallel. That is the whole saving; the verdict is as
strong as re-execution for the cheats a worker can make (a changed, inserted,
dropped or truncated token changes the claim at some position).

**Ties.** Float sums differ between devices, kernels and the KV-cache decode
versus the full-sequence prefill, so two logits that nearly tie can swap. A
claimed token is accepted when ``top − logit(claimed) ≤ tie_margin`` (logits,
not probabilities; default ``TIE_MARGIN``): an honest worker on other hardware
that took the runner-up of a near-tie is not failed, and a cheater gains
nothing from the margin, since it may only pick between tokens the model
scores as equal to within the margin. A position accepted only through the
margin counts as a tie in the evidence.

**Shape.** The output must be exactly what the runtime writes (``compute/runtime/
tasks.py``): the job's prompts in order; token ids in the vocabulary; the
completion text equal to the decoded ids; the end-of-sequence token only last;
and without it, exactly ``min(max_new_tokens, context − prompt)`` tokens (a
truncated output is a cheat that every position check alone would pass).

Similarity (evidence, in bps) is ``floor(10000 · accepted / positions)``; a
pass needs every position accepted and the shape right (10000). A wrong shape
is 0.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oracle.fixedpoint import BPS
from oracle.similarity import TEXT_GENERATION, TIE_MARGIN, Comparison

PREFILL = "greedy-prefill(tie-margin)"
OUTPUT_KEYS = {"task", "model", "completions"}
ITEM_KEYS = {"prompt", "completion", "token_ids"}


@dataclass(frozen=True)
class Position:
    claimed: int
    top: int  # the checker's argmax (the first of equal logits, as the runtime's argmax)
    gap: float  # top logit − claimed token's logit (≥ 0)

    def accepted(self, margin: float) -> bool:
        return math.isfinite(self.gap) and self.gap <= margin

    def tie(self, margin: float) -> bool:
        return self.claimed != self.top and self.accepted(margin)


def judge_logits(logits: Any, claimed: list[int]) -> list[Position]:
    """One ``Position`` per claimed token; ``logits`` is [len(claimed), vocab]."""
    import numpy as np

    arr = np.asarray(logits, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != len(claimed):
        raise ValueError(f"logits {arr.shape} for {len(claimed)} tokens")
    out = []
    for row, tok in zip(arr, claimed, strict=True):
        top = int(row.argmax())
        gap = float(row[top] - row[tok]) if np.all(np.isfinite(row)) else math.inf
        out.append(Position(tok, top, gap))
    return out


class ShapeError(ValueError):
    """The output is not what the runtime writes for this job."""


def _items(doc: Any, prompts: list[str], model_hash: str) -> list[dict[str, Any]]:
    if not isinstance(doc, dict) or set(doc) != OUTPUT_KEYS:
        raise ShapeError(f"the output's keys must be {sorted(OUTPUT_KEYS)}")
    if doc["task"] != TEXT_GENERATION or doc["model"] != model_hash:
        raise ShapeError("the output names another task or model")
    items = doc["completions"]
    if not isinstance(items, list) or len(items) != len(prompts):
        raise ShapeError(f"{len(prompts)} completions are due")
    for it, prompt in zip(items, prompts, strict=True):
        if not isinstance(it, dict) or set(it) != ITEM_KEYS:
            raise ShapeError(f"each completion has exactly the keys {sorted(ITEM_KEYS)}")
        if it["prompt"] != prompt:
            raise ShapeError("a completion's prompt is not the job's")
        ids = it["token_ids"]
        if not isinstance(ids, list) or not all(
            isinstance(t, int) and not isinstance(t, bool) for t in ids
        ):
            raise ShapeError("token_ids must be a list of integers")
    return items


class PrefillChecker:
    """One model loaded once (an oracle checks many jobs of the same model)."""

    def __init__(self, model_dir: Path, device: str = "cpu") -> None:
        from compute.runtime.determinism import prepare_env

        prepare_env()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = device
        self.tok = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        self.model = model.to(device).eval()  # type: ignore[arg-type]
        self.eos = self.tok.eos_token_id
        self.vocab = int(self.model.config.vocab_size)
        self.limit = int(getattr(self.model.config, "max_position_embeddings", 2048))
        self._lock = threading.Lock()

    def prompt_ids(self, prompt: str) -> list[int]:
        return list(self.tok(prompt).input_ids)

    def logits(self, prompt_ids: list[int], claimed: list[int]) -> Any:
        """[len(claimed), vocab] scores for each claimed token, from one forward pass."""
        import torch

        seq = torch.tensor([prompt_ids + claimed[:-1]], device=self.device)
        with self._lock, torch.no_grad():
            out = self.model(input_ids=seq).logits[0]
        return out[len(prompt_ids) - 1 :].double().cpu().numpy()

    def _shape(self, prompt_ids: list[int], item: dict[str, Any], max_new: int) -> None:
        ids: list[int] = item["token_ids"]
        steps = min(max_new, self.limit - len(prompt_ids))
        if not prompt_ids or steps < 1:
            raise ShapeError("the runtime refuses this prompt: no output can be right")
        if not 1 <= len(ids) <= steps or any(not 0 <= t < self.vocab for t in ids):
            raise ShapeError(f"1..{steps} token ids in the vocabulary are due")
        if self.eos in ids[:-1]:
            raise ShapeError("tokens after the end-of-sequence token")
        if ids[-1] != self.eos and len(ids) != steps:
            raise ShapeError(f"{len(ids)} tokens without an end-of-sequence token; {steps} due")
        if item["completion"] != self.tok.decode(ids, skip_special_tokens=True):
            raise ShapeError("the completion text is not the decoded token ids")

    def check(
        self,
        prompts: list[str],
        params: dict[str, Any],
        output: Path,
        model_hash: str,
        margin: float = TIE_MARGIN,
    ) -> Comparison:
        try:
            items = _items(json.loads(output.read_bytes()), prompts, model_hash)
            pids = [self.prompt_ids(p) for p in prompts]
            for ids, it in zip(pids, items, strict=True):
                self._shape(ids, it, int(params["max_new_tokens"]))
        except (ShapeError, ValueError, UnicodeDecodeError) as e:
            return Comparison(TEXT_GENERATION, PREFILL, 0, False, {"error": str(e)[:500]})
        positions: list[Position] = []
        first_bad: dict[str, Any] | None = None
        for n, (ids, it) in enumerate(zip(pids, items, strict=True)):
            got = judge_logits(self.logits(ids, it["token_ids"]), it["token_ids"])
            for i, p in enumerate(got):
                if first_bad is None and not p.accepted(margin):
                    first_bad = {"completion": n, "position": i, "claimed": p.claimed}
                    first_bad.update(top=p.top, gap=round(p.gap, 6))
            positions += got
        accepted = sum(p.accepted(margin) for p in positions)
        sim = accepted * BPS // len(positions)
        ties = [p for p in positions if p.tie(margin)]
        details: dict[str, Any] = {
            "positions": len(positions),
            "accepted": accepted,
            "ties": len(ties),
            "tie_margin": margin,
            "max_accepted_gap": max((p.gap for p in positions if p.accepted(margin)), default=0),
        }
        if first_bad is not None:
            details["first_rejected"] = first_bad
        return Comparison(TEXT_GENERATION, PREFILL, sim, first_bad is None, details)


_cache: dict[tuple[str, str], PrefillChecker] = {}
_cache_lock = threading.Lock()


def checker_for(model_hash: str, model_dir: Callable[[], Path], device: str) -> PrefillChecker:
    """A ``PrefillChecker`` per (model hash, device), loaded from ``model_dir()`` (which
    checks every file by hash) on first use."""
    key = (model_hash, device)
    with _cache_lock:
        if key not in _cache:
            _cache.clear()  # one model in memory at a time: the oracle's RAM is the worker's
            _cache[key] = PrefillChecker(model_dir(), device)
        return _cache[key]
