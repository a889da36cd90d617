"""The oracle's pass/fail at the similarity threshold, to the basis point.

Vectors with a cosine known in closed form (integer coordinates, so float32
holds them exactly) land exactly on the threshold, one basis point under it and
one over it. A result at the threshold passes: the chain takes a pass at
``similarity_bps ≥ similarity_threshold_bps`` (``tests/modules/test_rule_boundaries.py``),
and the oracle must not fail a result the chain would pass.

Cosines against e = (1, 0, 0, 0, 0), worked out by hand (bps = floor(10000·cos)):

* (19, 5, 3, 2, 1): |a|² = 361 + 25 + 9 + 4 + 1 = 400, cos = 19/20 = 0.95 → 9500
* (100, 31, 11, 0, 0): |a|² = 11 082, cos² = 10 000/11 082 = 0.902364…,
  cos = 0.949928… → 9499
* (100, 20, 26, 0, 0): |a|² = 11 076, cos² = 10 000/11 076 = 0.902853…,
  cos = 0.950186… → 9501
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from oracle.similarity import Policy, compare

THRESHOLD = 9_500
POLICY = Policy(threshold_bps=THRESHOLD)
REFERENCE = [1, 0, 0, 0, 0]
CASES = [
    ("at the threshold", [19, 5, 3, 2, 1], 9_500, True),
    ("one under", [100, 31, 11, 0, 0], 9_499, False),
    ("one over", [100, 20, 26, 0, 0], 9_501, True),
]


def tensors(path: Path, name: str, rows: list[list[int]]) -> Path:
    save_file({name: np.array(rows, dtype=np.float32)}, str(path))
    return path


@pytest.mark.parametrize(("case", "row", "bps", "passed"), CASES, ids=[c[0] for c in CASES])
def test_embedding_passes_from_exactly_the_threshold(
    tmp_path: Path, case: str, row: list[int], bps: int, passed: bool
) -> None:
    # Two rows: the other one identical, so the minimum over rows is the row under test.
    ours = tensors(tmp_path / "oracle.st", "embeddings", [REFERENCE, [3, 1, 4, 1, 5]])
    theirs = tensors(tmp_path / "worker.st", "embeddings", [row, [3, 1, 4, 1, 5]])
    c = compare("embedding", ours, theirs, POLICY)
    assert (c.similarity_bps, c.passed, c.verdict) == (bps, passed, "pass" if passed else "fail")
    assert c.details["rows_bps"] == [bps, 10_000]


@pytest.mark.parametrize(("case", "row", "bps", "passed"), CASES, ids=[c[0] for c in CASES])
def test_lora_weight_cosine_passes_from_exactly_the_threshold(
    tmp_path: Path, case: str, row: list[int], bps: int, passed: bool
) -> None:
    # No loss evaluator: the verdict is the weight cosine's (the minimum over tensors).
    ours = {"a": np.array([REFERENCE], dtype=np.float32), "b": np.ones((2, 2), np.float32)}
    theirs = {"a": np.array([row], dtype=np.float32), "b": np.ones((2, 2), np.float32)}
    save_file(ours, str(tmp_path / "oracle.st"))
    save_file(theirs, str(tmp_path / "worker.st"))
    c = compare("lora-train", tmp_path / "oracle.st", tmp_path / "worker.st", POLICY)
    assert (c.similarity_bps, c.passed) == (bps, passed)
    assert c.details["tensors_bps"] == {"a": bps, "b": 10_000}
