# ruff: noqa: F811 - pytest fixtures imported from agent_env are parameters here
"""A worker with no Docker engine: the (less isolated) process sandbox, chosen by config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from compute.runtime.__main__ import run_job
from tests.support.node_market import NodeMarket
from tests.worker.agent_env import market, workers  # noqa: F401 - fixtures
from tests.worker.conftest import _readable
from worker.models.artifact import ModelArtifact

pytestmark = pytest.mark.slow


def test_the_process_sandbox_runs_jobs_and_says_it_is_less_isolated(
    market: NodeMarket, workers: Any, tiny_lm: ModelArtifact, models_dir: Path, tmp_path: Path
) -> None:
    _readable(tmp_path)  # the job runs as an unprivileged uid straight on these folders
    w = workers("worker3", sandbox="process").setup().start()
    assert "LESS ISOLATED" in w.log_text()
    prompts = {"prompts": ["process sandbox"]}
    job_id = market.post(prompts, spec=json.dumps({"params": {"max_new_tokens": 6}}))
    job = market.wait_state(job_id, ("submitted", "settled"), 90)
    assert job["worker"] == w.address
    assert job["receipt"]["image_digest"].startswith("process:vcoin-worker:")

    spec = {
        "version": 1,
        "task": "text-generation",
        "model": tiny_lm.digest,
        "input": {"inline": prompts},
        "params": {"max_new_tokens": 6},
    }
    (tmp_path / "job.json").write_text(json.dumps(spec))
    local = run_job(tmp_path / "job.json", tmp_path, models_dir, tmp_path / "local")
    assert job["output_hash"] == local["output_hash"]
    assert w.stop() == 0
