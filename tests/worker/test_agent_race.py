# ruff: noqa: F811 - pytest fixtures imported from agent_env are parameters here
"""Two workers race for one job: one wins, the other moves on quietly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.node_market import NodeMarket
from tests.support.wait import wait_for
from tests.worker.agent_env import (  # noqa: F401 - fixtures
    docker_engine,
    market,
    workers,
)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("docker_engine")]


def test_two_workers_race_for_one_job_one_wins_the_other_moves_on_quietly(
    market: NodeMarket, workers: Any
) -> None:
    a = workers("worker1").setup().start()
    b = workers("worker2").setup().start()
    job_id = market.post(spec=json.dumps({"params": {"max_new_tokens": 4}}))
    job = market.wait_state(job_id, ("settled",), 60)

    winner, loser = (a, b) if job["worker"] == a.address else (b, a)
    assert job["worker"] == winner.address
    assert len(market.events("JobClaimed", job_id)) == 1
    assert len(market.events("ResultSubmitted", job_id)) == 1

    # Both went for it: the loser heard no from the chain, said so at info, and stayed well.
    wait_for(
        "the loser to hear it lost",
        lambda: loser.said("msg", f"job {job_id} went to another worker first"),
        10,
    )
    lost = [r for r in loser.records() if "went to another worker first" in str(r.get("msg"))]
    assert [r["level"] for r in lost] == ["info"]
    noisy = [r for r in loser.records() if r.get("level") in ("warning", "error", "critical")]
    assert noisy == []
    assert 'vcoin_worker_claims_total{outcome="lost"} 1.0' in loser.metrics()
    assert 'vcoin_worker_claims_total{outcome="won"} 1.0' in winner.metrics()

    # Both are free again: the next job is taken at once.
    nxt = market.post(spec=json.dumps({"params": {"max_new_tokens": 4}}))
    assert market.wait_state(nxt, ("submitted", "settled"), 60)["worker"] in (a.address, b.address)
    assert loser.alive() and winner.alive()
    assert a.stop() == 0 and b.stop() == 0
