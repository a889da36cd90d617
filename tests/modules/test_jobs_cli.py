"""``vcoind tx/query jobs`` and ``verification`` against a real node process: a job
goes from posted to settled through the command line alone."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.nodes import NodeProc, running_node

WEIGHTS = hashlib.sha256(b"cli weights").hexdigest()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProc]:
    with running_node(tmp_path_factory.mktemp("jobs-cli-node")) as n:
        yield n


@pytest.mark.slow
def test_a_job_goes_from_posted_to_settled_through_the_cli(node: NodeProc, tmp_path: Path) -> None:
    quick = '{"challenge_window_blocks": 1, "base_sample_bps": 0, "low_rep_factor_bps": 0}'
    node.ok("tx", "params", "update", "verification", quick, "--from", "platform", "-y")
    node.ok("tx", "jobs", "register-model", "cli-lm", "--task-types", "text-generation",
       "--weights-sha256", WEIGHTS, "--config-sha256", WEIGHTS,
       "--from", "platform", "-y")  # fmt: skip
    assert "cli-lm" in node.ok("query", "jobs", "models")
    node.ok("tx", "staking", "bond", "worker", "1000VCN", "--from", "worker1", "-y")
    node.ok("tx", "jobs", "register-worker", "--models", "cli-lm", "--task-types",
       "text-generation", "--price-floor", "1.5VCN", "--max-concurrent", "2",
       "--from", "worker1", "-y")  # fmt: skip
    out = node.ok("tx", "jobs", "post", "cli-lm", "--task-type", "text-generation",
             "--input", "hello world", "--max-price", "2VCN", "--from", "alice", "-y")  # fmt: skip
    job_id = [ln.split(":")[1].strip() for ln in out.splitlines() if ln.startswith("job_id")][0]
    assert "1 workers could claim it now" in node.ok("query", "jobs", "why", job_id)
    node.ok("tx", "jobs", "claim", job_id, "--from", "worker1", "-y")
    shown = node.ok("query", "jobs", "show", job_id)
    assert "claimed" in shown and "agreed 1.5 VCN" in shown
    output = hashlib.sha256(b"hello world, answered").hexdigest()
    node.ok("tx", "jobs", "submit", job_id, "--output-hash", output, "--compute-units", "42",
       "--image-digest", "sha256:" + "00" * 32, "--from", "worker1", "-y")  # fmt: skip
    deadline = time.monotonic() + 30
    job: dict[str, object] = {}
    while time.monotonic() < deadline:
        job = node.query("jobs", "show", job_id)
        if job["state"] == "settled":
            break
        time.sleep(0.5)
    assert job["state"] == "settled" and job["output_hash"] == output
    assert job["paid"] == str(12 * 10**17)  # 80 % of the 1.5 VCN price
    assert job["refunded"] == str(5 * 10**17)  # the unspent escrow
    listed = node.query("jobs", "list", "--worker", "worker1")
    assert [j["id"] for j in listed["jobs"]] == [job_id]  # type: ignore[index]
    status = node.query("verification", "status", job_id)
    assert status["pending"] is None
    rate = node.ok("query", "verification", "sample-rate", "worker1")
    assert "checked" in rate


@pytest.mark.slow
def test_cli_refusals_name_the_problem(node: NodeProc) -> None:
    r = node.cli("tx", "jobs", "post", "no-such-model", "--task-type", "embedding",
                 "--input", "x", "--max-price", "1VCN", "--from", "bob", "-y")  # fmt: skip
    assert r.returncode == 1 and "not registered" in r.stderr
    r = node.cli("tx", "jobs", "claim", "999999", "--from", "bob", "-y")
    assert r.returncode == 1 and "no job 999999" in r.stderr
    r = node.cli("tx", "verification", "reveal-canary", "1", "--expected-output-hash",
                 "00" * 32, "--salt", "11" * 16, "--from", "bob", "-y")  # fmt: skip
    assert r.returncode == 1 and "--controller KEY is required" in r.stderr
    assert "the key of the job's poster signs the reveal" in r.stderr
    r = node.cli("tx", "verification", "reveal-canary", "1", "--expected-output-hash",
                 "00" * 32, "--salt", "11" * 16, "--controller", "alice", "--from", "bob",
                 "-y")  # fmt: skip
    assert r.returncode == 1 and "not an active oracle" in r.stderr
