"""The canary driver runs on its ``CanaryDeps`` alone, not on the whole ``Oracle``.

``FakeNode`` answers the few queries a canary's planning makes; the state is read
through the getter on every step, so the state ``Oracle.open`` puts in place after the
driver was built is the one the driver changes.
"""

from __future__ import annotations

import ast
import base64
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chain.crypto import PrivateKey
from oracle.canary_flow import CanaryDeps, CanaryDriver
from oracle.follower import ChainEvent
from oracle.metrics import OracleMetrics
from oracle.state import OracleState, PosterSeen

ORACLE_KEY = PrivateKey(b"\x01" * 32)


class FakeNode:
    """Answers the canary planning queries: a certain post (rate and share at the top)."""

    def query(self, module: str, path: str, params: dict[str, Any] | None = None) -> Any:
        if path == "params":
            return {"canary_rate_bps": 9999}
        if path == "bond":
            return {"bonded": "100"}
        if path == "active_set":
            return {"total_bonded": "100"}
        if (module, path) == ("drip", "dripped"):
            return {"dripped": False}
        assert (module, path) == ("jobs", "job"), (module, path)
        doc = json.dumps({"texts": ["the cat sat on the mat"]}).encode()
        return {
            "id": params["id"] if params else 0,
            "task_type": "embedding",
            "model": "all-minilm-l6-v2",
            "max_price": "5",
            "inline_input": base64.b64encode(doc).decode(),
        }


def test_the_driver_plans_and_prepares_a_canary_through_its_deps_only() -> None:
    holder = {"state": OracleState()}
    saves: list[int] = []
    started: list[tuple[str, int, Callable[[], Any]]] = []
    deps = CanaryDeps(
        enabled=True,
        min_observed=1,
        task_types=("embedding",),
        address=ORACLE_KEY.bech32,
        account=ORACLE_KEY,
        node=FakeNode(),  # type: ignore[arg-type]
        artifacts=None,  # type: ignore[arg-type]  # inline inputs upload nothing
        executor=None,  # type: ignore[arg-type]  # nor read a template's artifact
        rng=random.Random(1),
        metrics=OracleMetrics(),
        state=lambda: holder["state"],
        save=lambda: saves.append(1),
        start_task=lambda kind, key, fn: started.append((kind, key, fn)),
        model_hash=lambda model_id: "ab" * 32,
    )
    driver = CanaryDriver(deps)
    holder["state"] = opened = OracleState(chain_id="c", last_height=9)  # as Oracle.open does
    event = {"job_id": "7", "task_type": "embedding", "poster": "vc1poster"}
    driver.on_posted(ChainEvent("JobPosted", event), 10)
    assert opened.job_mix == [7] and opened.max_job_id == 7
    assert opened.posters == {"vc1poster": PosterSeen(10, 10, 1)}
    assert opened.canaries == {}  # no poster has settled: nothing to imitate yet
    opened.last_height = 10 + deps.settle_blocks  # the poster stayed idle: it has settled
    driver.on_posted(ChainEvent("JobPosted", {**event, "job_id": "8", "poster": "vc1other"}), 11)
    (rec,) = opened.canaries.values()
    assert rec.stage == "planned" and rec.template_job in (7, 8)
    (persona,) = opened.personas.values()
    assert (rec.persona, rec.index, rec.poster) == (persona.persona_id, 0, persona.poster)
    assert persona.target == 1  # the settled poster's job count
    assert driver.start_next() and [(k, n) for k, n, _ in started] == [("canary", rec.local_id)]
    driver.prepared(rec.local_id, "cd" * 32, None)
    assert (rec.stage, rec.expected_output_hash) == ("prepared", "cd" * 32) and saves


def test_canary_flow_does_not_reach_for_the_oracle() -> None:
    src = (Path(__file__).resolve().parents[2] / "oracle" / "canary_flow.py").read_text()
    imported = {
        n.module for n in ast.walk(ast.parse(src)) if isinstance(n, ast.ImportFrom) and n.module
    }
    assert "oracle.daemon" not in imported
