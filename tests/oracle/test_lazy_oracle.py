"""A lazy oracle, run as a real daemon against a node in this process, is caught by a
plant at the first one it attests; an honest daemon beside it is untouched.

The lazy variant is the real ``Oracle`` whose executor copies the worker's output hash
and attests a pass without running anything. The test plays the planter: it knows the
plant's right answer (it runs the job itself), commits to it before the claim, has its
own worker submit a wrong output, and reveals once the result has its verdict.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from modules.verification import msgs as vm
from oracle import canary
from oracle.daemon import Oracle
from oracle.executor import Checked, Executor
from oracle.similarity import Comparison, Policy
from tests.oracle._node import (
    ORACLE1,
    ORACLE2,
    POSTER,
    WORKER,
    Net,
    Scripted,
    bond_oracle,
    market_node,
    post_job,
)
from tests.oracle.conftest import Models
from tests.oracle.test_daemon import CountingRunner, make_oracle
from tests.support.chain import test_key

# every result is checked; a short attest window so a split vote settles in seconds
PARAMS = {"base_sample_bps": 10_000, "max_sample_bps": 10_000, "attest_window_blocks": 15}
PLANT_WORKER, PLANTER = test_key(4), test_key(5)
LAZY, HONEST = ORACLE1, ORACLE2
SALT = "5a" * 16


class CopyingExecutor(Executor):
    """Passes every result as the worker's own hash says: never fetches or runs it."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.copied: list[int] = []

    def check(self, job: dict[str, Any], model_hash: str, policy: Policy) -> Checked:
        self.copied.append(int(job["id"]))
        cmp = Comparison(job["task_type"], "copied-worker-hash", 10_000, True, {})
        return Checked(cmp, None, str(job["output_hash"]))


def lazy_oracle(net: Net, home: Path, signer: SigningKey) -> tuple[Oracle, CountingRunner]:
    runner = CountingRunner()
    oracle = make_oracle(net, home, LAZY, signer, runner)
    oracle.executor = CopyingExecutor(net.artifacts, runner, home)
    return oracle, runner


def attested(net: Net, oracle: Any, job_id: int) -> str | None:
    got = [e["verdict"] for e in net.attested_events(oracle.bech32) if e["job_id"] == str(job_id)]
    return got[0] if got else None


def cheating_punished(net: Net, address: str) -> list[dict[str, str]]:
    res = net.client.tx_search(f"CheatingPunished.address='{address}'", per_page=100)
    out = []
    for t in res.get("txs") or []:
        for e in t["tx_result"].get("events") or []:
            if e["type"] == "CheatingPunished":
                out.append({a["key"]: a["value"] for a in e["attributes"]})
    return out


def reputation(net: Net, key: Any) -> dict[str, Any]:
    out: dict[str, Any] = net.client.query("reputation", "score", {"address": key.bech32})
    return out


def plants_passed(oracle: Oracle) -> float:
    got = oracle.metrics.registry.get_sample_value("vcoin_oracle_plants_passed_total")
    return float(got or 0.0)


def test_a_lazy_oracle_is_caught_by_its_first_plant(
    tmp_path: Path, models: Models, caplog: pytest.LogCaptureFixture
) -> None:
    with market_node(tmp_path / "node", models, **PARAMS) as net:
        lazy_key, honest_key = SigningKey.generate(), SigningKey.generate()
        bond_oracle(net, LAZY, bytes(lazy_key.verify_key))
        bond_oracle(net, HONEST, bytes(honest_key.verify_key))
        bond_oracle(net, PLANTER, bytes(SigningKey.generate().verify_key))
        worker = Scripted(net, WORKER, models, tmp_path / "work")
        plant_worker = Scripted(net, PLANT_WORKER, models, tmp_path / "plant")
        worker.register()
        plant_worker.register()
        lazy, lazy_runner = lazy_oracle(net, tmp_path / "lazy", lazy_key)
        honest = make_oracle(net, tmp_path / "honest", HONEST, honest_key, cheap_checks=True)
        lazy.open()
        honest.open()

        def step() -> None:
            lazy.step()
            honest.step()

        # an ordinary honest job: both pass it, and the quorum (2 of 3) settles it
        real = post_job(net, POSTER, {"prompts": ["Hello oracle"]})
        worker.work_on(real)
        net.wait_for(lambda: net.job(real)["state"] == "settled", timeout=60, step=step)

        # the plant: the planter runs the job to know the right answer, commits to it
        # before the claim, and its own worker submits a wrong output
        plant = post_job(net, POSTER, {"prompts": ["Plant me"]})
        right = plant_worker.output(net.job(plant), honest=True)
        expected = hashlib.sha256(right.read_bytes()).hexdigest()
        commit = canary.commit_msg(PLANTER.bech32, plant, expected, SALT, planted=True)
        net.client.send_tx(PLANTER, [commit], gas="auto")
        wrong = plant_worker.work_on(plant, honest=False)
        assert wrong != expected

        def voted() -> bool:
            return None not in (attested(net, LAZY, plant), attested(net, HONEST, plant))

        net.wait_for(voted, timeout=60, step=step)
        assert attested(net, LAZY, plant) == "pass"  # it copied the worker's hash
        assert attested(net, HONEST, plant) == "fail"  # it checked the output
        net.wait_for(lambda: net.job(plant)["state"] == "settled", timeout=60, step=step)
        assert cheating_punished(net, LAZY.bech32) == []  # a split vote lapses: no one yet

        reveal = canary.reveal_msg(
            PLANTER.bech32, plant, expected, SALT, PLANT_WORKER, net.client.chain_id(), planted=True
        )
        assert isinstance(reveal, vm.MsgRevealCanary)
        resp = net.client.send_tx(PLANTER, [reveal], gas="auto")
        assert resp.attributes("PlantRevealed", "caught") == ["1"]
        assert resp.attributes("PlantPassed", "oracle") == [LAZY.bech32]

        # the lazy oracle ran nothing, passed both jobs, and is now punished and jailed
        assert lazy.executor.copied == [real, plant]  # type: ignore[attr-defined]
        assert lazy_runner.jobs == []
        punished = cheating_punished(net, LAZY.bech32)
        assert len(punished) == 1 and int(punished[0]["jailed_until"]) > resp.height
        assert int(reputation(net, LAZY)["penalties_bps"]) == 2_000
        bond = net.client.query("staking", "bond", {"address": LAZY.bech32, "role": "oracle"})
        assert int(bond["jailed_until"]) > resp.height
        # the honest oracle is untouched
        assert cheating_punished(net, HONEST.bech32) == []
        assert int(reputation(net, HONEST)["penalties_bps"]) == 0

        # each daemon's operator sees it: an error line and a metric on the lazy one only
        with caplog.at_level(logging.ERROR, logger="vcoin.oracle"):
            net.wait_for(lambda: lazy.state.last_height >= resp.height, step=step)
            net.wait_for(lambda: honest.state.last_height >= resp.height, step=step)
        caught = [r for r in caplog.records if "a plant caught this oracle" in r.getMessage()]
        assert len(caught) == 1 and getattr(caught[0], "job_id", None) == plant
        assert plants_passed(lazy) == 1.0 and plants_passed(honest) == 0.0
