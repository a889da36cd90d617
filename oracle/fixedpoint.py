"""Similarity in basis points (0..10000), the same integer on every machine.

An attestation carries ``similarity_bps``; two honest oracles comparing the
same two files must send the same number, so nothing here may depend on the
BLAS library, the CPU's vector width or the summation order:

* ``exact_dot``: float32 values are widened to float64, where the product of
  two float32s is exact (24-bit mantissas: at most 48 bits), and the products
  are added with ``math.fsum``, which returns the correctly rounded sum. The
  result is a pure function of the input bits.
* ``cosine_bps``: ``floor(10000 · dot / sqrt(|a|² · |b|²))`` with exact rational
  arithmetic on those float64 values (``Fraction``) and an integer square root,
  so the rounding is always down and never off by one at a boundary.

Negative cosines count as 0 (opposite is as dissimilar as it gets); NaN or
infinite values give 0, so a worker cannot dodge the metric with junk.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import numpy as np

BPS = 10_000


def _f64(a: Any) -> np.ndarray[Any, Any]:
    arr = np.asarray(a)
    if arr.dtype not in (np.float32, np.float64):
        # float16 and bfloat16 (read as float32 by the loaders) widen exactly.
        arr = arr.astype(np.float32)
    return arr.astype(np.float64).ravel()


def finite(a: Any) -> bool:
    return bool(np.all(np.isfinite(np.asarray(a, dtype=np.float64))))


def exact_dot(a: Any, b: Any) -> float:
    """sum(a·b), correctly rounded; exact products for float32 inputs."""
    x, y = _f64(a), _f64(b)
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: {x.shape} vs {y.shape}")
    return math.fsum((x * y).tolist())


def sqrt_ratio_bps(num: Fraction, den: Fraction) -> int:
    """floor(10000 · sqrt(num / den)) for num ≥ 0, den > 0, capped at 10000."""
    if num <= 0 or den <= 0:
        return 0
    x = num * BPS * BPS / den
    return min(BPS, math.isqrt(math.floor(x)))


def cosine_from_dots(dot: float, aa: float, bb: float) -> int:
    """Cosine in bps from the three dot products (floor; ≤ 0 → 0)."""
    if not all(math.isfinite(v) for v in (dot, aa, bb)) or dot <= 0 or aa <= 0 or bb <= 0:
        return 0
    d = Fraction(dot)
    # cos = dot / sqrt(aa·bb) = sqrt(dot² / (aa·bb)) since dot > 0
    return sqrt_ratio_bps(d * d, Fraction(aa) * Fraction(bb))


def cosine_bps(a: Any, b: Any) -> int:
    """Cosine similarity of two same-shaped tensors, flattened, in bps."""
    if np.asarray(a).shape != np.asarray(b).shape or not (finite(a) and finite(b)):
        return 0
    return cosine_from_dots(exact_dot(a, b), exact_dot(a, a), exact_dot(b, b))


def rows_cosine_bps(a: Any, b: Any) -> list[int]:
    """Cosine of each row of two [n, d] matrices (0 for every row if the shapes differ)."""
    x, y = np.asarray(a), np.asarray(b)
    if x.shape != y.shape or x.ndim != 2:
        return [0] * max(1, x.shape[0] if x.ndim else 1)
    return [cosine_bps(x[i], y[i]) for i in range(x.shape[0])]


def geometric_mean_bps(values: Iterable[int]) -> int:
    """floor of the geometric mean of bps values (integers in, integer out)."""
    vals = [max(0, min(BPS, int(v))) for v in values]
    if not vals:
        return 0
    if any(v == 0 for v in vals):
        return 0
    prod = math.prod(vals)
    n = len(vals)
    # largest k with k^n ≤ prod
    k = int(round(prod ** (1.0 / n)))
    while k**n > prod:
        k -= 1
    while (k + 1) ** n <= prod:
        k += 1
    return min(BPS, k)


def ratio_bps(num: int, den: int) -> int:
    """floor(10000 · num / den) for integers, capped to 0..10000."""
    if den <= 0 or num <= 0:
        return 0
    return min(BPS, num * BPS // den)
