"""The planting daemon across crashes, and on a job another worker took (``oracle.plant``).

Two honest oracles of equal stake (both needed for a quorum); the planter plants every
job its worker takes (``plant_rate_bps`` 100 %, no seasoning). A daemon is "crashed" by
dropping it and putting back ``plants.json`` as it was at an earlier step, then
starting a new one on the same home.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from chain.client import ChainRefused
from oracle import canary
from oracle.daemon import Oracle
from oracle.plant import STATE_FILE, Planter
from tests.oracle._node import ORACLE2, POSTER, WORKER, Net, Scripted, bond_oracle, market_node
from tests.oracle._node import post_job as post
from tests.oracle.conftest import Models
from tests.oracle.test_daemon import make_oracle
from tests.support.chain import test_key

PARAMS = {
    "base_sample_bps": 10_000,
    "max_sample_bps": 10_000,
    "attest_window_blocks": 15,
    "plant_rate_bps": 10_000,
}
PLANTER, HONEST = test_key(5), ORACLE2


def daemon(net: Net, home: Path, signer: SigningKey) -> Oracle:
    """A planting daemon on ``home`` (a restart when the home has state already)."""
    oracle = make_oracle(
        net,
        home,
        PLANTER,
        signer,
        cheap_checks=True,
        plant=True,
        plant_season_jobs=0,
        plant_wait_blocks=2,
    )
    oracle.planter = Planter(replace(oracle.plant_deps(), rng=random.Random(1)), home)
    oracle.open()
    return oracle


def planter(oracle: Oracle) -> Planter:
    assert oracle.planter is not None
    return oracle.planter


def events(net: Net, query: str, kind: str) -> list[dict[str, str]]:
    res = net.client.tx_search(query, per_page=100)
    return [
        {a["key"]: a["value"] for a in e["attributes"]}
        for t in res.get("txs") or []
        for e in t["tx_result"].get("events") or []
        if e["type"] == kind
    ]


def revealed(oracle: Oracle) -> float:
    got = oracle.metrics.registry.get_sample_value(
        "vcoin_oracle_plants_total", {"event": "revealed"}
    )
    return float(got or 0.0)


def start(net: Net, home: Path) -> tuple[Oracle, Oracle, SigningKey]:
    """The planter and the honest oracle, the plant worker bonded."""
    signer, honest_key = SigningKey.generate(), SigningKey.generate()
    bond_oracle(net, PLANTER, bytes(signer.verify_key))
    bond_oracle(net, HONEST, bytes(honest_key.verify_key))
    honest = make_oracle(net, home / "honest", HONEST, honest_key, cheap_checks=True)
    honest.open()
    p = daemon(net, home / "planter", signer)

    def bonded() -> bool:
        k = planter(p).current()
        return k is not None and k.stage == "bonded"

    net.wait_for(bonded, timeout=30, step=p.step)
    return p, honest, signer


def run_until_ran(net: Net, p: Oracle, honest: Oracle, job: int) -> None:
    """Step the planter without its chain steps (``Planter.act``): its worker has run
    the job locally and knows E, and nothing of the plant is on chain yet."""

    def partial() -> None:
        p.follow()
        p.collect()
        p.dispatch()
        honest.step()

    net.wait_for(lambda: planter(p).jobs.get(job) and planter(p).jobs[job].stage == "ran",
                 timeout=30, step=partial)  # fmt: skip


def test_a_crash_between_commit_and_reveal_still_reveals_once(
    tmp_path: Path, models: Models
) -> None:
    with market_node(tmp_path / "node", models, **PARAMS) as net:
        p, honest, signer = start(net, tmp_path)
        home = tmp_path / "planter"
        job = post(net, POSTER, {"prompts": ["Plant this one"]})
        run_until_ran(net, p, honest, job)
        at_ran = (home / STATE_FILE).read_bytes()
        # one loop commits, claims and submits the wrong result
        net.wait_for(lambda: planter(p).jobs[job].stage == "submitted", timeout=30, step=p.step)
        assert planter(p).jobs[job].planted
        at_submitted = (home / STATE_FILE).read_bytes()
        worker = planter(p).keys[planter(p).jobs[job].key_id].address
        assert net.job(job)["worker"] == worker

        # crash: the state file lost everything after the local run; a new daemon starts
        (home / STATE_FILE).write_bytes(at_ran)
        p2 = daemon(net, home, signer)

        def step2() -> None:
            p2.step()
            honest.step()

        net.wait_for(lambda: planter(p2).jobs[job].stage == "done", timeout=60, step=step2)
        assert net.job(job)["state"] == "rejected"
        assert planter(p2).jobs[job].outcome == "revealed: 0 oracle(s) caught"
        assert revealed(p2) == 1.0
        # one commitment, one claim, one submission, one reveal: nothing was sent twice
        mine = events(net, f"CanaryCommitted.oracle='{PLANTER.bech32}'", "CanaryCommitted")
        assert len(mine) == 1
        assert len(events(net, f"JobClaimed.job_id='{job}'", "JobClaimed")) == 1
        assert len(events(net, f"ResultSubmitted.job_id='{job}'", "ResultSubmitted")) == 1
        assert len(events(net, f"PlantRevealed.job_id='{job}'", "PlantRevealed")) == 1

        # crash after the reveal's tx, before its state write: no second reveal
        (home / STATE_FILE).write_bytes(at_submitted)
        p3 = daemon(net, home, signer)
        net.wait_for(lambda: planter(p3).jobs[job].stage == "done", timeout=30, step=p3.step)
        assert planter(p3).jobs[job].outcome == "revealed before a restart, or expired"
        assert revealed(p3) == 0.0
        assert len(events(net, f"PlantRevealed.job_id='{job}'", "PlantRevealed")) == 1
        mine = events(net, f"CanaryCommitted.oracle='{PLANTER.bech32}'", "CanaryCommitted")
        assert len(mine) == 1


def test_a_crash_during_the_local_run_takes_the_job_again(tmp_path: Path, models: Models) -> None:
    with market_node(tmp_path / "node", models, **PARAMS) as net:
        p, honest, signer = start(net, tmp_path)
        home = tmp_path / "planter"
        job = post(net, POSTER, {"prompts": ["Crash while running me"]})

        def partial() -> None:
            p.follow()
            p.dispatch()  # the local run starts and is never collected: the daemon dies
            honest.step()

        net.wait_for(lambda: job in planter(p).jobs, timeout=30, step=partial)
        assert planter(p).jobs[job].stage == "open"
        p2 = daemon(net, home, signer)  # the same home: plants.json says the run was open

        def step2() -> None:
            p2.step()
            honest.step()

        net.wait_for(lambda: planter(p2).jobs.get(job) and planter(p2).jobs[job].stage == "done",
                     timeout=60, step=step2)  # fmt: skip
        assert planter(p2).jobs[job].outcome == "revealed: 0 oracle(s) caught"
        assert len(events(net, f"PlantRevealed.job_id='{job}'", "PlantRevealed")) == 1


def test_a_plant_never_lands_on_another_workers_job(tmp_path: Path, models: Models) -> None:
    with market_node(tmp_path / "node", models, **PARAMS) as net:
        p, honest, _ = start(net, tmp_path)
        other = Scripted(net, WORKER, models, tmp_path / "work")
        other.register()
        job = post(net, POSTER, {"prompts": ["Someone else's job"]})
        run_until_ran(net, p, honest, job)
        j = planter(p).jobs[job]
        key = planter(p).worker_key(planter(p).keys[j.key_id])
        # the commitment lands, then another worker claims the job before the planter's does
        assert planter(p).commit(j, planter(p).keys[j.key_id])
        other.work_on(job)  # the right answer: E

        def step() -> None:
            p.step()
            honest.step()

        net.wait_for(lambda: planter(p).jobs[job].stage == "done", timeout=30, step=step)
        assert planter(p).jobs[job].outcome == "missed: another worker claimed it first"
        net.wait_for(lambda: net.job(job)["state"] == "settled", timeout=60, step=step)
        assert net.job(job)["worker"] == WORKER.bech32
        assert events(net, f"PlantRevealed.job_id='{job}'", "PlantRevealed") == []
        made = p.metrics.registry.get_sample_value("vcoin_oracle_plants_total", {"event": "made"})
        assert not made
        # nor can it be revealed by hand: the chain takes a plant reveal only when signed by
        # the job's worker, and the plant worker's key is not that worker's
        reveal = canary.reveal_msg(
            PLANTER.bech32, job, j.expected, j.salt, key, net.client.chain_id(), planted=True
        )
        with pytest.raises(ChainRefused) as refused:
            net.client.send_tx(PLANTER, [reveal], gas="auto")
        assert (refused.value.codespace, refused.value.code) == ("verification", 16)
        assert "controller_signature does not verify" in refused.value.log
