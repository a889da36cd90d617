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

import threading
from pathlib import Path
from typing import Any

import numpy as np

from oracle.fixedpoint import BPS, cosine_bps, finite
from oracle.similarity import EMBEDDING, Comparison, OracleFault, Policy, _load_tensors

SUBSET = "embedding-row-subset-cosine"


def compare_rows(
    expected_rows: Path, actual: Path, rows: list[int], n: int, policy: Policy
) -> Comparison:
    """The oracle's embeddings of ``rows`` (in that order) against those rows of the
    worker's ``[n, d]`` output. The oracle's own rows not reading back is its fault
    (``OracleFault``: the caller abstains), not the worker's."""
    try:
        exp, _ = _load_tensors(expected_rows)
    except Exception as fault:  # noqa: BLE001
        raise OracleFault(f"its own rows do not read back: {fault}") from fault
    try:
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


class Embedder:
    """The runtime's embedding recipe (``compute.runtime.tasks.embedding``: one text at a
    time, its pooling and normalisation) with the model loaded once: re-embedding one row
    in a fresh sandbox would cost a model load, more than the row itself."""

    def __init__(self, model_dir: Path, device: str = "cpu") -> None:
        from compute.runtime.determinism import prepare_env

        prepare_env()
        import torch
        from transformers import AutoModel, AutoTokenizer

        from compute.runtime.tasks import pooling

        self.device = device
        self.tok = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModel.from_pretrained(model_dir, dtype=torch.float32).to(device).eval()
        self.mode, self.normalize = pooling(model_dir)
        self._lock = threading.Lock()

    def embed(self, texts: list[str], max_length: int) -> np.ndarray[Any, Any]:
        import torch

        rows = []
        with self._lock, torch.no_grad():
            for text in texts:
                enc = self.tok(text, truncation=True, max_length=max_length, return_tensors="pt")
                hidden = self.model(**{k: v.to(self.device) for k, v in enc.items()})
                h = hidden.last_hidden_state[0]
                vec = h[0] if self.mode == "cls" else h.mean(dim=0)
                if self.normalize:
                    vec = torch.nn.functional.normalize(vec, p=2, dim=0)
                rows.append(vec.float().cpu().numpy())
        return np.stack(rows)


_cache: dict[tuple[str, str], Embedder] = {}
_cache_lock = threading.Lock()


def embedder_for(model_hash: str, model_dir: Any, device: str) -> Embedder:
    """An ``Embedder`` per (model hash, device), loaded from ``model_dir()`` (which checks
    every file by hash) on first use; one model in memory at a time."""
    key = (model_hash, device)
    with _cache_lock:
        if key not in _cache:
            _cache.clear()
            _cache[key] = Embedder(model_dir(), device)
        return _cache[key]


def compare_embedded(
    expected: np.ndarray[Any, Any], actual: Path, rows: list[int], n: int, policy: Policy
) -> Comparison:
    """``compare_rows`` with the oracle's rows already in memory."""
    import tempfile

    from safetensors.numpy import save_file

    with tempfile.TemporaryDirectory(prefix="vcoin-subset-") as tmp:
        path = Path(tmp) / "rows.safetensors"
        save_file({"embeddings": np.ascontiguousarray(expected, dtype=np.float32)}, str(path))
        return compare_rows(path, actual, rows, n, policy)
