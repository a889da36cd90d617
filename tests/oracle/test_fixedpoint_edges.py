"""The oracle's integer similarity at its edges: junk, opposite vectors, other shapes,
half-precision inputs and degenerate means all give the documented integer, never an
exception a worker could provoke and never a similarity it did not earn."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from oracle.fixedpoint import (
    cosine_bps,
    exact_dot,
    geometric_mean_bps,
    ratio_bps,
    rows_cosine_bps,
    sqrt_ratio_bps,
)


@pytest.mark.parametrize("junk", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_values_score_zero(junk: float) -> None:
    good = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    bad = np.array([1.0, junk, 3.0], dtype=np.float32)
    assert cosine_bps(good, bad) == 0 and cosine_bps(bad, good) == 0
    assert cosine_bps(good, good) == 10_000


def test_opposite_orthogonal_and_zero_vectors_score_zero() -> None:
    a = np.array([1.0, 0.0], dtype=np.float32)
    assert cosine_bps(a, -a) == 0
    assert cosine_bps(a, np.array([0.0, 1.0], dtype=np.float32)) == 0
    assert cosine_bps(a, np.zeros(2, dtype=np.float32)) == 0


def test_half_precision_widens_exactly() -> None:
    a = np.array([3.0, 4.0], dtype=np.float16)
    b = np.array([4.0, 3.0], dtype=np.float16)
    assert cosine_bps(a, b) == 9_600  # 24/25, as in float32
    assert exact_dot(a, b) == 24.0


def test_other_shapes_score_zero_and_a_dot_of_other_shapes_is_refused() -> None:
    a = np.ones((2, 3), dtype=np.float32)
    assert cosine_bps(a, np.ones((3, 2), dtype=np.float32)) == 0
    assert rows_cosine_bps(a, np.ones((2, 4), dtype=np.float32)) == [0, 0]
    assert rows_cosine_bps(np.ones(3), np.ones(3)) == [0, 0, 0]  # not a matrix: no row passes
    with pytest.raises(ValueError, match="shapes differ"):
        exact_dot(np.ones(3), np.ones(4))


def test_sqrt_ratio_and_ratio_are_floored_and_capped() -> None:
    assert sqrt_ratio_bps(Fraction(0), Fraction(1)) == 0
    assert sqrt_ratio_bps(Fraction(1), Fraction(0)) == 0
    assert sqrt_ratio_bps(Fraction(-1), Fraction(1)) == 0
    assert sqrt_ratio_bps(Fraction(1, 4), Fraction(1)) == 5_000
    assert sqrt_ratio_bps(Fraction(2), Fraction(1)) == 10_000  # capped
    assert ratio_bps(1, 3) == 3_333 and ratio_bps(2, 3) == 6_666
    assert ratio_bps(5, 4) == 10_000 and ratio_bps(0, 4) == 0 and ratio_bps(1, 0) == 0


@pytest.mark.parametrize(
    ("values", "mean"),
    [
        ([], 0),
        ([0, 10_000], 0),
        ([10_000, 10_000], 10_000),
        ([2_500, 10_000], 5_000),  # sqrt(25,000,000) exactly
        ([9_999, 10_000], 9_999),  # sqrt(99,990,000) = 9999.49…, floored
        ([1, 10_000, 10_000], 464),  # cube root of 10^8 = 464.15…
        ([-5, 20_000], 0),  # clamped to 0..10000 first
    ],
)
def test_geometric_mean_is_the_floor(values: list[int], mean: int) -> None:
    assert geometric_mean_bps(values) == mean
