"""The oracle daemon against a real node in this process (solo driver, RPC, REST).

Re-executions use the worker runtime in this process (``InProcessRunner``):
these tests are about following the chain, the state file and attesting; the
sandbox is exercised by the CLI test, which runs ``vcoin-oracle start``.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from chain.artifacts import ArtifactClient
from chain.client import NodeClient
from chain.crypto import PrivateKey
from oracle.canary_flow import POOL_TOP_UP_DRIPS
from oracle.canary_schedule import post_commitment
from oracle.config import OracleConfig
from oracle.daemon import Oracle
from oracle.executor import Executor
from oracle.expected import InProcessRunner, RunOutcome
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
from tests.support.chain import test_key

ALWAYS = {"base_sample_bps": 10_000, "max_sample_bps": 10_000}
SETTLED = test_key(7)  # a poster whose one job is long past when the canaries come
PROMPT = {"prompts": ["Hello oracle", "Check me"]}


class CountingRunner(InProcessRunner):
    """The real runtime, counting the jobs it ran; ``gate`` can hold a run."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        super().__init__()
        self.jobs: list[str] = []
        self.started = threading.Event()
        self.gate = gate

    def run(self, spec: dict[str, Any], inputs: Path, models: Path, out: Path) -> RunOutcome:
        self.jobs.append(str(spec.get("job_id")))
        self.started.set()
        if self.gate is not None:
            self.gate.wait(60)
        return super().run(spec, inputs, models, out)


def make_oracle(
    net: Net,
    home: Path,
    key: PrivateKey,
    signer: SigningKey,
    runner: Any = None,
    cheap_checks: bool = False,
    **cfg: Any,
) -> Oracle:
    # no plant worker unless a test asks (it would claim and run the tests' jobs)
    settings: dict[str, Any] = {"poll_s": 0.1, "canaries": False, "plant": False, "metrics": ""}
    settings.update(cfg)
    config = OracleConfig(home=str(home), rpc=net.rpc, artifacts=net.rest, **settings)
    artifacts = ArtifactClient(net.rest, key)
    # full re-execution unless asked: these tests count and hold the runs through the runner
    executor = Executor(artifacts, runner or CountingRunner(), home, cheap_checks=cheap_checks)
    return Oracle(config, key, signer, NodeClient(net.rpc), artifacts, executor)


@pytest.fixture
def signer() -> SigningKey:
    return SigningKey.generate()


def setup_market(
    net: Net, models: Models, work: Path, signer: SigningKey, oracles: int
) -> Scripted:
    bond_oracle(net, ORACLE1, bytes(signer.verify_key))
    if oracles > 1:
        bond_oracle(net, ORACLE2, bytes(SigningKey.generate().verify_key))
    worker = Scripted(net, WORKER, models, work)
    worker.register()
    return worker


def picked(net: Net, job_id: int) -> bool:
    return net.job(job_id)["state"] == "checking"


def test_attests_a_right_result_pass_and_a_wrong_one_fail(
    tmp_path: Path, models: Models, signer: SigningKey
) -> None:
    with market_node(tmp_path / "node", models, **ALWAYS) as net:
        worker = setup_market(net, models, tmp_path / "work", signer, oracles=1)
        oracle = make_oracle(net, tmp_path / "oracle", ORACLE1, signer)
        oracle.open()
        good = post_job(net, POSTER, PROMPT)
        bad = post_job(net, POSTER, {"prompts": ["Another prompt"]})
        worker.work_on(good, honest=True)
        worker.work_on(bad, honest=False)

        def decided() -> bool:
            return net.job(good)["state"] == "settled" and net.job(bad)["state"] == "rejected"

        net.wait_for(decided, timeout=120, step=oracle.step)
        events = {int(e["job_id"]): e for e in net.attested_events(ORACLE1.bech32)}
        assert events[good]["verdict"] == "pass" and events[good]["similarity_bps"] == "10000"
        assert events[bad]["verdict"] == "fail" and int(events[bad]["similarity_bps"]) < 9500
        # each evidence document is kept locally and in the artifact store, named by its hash
        kept = sorted(
            p.name.removesuffix(".json") for p in (tmp_path / "oracle/evidence").iterdir()
        )
        assert len(kept) == 2 and all(net.artifacts.exists(h) for h in kept)
        assert oracle.metrics.attestations.labels("ok")._value.get() == 2


def test_restart_catches_up_never_attesting_twice_nor_skipping(
    tmp_path: Path, models: Models, signer: SigningKey
) -> None:
    home = tmp_path / "oracle"
    state, backup = home / "state.json", tmp_path / "state.before-broadcast.json"
    with market_node(tmp_path / "node", models, **ALWAYS) as net:
        # Two equal oracles and a 2/3 quorum: one attestation decides nothing, so the
        # job stays open to a (refused) second attestation if the oracle tried one.
        worker = setup_market(net, models, tmp_path / "work", signer, oracles=2)
        first = make_oracle(net, home, ORACLE1, signer)
        first.open()
        # Simulate a crash in the worst place: after the broadcast, before the state write.
        first.before_broadcast = lambda job_id: shutil.copy(state, backup)
        a = post_job(net, POSTER, PROMPT)
        worker.work_on(a)
        net.wait_for(lambda: net.attested_events(ORACLE1.bech32), timeout=120, step=first.step)
        first.request_stop()
        first.shutdown()
        shutil.copy(backup, state)  # the write that "never happened"

        # While the oracle is down, a wrong result is picked for checking.
        b = post_job(net, POSTER, {"prompts": ["While you were away"]})
        worker.work_on(b, honest=False)
        net.wait_for(lambda: picked(net, b))
        for _ in range(3):  # and more blocks go by
            post_job(net, POSTER, {"prompts": ["filler"]})

        runner = CountingRunner()
        second = make_oracle(net, home, ORACLE1, signer, runner)
        second.open()
        assert a in second.state.checks  # the restored state still owes a…
        net.wait_for(
            lambda: len(net.attested_events(ORACLE1.bech32)) == 2, timeout=120, step=second.step
        )
        for _ in range(10):  # let it run on: nothing more may happen
            second.step()
        got = net.attested_events(ORACLE1.bech32)
        assert sorted(int(e["job_id"]) for e in got) == [a, b]  # once each
        assert [e["verdict"] for e in sorted(got, key=lambda e: int(e["job_id"]))] == [
            "pass",
            "fail",
        ]
        assert runner.jobs == [str(b)]  # …but the chain showed it done: not even re-run
        assert second.state.attested == {a: "pass", b: "fail"} and not second.state.checks

        # A lost state file loses nothing still checkable: the chain lists it.
        c = post_job(net, POSTER, {"prompts": ["After the state was lost"]})
        worker.work_on(c)
        net.wait_for(lambda: picked(net, c))
        state.unlink()
        third = make_oracle(net, home, ORACLE1, signer)
        third.open()
        assert set(third.state.checks) == {c}
        net.wait_for(lambda: c in third.state.attested, timeout=120, step=third.step)
        assert len(net.attested_events(ORACLE1.bech32)) == 3


def test_sigterm_abandons_an_unfinished_check_and_finishes_a_quick_one(
    tmp_path: Path, models: Models, signer: SigningKey
) -> None:
    home = tmp_path / "oracle"
    with market_node(tmp_path / "node", models, **ALWAYS) as net:
        worker = setup_market(net, models, tmp_path / "work", signer, oracles=1)
        gate = threading.Event()
        held = CountingRunner(gate)
        oracle = make_oracle(net, home, ORACLE1, signer, held, shutdown_grace_s=0.3)
        done: list[int] = []
        t = threading.Thread(target=lambda: done.append(oracle.run()))
        t.start()
        a = post_job(net, POSTER, PROMPT)
        worker.work_on(a)
        assert held.started.wait(60)
        oracle.request_stop()  # what SIGTERM does
        t.join(30)
        assert done == [0]
        gate.set()  # the abandoned run may end now; its result must go nowhere
        assert net.attested_events(ORACLE1.bech32) == []
        assert net.job(a)["state"] == "checking"
        assert list(oracle.files.load().checks) == [a]  # still owed after the restart

        slow = CountingRunner(threading.Event())
        again = make_oracle(net, home, ORACLE1, signer, slow, shutdown_grace_s=60)
        t = threading.Thread(target=lambda: done.append(again.run()))
        t.start()
        assert slow.started.wait(60)
        again.request_stop()
        slow.gate.set()  # it finishes within the grace period: a complete check is attested
        t.join(60)
        assert done == [0, 0]
        assert [e["verdict"] for e in net.attested_events(ORACLE1.bech32)] == ["pass"]
        assert net.job(a)["state"] == "settled"


def test_canaries_are_posted_like_user_jobs_committed_revealed_and_swept(
    tmp_path: Path, models: Models, signer: SigningKey
) -> None:
    # canary_rate 50 % with one oracle: one canary per user job, so the test need not wait;
    # no sampling, so the canary reveal alone judges each canary job.
    params = {"canary_rate_bps": 5_000, "base_sample_bps": 0, "low_rep_factor_bps": 0}
    with market_node(tmp_path / "node", models, challenge_window_blocks=40, **params) as net:
        worker = setup_market(net, models, tmp_path / "work", signer, oracles=1)
        oracle = make_oracle(
            net,
            tmp_path / "oracle",
            ORACLE1,
            signer,
            canaries=True,
            canary_min_observed=1,
            canary_settle_blocks=2,
        )
        oracle.open()
        start = net.client.balance(ORACLE1.bech32)
        spec = '{"params": {"max_new_tokens": 6}}'
        # a poster of one job that has settled: the personas imitate it (one canary each)
        post_job(net, SETTLED, PROMPT, spec=spec, price=3 * 10**18)
        net.wait_for(oracle.canaries.settled, timeout=30, step=oracle.step)
        assert oracle.state.canaries == {}  # nothing was imitated before
        for honest in (True, False):
            user = post_job(net, POSTER, PROMPT, spec=spec, price=3 * 10**18)

            def committed() -> Any:
                recs = [c for c in oracle.state.canaries.values() if c.stage == "committed"]
                return recs[0] if recs else None

            rec = net.wait_for(committed, timeout=120, step=oracle.step)
            canary_job, template = net.job(rec.job_id), net.job(user)
            for k in ("task_type", "model", "max_price", "spec", "priority", "claim_blocks"):
                assert canary_job[k] == template[k], k
            assert canary_job["poster"] not in (POSTER.bech32, ORACLE1.bech32)  # a fresh key
            assert canary_job["inline_input"] != template["inline_input"]
            # committed bound to its post on the oracle's schedule, blocks before the post
            # (no claim can beat it), not by job id in the block before
            assert rec.bound_to_post and rec.precommitted == []
            c = post_commitment(rec)
            shown = net.client.query("verification", "canary", {"commitment": c})
            assert int(shown["height"]) == rec.commit_height < int(canary_job["posted_height"])
            worker.work_on(user)
            worker.work_on(rec.job_id, honest=honest)
            net.wait_for(lambda r=rec: r.stage == "done", timeout=120, step=oracle.step)
            assert rec.outcome == ("matched" if honest else "mismatched")
            assert net.job(rec.job_id)["state"] == ("settled" if honest else "rejected")
            assert net.client.balance(canary_job["poster"]) < 10**15  # swept back, fees aside
        assert oracle.metrics.canaries.labels("matched")._value.get() == 1
        assert oracle.metrics.canaries.labels("mismatched")._value.get() == 1
        # the oracle paid only into the drip pool (one bulk top-up, and fees); the posters'
        # leftovers went back into the pool, not to the oracle
        pool = net.client.query("drip", "pool")
        top_up = POOL_TOP_UP_DRIPS * int(pool["drip_amount"])
        assert 0 <= start - net.client.balance(ORACLE1.bech32) - top_up < 10**18
        assert int(pool["balance"]) > top_up - 2 * int(pool["drip_amount"])
