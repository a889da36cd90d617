"""Marketplace genesis documents for tests.

* ``market_genesis(n_accounts, models=..., defaults=..., merge=False, **params)``: the
  devnet genesis with ``test_key(0..n_accounts-1)`` funded, models registered and each
  module's params set: ``defaults`` first, then the test's own ``params`` (per module,
  e.g. ``verification={"base_sample_bps": 0}``). Without ``merge`` those replace the
  devnet's params of that module; with it they go on top of them.

  Called bare it is the genesis of the in-process tests (``tests/support/market.py``):
  40 funded test keys, ``TEST_MODELS`` under made-up hashes, and ``SHORT_WINDOWS``. The
  process-level tests pass their own: ``tests/worker/agent_env.py`` (the models it
  publishes, ``AGENT_WINDOWS``), ``tests/e2e/market.py`` (the devnet's models and params,
  ``E2E_GENESIS``) and ``tests/oracle/_node.py``.
* ``model_record(...)``: one jobs-genesis model entry.
* ``TEST_MODELS``, ``weights_of(model)``: the in-process tests' models and their
  weights hashes (what a test worker's receipt names).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from tests.support.chain import make_genesis


def h32(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def model_record(
    model_id: str,
    task_types: Sequence[str],
    weights_sha256: str,
    config_sha256: str,
    *,
    min_gpu_memory_mib: int = 0,
    description: str = "",
) -> dict[str, Any]:
    """A jobs-genesis model entry."""
    return {
        "id": model_id,
        "task_types": list(task_types),
        "weights_sha256": weights_sha256,
        "config_sha256": config_sha256,
        "min_gpu_memory_mib": min_gpu_memory_mib,
        "registered_height": 0,
        "description": description,
    }


# id: (task types, min GPU memory in MiB)
MODELS = {
    "tiny-lm": (("text-generation",), 0),
    "minilm": (("embedding",), 0),
    "big-lm": (("text-generation",), 40_000),
    "tiny-lora": (("lora-train",), 8_000),
}


def weights_of(model: str) -> bytes:
    return h32("weights:" + model)


TEST_MODELS = [
    model_record(m, types, weights_of(m).hex(), h32("config:" + m).hex(), min_gpu_memory_mib=mem)
    for m, (types, mem) in sorted(MODELS.items())
]

# Short windows keep the in-process tests fast; each test overrides what it exercises.
SHORT_WINDOWS: dict[str, dict[str, Any]] = {
    "jobs": {"default_claim_blocks": 50, "default_result_blocks": 10},
    "verification": {"challenge_window_blocks": 3, "attest_window_blocks": 10},
    "staking": {"jail_blocks": 20, "unbonding_blocks": 10},
}


def market_genesis(
    n_accounts: int = 40,
    *,
    models: Sequence[dict[str, Any]] | None = TEST_MODELS,
    defaults: Mapping[str, Mapping[str, Any]] = SHORT_WINDOWS,
    merge: bool = False,
    **params: dict[str, Any],
) -> dict[str, Any]:
    """See the module docstring; ``models`` None keeps the devnet's models."""
    doc = make_genesis(n_accounts)
    st = doc["app_state"]
    if models is not None:
        st.setdefault("jobs", {})["models"] = copy.deepcopy(list(models))
    for module in sorted(set(defaults) | set(params)):
        state = st.setdefault(module, {})
        old = state.get("params", {}) if merge else {}
        state["params"] = {**old, **defaults.get(module, {}), **params.get(module, {})}
    return doc
