"""Hypothesis settings for the hostile-input properties, scaled by ``scripts/fuzz``.

The test suite runs each property with its own small number of examples;
``scripts/fuzz`` sets ``VCOIN_FUZZ_SCALE`` (say 100) to run the same
properties that many times longer.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings

SCALE = max(1, int(os.environ.get("VCOIN_FUZZ_SCALE", "1")))


def fuzz(examples: int, **kw: Any) -> settings:
    """Settings for a property run ``examples`` times (times the fuzz scale)."""
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        **kw,
    )
