"""Embeddings checked on a random subset of rows: re-embed ``k`` of ``n`` texts.

The runtime embeds one text at a time (no padding across texts), so row ``i``
of a result depends on text ``i`` alone: re-embedding a few texts in the same
sandbox and runtime gives exactly the rows a full re-execution would, at
``k/n`` of its cost. Which rows is drawn from the hash of the block that
picked the result for checking (``modules.verification.keeper.subset_rows``),
a block that did not exist when the worker submitted, so a worker cannot fake
the rows it expects to go unchecked.

The worker's whole output is still checked for shape (``[n, d]``, the model's
width, every value finite): only the row *values* are sampled. Each chosen row
is compared by cosine (``fixedpoint``), as the full check does; the similarity
is the minimum over the chosen rows.

Error rates: an honest result passes exactly when the full check would on
those rows (device float noise moves a cosine by ~1e-6). A result with ``m``
of ``n`` rows faked is caught with probability ``1 − C(n−m, k)/C(n, k)``, at
least ``m/n`` (exactly that at ``k = 1``): the share of the work the fake saved.
A whole-output fake (random, replayed, another model) is always caught.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from oracle.fixedpoint import BPS, cosine_bps, finite
from oracle.similarity import EMBEDDING, Comparison, Policy, _load_tensors

SUBSET = "embedding-row-subset-cosine"


def compare_rows(
    expected_rows: Path, actual: Path, rows: list[int], n: int, policy: Policy
) -> Comparison:
    """The oracle's embeddings of ``rows`` (in that order) against those rows of the
    worker's ``[n, d]`` output."""
    try:
        exp, _ = _load_tensors(expected_rows)
        act, _ = _load_tensors(actual)
        if "embeddings" not in act:
            raise ValueError("the output has no 'embeddings' tensor")
    except ValueError as err:
        return Comparison(EMBEDDING, "unreadable", 0, False, {"error": str(err)[:500]})
    e, a = np.asarray(exp["embeddings"]), np.asarray(act["embeddings"])
    due = (n, e.shape[1])
    if a.shape != due or e.shape[0] != len(rows):
        return Comparison(EMBEDDING, SUBSET, 0, False, {"error": f"shape {a.shape}, due {due}"})
    if not finite(a):
        return Comparison(EMBEDDING, SUBSET, 0, False, {"error": "non-finite values"})
    per = {i: cosine_bps(e[j], a[i]) for j, i in enumerate(rows)}
    sim = min(per.values()) if per else BPS
    details: dict[str, Any] = {"rows": n, "checked_rows": rows, "rows_bps": per}
    return Comparison(EMBEDDING, SUBSET, sim, sim >= policy.threshold_bps, details)
