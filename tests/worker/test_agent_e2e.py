# ruff: noqa: F811 - pytest fixtures imported from agent_env are parameters here
"""The worker agent end to end: a real node, real ``vcoin-worker`` processes, jobs in Docker."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from chain.artifacts import ArtifactClient
from compute.runtime.__main__ import run_job
from modules.jobs import receipt
from tests.support.node_market import ALICE, PRICE, NodeMarket
from tests.support.wait import wait_for
from tests.worker.agent_env import (  # noqa: F401 - fixtures
    FLOOR,
    docker_engine,
    market,
    workers,
)
from worker.models.artifact import ModelArtifact

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("docker_engine")]

GOOD_SPEC = json.dumps({"params": {"max_new_tokens": 8}})


def test_posted_job_runs_in_a_container_and_its_hash_lands_on_chain(
    market: NodeMarket, workers: Any, tiny_lm: ModelArtifact, models_dir: Path, tmp_path: Path
) -> None:
    w = workers("worker1").setup().start()
    prompts = {"prompts": ["Hello world", "The GPU market"]}
    job_id = market.post(prompts, spec=GOOD_SPEC)

    job = market.wait_state(job_id, ("settled",), 90)
    assert job["worker"] == w.address

    # The same job run locally by the runtime, in this process, gives the same hash.
    spec = {
        "version": 1,
        "task": "text-generation",
        "model": tiny_lm.digest,
        "input": {"inline": prompts},
        "params": {"max_new_tokens": 8},
    }
    (tmp_path / "job.json").write_text(json.dumps(spec))
    local = run_job(tmp_path / "job.json", tmp_path, models_dir, tmp_path / "local")
    assert job["output_hash"] == local["output_hash"]

    # It ran in the worker image, and the receipt names that image and the chain's hashes.
    rec = job["receipt"]
    import docker

    from worker.image.build import image_tag

    assert rec["image_digest"] == docker.from_env().images.get(image_tag()).id
    assert rec["model_hash"] == tiny_lm.digest and rec["input_hash"] == job["input_hash"]
    pub = bytes.fromhex(market.client.account(w.address).pub_key or "")  # type: ignore[union-attr]
    assert pub == b"" or receipt.verify(
        pub,
        bytes.fromhex(rec["signature"]),
        market.client.chain_id(),
        job_id,
        rec["image_digest"],
        bytes.fromhex(rec["model_hash"]),
        bytes.fromhex(rec["input_hash"]),
        bytes.fromhex(rec["output_hash"]),
    )

    # The output is in the artifact store under the result hash.
    with ArtifactClient(market.artifacts, ALICE) as ac:
        out = json.loads(ac.download_bytes(job["artifact_ref"]))
    assert job["artifact_ref"] == job["output_hash"]
    assert [c["prompt"] for c in out["completions"]] == prompts["prompts"]

    # Paid once, at the worker's price.
    paid = market.events("WorkerPaid", job_id)
    assert len(paid) == 1 and paid[0]["worker"] == w.address
    assert job["price"] == str(FLOOR) and paid[0]["amount"] == f"{FLOOR * 8 // 10}avcn"
    assert int(job["paid"]) == FLOOR * 8 // 10 and int(job["refunded"]) == PRICE - FLOOR

    # What the operator sees: a claim within milliseconds of the event, metrics, heartbeats.
    claim = next(
        r for r in w.records() if str(r.get("msg", "")).startswith(f"claiming job {job_id}")
    )
    assert "ms after its event" in claim["msg"]
    text = w.metrics()
    assert 'vcoin_worker_claims_total{outcome="won"} 1.0' in text
    assert 'vcoin_worker_jobs_total{result="submitted"} 1.0' in text
    assert "vcoin_worker_event_to_claim_seconds_count 1.0" in text
    wait_for(
        "a heartbeat",
        lambda: 'vcoin_worker_heartbeats_total{result="ok"}' in w.metrics(),
        20,
    )
    score = market.client.query("reputation", "score", {"address": w.address})
    assert score["uptime_bps"] == 10_000 and score["has_history"]
    status = json.loads(w.cli("status", "-o", "json").stdout)
    assert status["bond"]["active"] and status["registered"]["models"] == [
        "bad-lm",
        "ghost-lm",
        "tiny-lm",
    ]
    assert status["local"]["last_height"] >= int(job["finished_height"])

    # Every tx the agent sent fit its fixed gas limit with room to spare (the CLI's
    # register and stake simulate their gas instead).
    sent = market.client.tx_search(f"message.sender='{w.address}'", per_page=100)["txs"]
    by_kind = {t["tx_result"]["events"][-1]["type"]: t["tx_result"] for t in sent}
    for kind in ("JobClaimed", "ResultSubmitted", "Heartbeat"):
        r = by_kind[kind]
        assert r["code"] == 0 and int(r["gas_used"]) <= 0.7 * int(r["gas_wanted"]), (kind, r)

    assert w.stop() == 0
    assert w.said("msg", "stopped")
    errors = [r for r in w.records() if r.get("level") in ("error", "critical")]
    assert errors == []


def _job_containers(home: Path, warm_only: bool = False) -> list[Any]:
    """The engine's job containers (any state) with a folder of this worker home mounted."""
    import docker

    label = ["vcoin.sandbox=job"] + (["vcoin.warm=1"] if warm_only else [])
    root = str(home.resolve())
    client = docker.from_env()
    try:
        found = client.containers.list(all=True, filters={"label": label})
    finally:
        client.close()
    return [c for c in found if any(m["Source"].startswith(root) for m in c.attrs["Mounts"])]


@pytest.mark.parametrize("warm_pool", [True, False], ids=["warm-pool", "no-warm-pool"])
def test_the_warm_pool_takes_the_next_job_and_stop_leaves_no_container(
    market: NodeMarket, workers: Any, tiny_lm: ModelArtifact, models_dir: Path, warm_pool: bool
) -> None:
    w = workers("worker2", warm_pool=warm_pool).setup().start()
    if warm_pool:
        wait_for("a warm job container", lambda: len(_job_containers(w.home, True)) == 1, 60)
        (first,) = _job_containers(w.home, True)
    job_id = market.post({"prompts": ["Hello world"]}, spec=GOOD_SPEC)
    job = market.wait_state(job_id, ("submitted", "settled"), 90)
    assert job["worker"] == w.address
    kind = "warm" if warm_pool else "new"
    assert w.said("msg", f"job {job_id} ran in a {kind} container"), w.log_text()[-3000:]
    if warm_pool:
        # One job per container: the next warm one is a new container.
        wait_for("the next warm container", lambda: len(_job_containers(w.home, True)) == 1, 60)
        assert _job_containers(w.home, True)[0].id != first.id
    else:
        assert _job_containers(w.home, True) == []
    assert w.stop() == 0
    assert _job_containers(w.home) == []


@pytest.mark.parametrize(
    ("model", "spec", "code"),
    [
        ("tiny-lm", json.dumps({"params": {"max_new_tokens": "lots"}}), "bad_job_spec"),
        ("tiny-lm", json.dumps({"steps": 3}), "bad_job_spec"),
        ("ghost-lm", "", "model_not_found"),
        ("bad-lm", "", "model_hash_mismatch"),
        ("tiny-lm", "missing-input", "input_not_found"),
    ],
    ids=[
        "bad-param",
        "unknown-spec-key",
        "weights-not-in-store",
        "weights-hash-mismatch",
        "input-not-in-store",
    ],
)
def test_a_job_that_cannot_run_fails_on_chain_and_the_worker_lives_on(
    market: NodeMarket, workers: Any, model: str, spec: str, code: str
) -> None:
    w = workers("worker2").setup().start()
    alice_before = market.client.balance(ALICE.bech32)
    if spec == "missing-input":
        bad = market.post(model=model, input_hash=hashlib.sha256(b"never uploaded").hexdigest())
    else:
        bad = market.post(model=model, spec=spec)
    job = market.wait_state(bad, ("failed",), 60)
    assert job["worker"] == w.address
    assert job["last_error"].startswith(code + ":"), job["last_error"]
    (failed,) = market.events("JobFailed", bad)
    assert failed["reason"] == job["last_error"] and failed["worker"] == w.address
    assert int(job["refunded"]) == PRICE and int(job["paid"]) == 0
    (release,) = market.client.tx_search(f"JobFailed.job_id={bad}")["txs"]
    r = release["tx_result"]
    assert int(r["gas_used"]) <= 0.7 * int(r["gas_wanted"]), r
    # The poster got its escrow back: only the post's fee is gone.
    assert market.client.balance(ALICE.bech32) > alice_before - PRICE

    # The worker is still there and still works (this time on an input from the store).
    assert w.alive()
    with ArtifactClient(market.artifacts, ALICE) as ac:
        digest = ac.upload_bytes(json.dumps({"prompts": [f"after {code}"]}).encode())
    ok = market.post(spec=GOOD_SPEC, input_hash=digest)
    done = market.wait_state(ok, ("submitted", "settled"), 60)
    assert done["worker"] == w.address and done["receipt"]["input_hash"] == digest
    assert w.stop() == 0


def test_a_job_at_the_size_limits_is_claimed_and_run(market: NodeMarket, workers: Any) -> None:
    # 4 KiB of inline input and 4 KiB of spec: a large record to claim and submit for,
    # which may need more than the agent's fixed gas limits (it then measures and resends).
    params = market.client.query("jobs", "params")
    limit_in, limit_spec = int(params["max_inline_input_bytes"]), int(params["max_spec_bytes"])
    prompts: list[str] = []
    while len(json.dumps({"prompts": [*prompts, "p" * 12]})) <= limit_in:
        prompts.append("p" * 12)
    head = json.dumps({"params": {"max_new_tokens": 1}})
    spec = head[:-1] + " " * (limit_spec - len(head)) + "}"
    assert len(spec) == limit_spec and len(json.dumps({"prompts": prompts})) > limit_in - 16

    w = workers("worker3").setup().start()
    job_id = market.post({"prompts": prompts}, spec=spec)
    job = market.wait_state(job_id, ("submitted", "settled"), 60)
    assert job["worker"] == w.address
    assert w.stop() == 0


def test_a_job_over_the_memory_limit_fails_as_out_of_memory(
    market: NodeMarket, workers: Any
) -> None:
    # torch alone needs more than 64 MiB: the runtime is killed while it loads
    w = workers("worker3", job_memory_mib=64).setup().start()
    job_id = market.post(spec=GOOD_SPEC)
    job = market.wait_state(job_id, ("failed",), 60)
    assert job["worker"] == w.address
    assert job["last_error"].startswith("out_of_memory: "), job["last_error"]
    assert int(job["refunded"]) == PRICE
    assert w.alive()
    assert 'vcoin_worker_job_failures_total{code="out_of_memory"} 1.0' in w.metrics()
    assert w.stop() == 0
