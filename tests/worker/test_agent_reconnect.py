# ruff: noqa: F811 - pytest fixtures imported from agent_env are parameters here
"""The node goes away and comes back: the worker reconnects, catches up, and works on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chain.artifacts import ArtifactClient
from tests.support.genesis import market_genesis
from tests.support.node_market import ALICE, NodeMarket
from tests.support.nodes import free_port, start_vcoind, write_genesis
from tests.support.wait import wait_for
from tests.worker.agent_env import (  # noqa: F401 - fixtures
    AGENT_WINDOWS,
    WorkerProc,
    docker_engine,
    model_entry,
)
from worker.models.artifact import ModelArtifact, publish

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("docker_engine")]

SPEC = json.dumps({"params": {"max_new_tokens": 4}})


def test_the_worker_rides_out_a_node_restart(tmp_path: Path, tiny_lm: ModelArtifact) -> None:
    home = tmp_path / "node"
    write_genesis(
        home,
        market_genesis(
            0, models=[model_entry("tiny-lm", tiny_lm, ["text-generation"])], defaults=AGENT_WINDOWS
        ),
    )
    ports = free_port(), free_port()
    node = start_vcoind(home, *ports)
    w = None
    try:
        with ArtifactClient(node.rest, ALICE) as ac:
            publish(tiny_lm, ac)
        market = NodeMarket(node, node.rest, home / "data" / "artifacts")
        w = WorkerProc(market, tmp_path / "w", "worker1").setup().start()
        first = market.post(spec=SPEC)
        market.wait_state(first, ("submitted", "settled"), 60)

        node.stop(30)
        wait_for("the worker to notice", lambda: w.said("msg", "event stream lost"), 20)
        assert w.alive()

        node = start_vcoind(home, *ports)  # same home, same ports: the same chain resumes
        market = NodeMarket(node, node.rest, home / "data" / "artifacts")
        w.market = market
        second = market.post(spec=SPEC)  # maybe before the worker is back: caught up then
        job = market.wait_state(second, ("submitted", "settled"), 60)
        assert job["worker"] == w.address
        (line,) = [
            x
            for x in w.metrics().splitlines()
            if x.startswith("vcoin_worker_stream_reconnects_total ")
        ]
        assert float(line.split()[-1]) >= 1
        assert w.stop() == 0
    finally:
        if w is not None:
            w.close()
        if node.proc.poll() is None:
            node.stop(30)
