# ruff: noqa: F811 - pytest fixtures imported from agent_env are parameters here
"""The agent across crashes and restarts: no job lost, none paid twice, none missed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.node_market import NodeMarket
from tests.support.wait import wait_for
from tests.worker.agent_env import (  # noqa: F401 - fixtures
    WorkerProc,
    docker_engine,
    market,
    workers,
)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("docker_engine")]

# Long enough that a kill lands mid-run (torch alone takes seconds to load in the container).
LONG = json.dumps({"params": {"max_new_tokens": 256}})
PROMPTS = {"prompts": ["one", "two", "three", "four"]}


def running(w: WorkerProc, job_id: int) -> bool:
    return w.state().get("jobs", {}).get(str(job_id), {}).get("phase") == "running"


def my_containers(w: WorkerProc) -> list[Any]:
    import docker

    root = str((w.home / "data").resolve())
    return [
        c
        for c in docker.from_env().containers.list(all=True, filters={"label": "vcoin.sandbox=job"})
        if any(str(m.get("Source", "")).startswith(root) for m in c.attrs.get("Mounts") or [])
    ]


def assert_paid_once(market: NodeMarket, job_id: int, worker: str) -> None:
    assert len(market.events("ResultSubmitted", job_id)) == 1
    paid = market.events("WorkerPaid", job_id)
    assert [p["worker"] for p in paid] == [worker]


def test_killed_mid_job_and_restarted_the_job_is_finished_once(
    market: NodeMarket, workers: Any
) -> None:
    w = workers("worker1").setup().start()
    job_id = market.post(PROMPTS, spec=LONG)
    wait_for("the job to run", lambda: running(w, job_id), 60, poll=0.05)
    w.kill()  # SIGKILL: no clean-up, the containers are left behind
    assert market.job(job_id)["state"] == "claimed"
    left = {c.id for c in my_containers(w)}

    w.start()
    job = market.wait_state(job_id, ("settled",), 90)
    assert job["worker"] == w.address and job["attempts"] == 0
    assert w.said("msg", f"resuming job {job_id}")
    assert_paid_once(market, job_id, w.address)
    # The restart removed the killed run's containers (the job's, and its idle warm
    # one); a running agent keeps only its own new warm container.
    now = my_containers(w)
    assert not left & {c.id for c in now}
    assert [c.labels.get("vcoin.warm") for c in now] in ([], ["1"])
    assert w.stop() == 0
    assert my_containers(w) == []


def test_a_killed_workers_job_is_requeued_at_its_deadline_and_finished_by_another(
    market: NodeMarket, workers: Any
) -> None:
    w2 = workers("worker2").setup()  # registered and bonded, started once worker1 holds the job
    w1 = workers("worker1").setup().start()
    short = json.dumps({"params": {"max_new_tokens": 32}})
    job_id = market.post(PROMPTS, spec=short, result_blocks=10)
    wait_for("the job to run", lambda: running(w1, job_id), 60, poll=0.05)
    w1.kill()
    w2.start()

    # The chain takes the job back at its result deadline; worker2 sees that in the block.
    job = market.wait_state(job_id, ("settled",), 90)
    assert job["worker"] == w2.address and job["attempts"] == 1
    (requeued,) = market.events("JobRequeued", job_id)
    assert requeued["worker"] == w1.address and "deadline" in requeued["reason"]
    assert_paid_once(market, job_id, w2.address)

    # worker1 comes back: the job is no longer its own, and nothing is sent for it.
    w1.start()
    wait_for("worker1 to drop its stale job", lambda: w1.state().get("jobs") == {}, 20)
    assert not w1.said("msg", f"resuming job {job_id}")
    assert_paid_once(market, job_id, w2.address)
    assert w1.stop() == 0 and w2.stop() == 0


def test_after_a_restart_it_catches_up_on_a_job_posted_while_it_was_down(
    market: NodeMarket, workers: Any
) -> None:
    w = workers("worker3").setup().start()
    assert w.stop() == 0
    handled = w.state()["last_height"]
    job_id = market.post(spec=json.dumps({"params": {"max_new_tokens": 4}}))
    posted = int(market.job(job_id)["posted_height"])
    assert posted > handled

    w.start()
    job = market.wait_state(job_id, ("submitted", "settled"), 60)
    assert job["worker"] == w.address
    assert w.said("msg", "catching up on blocks")
    assert w.state()["last_height"] >= posted
    assert w.stop() == 0


def test_sigterm_gives_a_running_job_back_and_a_restart_finishes_it(
    market: NodeMarket, workers: Any
) -> None:
    w = workers("worker1", shutdown_grace_s=0).setup().start()
    job_id = market.post(PROMPTS, spec=LONG)
    wait_for("the job to run", lambda: running(w, job_id), 60, poll=0.05)
    assert w.stop() == 0  # SIGTERM, no grace: the job goes back to the queue

    job = market.job(job_id)
    assert job["state"] == "queued" and job["attempts"] == 1
    assert job["last_error"] == "the worker shut down; requeued"
    assert w.said("msg", f"giving job {job_id} back")
    assert my_containers(w) == [] and w.state()["jobs"] == {}

    w.start()
    assert market.wait_state(job_id, ("settled",), 90)["worker"] == w.address
    assert_paid_once(market, job_id, w.address)
    assert w.stop() == 0
