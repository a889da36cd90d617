"""Canary commitments on the oracle's own schedule, against a real node.

With ``canary_commit_every`` = E > 0 the oracle sends one commitment tx every E blocks
with ``COMMIT_SLOTS`` commitments: the canaries ready then, each bound to its post
(its persona's poster key and input: ``modules/verification/canary.py``), and random
decoys for the rest. A canary then waits a random 1..E blocks before its persona goes
on (drip, imitated wait, post). So the oracle's commitment txs come at one pace and
one size whether or not a canary follows, and a canary's post is not in step with
them: the timing that the precommit by job id (E = 0) shows a watching worker is
gone (measured in ``tests/oracle/test_canary_unlinkable.py``).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from chain.client import NodeClient
from chain.crypto import PrivateKey
from oracle import canary
from oracle.canary_flow import SETTLE_BLOCKS, CanaryDeps, CanaryDriver
from oracle.canary_schedule import COMMIT_SLOTS, CommitSchedule, input_hash, post_commitment
from oracle.metrics import OracleMetrics
from oracle.state import CanaryRecord, OracleState, PosterSeen
from tests.oracle._node import (
    VCN,
    Net,
    Scripted,
    bond_oracle,
    driver_deps,
    market_node,
    post_job,
)
from tests.oracle.conftest import Models
from tests.support.chain import test_key

ORACLE, USER, WORKER = test_key(4), test_key(5), test_key(6)
NOT_ORACLE = test_key(7)  # funded, never bonded as an oracle
EVERY = 5


class Spy:
    """The real node client; what the oracle's account sends is also noted (msgs, height)."""

    def __init__(self, client: NodeClient) -> None:
        self.client = client
        self.sent: list[tuple[int, list[Any]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def send_tx(self, key: PrivateKey, msgs: list[Any], **kw: Any) -> Any:
        resp = self.client.send_tx(key, msgs, **kw)
        if key.bech32 in (ORACLE.bech32, NOT_ORACLE.bech32):
            self.sent.append((resp.height, list(msgs)))
        return resp

    def commit_txs(self) -> list[tuple[int, list[str]]]:
        out = []
        for h, msgs in self.sent:
            commits = [m.commitment for m in msgs if type(m).__name__ == "MsgCommitCanary"]
            if commits:
                assert len(commits) == len(msgs)  # nothing else rides with them
                out.append((h, commits))
        return out


class Oracle:
    def __init__(
        self,
        net: Net,
        state: OracleState,
        every: int = EVERY,
        seed: int = 7,
        key: PrivateKey = ORACLE,
    ) -> None:
        self.net, self.state = net, state
        self.node = Spy(net.client)
        self.saved: list[dict[str, Any]] = []
        self.metrics = OracleMetrics()
        self.driver = CanaryDriver(
            driver_deps(
                net,
                key,
                lambda: self.state,
                lambda: self.saved.append(json.loads(json.dumps(self.state.to_json()))),
                self.metrics,
                node=self.node,
                seed=seed,
                commit_every=every,
            )
        )

    def only_canary(self) -> CanaryRecord:
        (rec,) = self.state.canaries.values()
        return rec

    def step_until(self, cond: Any, timeout: float = 60.0) -> None:
        """act() once a block until ``cond()``."""
        last = [0]

        def one() -> None:
            h = self.net.client.latest_height()
            if h > last[0]:
                last[0] = h
                self.driver.act()
                self.driver.d.save()

        self.net.wait_for(cond, timeout=timeout, step=one)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory, models: Models) -> Iterator[Net]:
    with market_node(tmp_path_factory.mktemp("canary-schedule"), models) as n:
        bond_oracle(n, ORACLE, bytes(SigningKey.generate().verify_key))
        yield n


def prepared(net: Net, o: Oracle, expected: str) -> CanaryRecord:
    template = post_job(net, USER, {"prompts": ["Write a haiku about rain"]}, price=2 * VCN)
    o.state.job_mix = [template]
    rec = o.driver.plan()
    assert rec is not None and rec.bound_to_post == (o.driver.d.commit_every > 0)
    o.driver.prepared(rec.local_id, expected, None)
    assert rec.stage == "prepared"
    return rec


def on_chain(net: Net, commitment: str) -> int:
    return int(net.client.query("verification", "canary", {"commitment": commitment})["height"])


def test_commitment_txs_keep_one_pace_and_size_with_or_without_a_canary(net: Net) -> None:
    o = Oracle(net, OracleState(chain_id=net.client.chain_id()))
    o.step_until(lambda: len(o.node.commit_txs()) >= 2)  # nothing planned: decoys only
    rec = prepared(net, o, "ab" * 32)
    o.step_until(lambda: rec.commit_height > 0)
    o.step_until(lambda: len(o.node.commit_txs()) >= 4)
    txs = o.node.commit_txs()
    assert [len(c) for _, c in txs] == [COMMIT_SLOTS] * len(txs)
    gaps = [b[0] - a[0] for a, b in zip(txs, txs[1:], strict=False)]
    assert all(EVERY <= g <= EVERY + 2 for g in gaps), gaps  # a block or two for the tx itself
    mine = post_commitment(rec)
    holding = [h for h, c in txs if mine in c]
    assert holding == [rec.commit_height] == [on_chain(net, mine)]
    # the decoys are on chain too, and look like any commitment
    for h, commits in txs:
        for c in commits:
            assert on_chain(net, c) == h and len(bytes.fromhex(c)) == 32


def test_a_canary_waits_a_random_part_of_the_period_then_is_posted_and_caught(
    net: Net, models: Models, tmp_path: Path
) -> None:
    worker = Scripted(net, WORKER, models, tmp_path)
    worker.register()
    o = Oracle(net, OracleState(chain_id=net.client.chain_id()), seed=3)
    rec = prepared(net, o, "cd" * 32)
    o.step_until(lambda: rec.commit_height > 0)
    assert 1 <= rec.release_at - rec.commit_height <= EVERY
    o.step_until(lambda: rec.stage == "committed")
    # its key took its drip only once the random wait was over, then it posted
    dripped = net.client.query("drip", "dripped", {"address": rec.poster})
    assert rec.release_at <= int(dripped["height"]) < rec.posted_height
    # no commitment by job id was sent: only the scheduled txs
    assert all(len(c) == COMMIT_SLOTS for _, c in o.node.commit_txs())
    job = net.job(rec.job_id)
    assert job["input_hash"] == input_hash(rec)
    # the expected hash is made up, so any result mismatches: a "cheat" the reveal catches
    worker.claim(rec.job_id)
    worker.submit(rec.job_id, worker.output(job, honest=True))
    o.driver.on_result(rec.job_id)
    o.step_until(lambda: rec.stage in ("final", "done"))
    assert rec.outcome == "mismatched"
    net.wait_for(lambda: net.job(rec.job_id)["state"] == "rejected", timeout=30)


def test_a_commitment_that_landed_before_a_crash_is_found_not_sent_again(net: Net) -> None:
    o = Oracle(net, OracleState(chain_id=net.client.chain_id()), seed=5)
    rec = prepared(net, o, "ef" * 32)
    o.driver.d.save()
    before = o.saved[-1]  # the state file before the commitment's tx
    o.step_until(lambda: rec.commit_height > 0)
    again = Oracle(net, OracleState.from_json(before), seed=5)
    rec2 = again.only_canary()
    assert rec2.commit_height == 0 and rec2.stage == "prepared"
    again.step_until(lambda: rec2.commit_height > 0)  # its own tick: no refusal, no double
    assert rec2.commit_height == rec.commit_height
    (tx,) = again.node.commit_txs()
    assert post_commitment(rec) not in tx[1]  # the tick held decoys only


def test_with_commit_every_0_nothing_is_sent_on_a_schedule(net: Net) -> None:
    o = Oracle(net, OracleState(chain_id=net.client.chain_id()), every=0)
    start = net.client.latest_height()
    o.step_until(lambda: net.client.latest_height() >= start + 2 * EVERY)
    assert o.node.sent == []
    rec = prepared(net, o, "ab" * 32)
    o.state.max_job_id = rec.template_job
    o.step_until(lambda: rec.stage == "committed")
    # precommitted by job id (a few predicted ids), in a tx of its own before the post
    assert not rec.bound_to_post and rec.job_id in rec.precommitted
    assert len(o.node.commit_txs()) == 1 and rec.commit_height < rec.posted_height


def test_release_waits_are_uniform_over_1_to_the_period() -> None:
    """The wait after the commitment is what puts the post out of step with the
    schedule: every value 1..E, each about equally often."""
    every, n = 4, 4_000
    o = CommitSchedule(
        CanaryDeps(
            enabled=True,
            min_observed=0,
            task_types=(),
            address="",
            account=ORACLE,
            node=None,  # type: ignore[arg-type]  # not reached
            artifacts=None,  # type: ignore[arg-type]
            executor=None,  # type: ignore[arg-type]
            rng=random.Random(11),
            metrics=OracleMetrics(),
            state=OracleState,
            save=lambda: None,
            start_task=lambda kind, key, fn: None,
            model_hash=lambda model_id: "",
            commit_every=every,
        )
    )
    waits: Counter[int] = Counter()
    for _ in range(n):
        rec = CanaryRecord(local_id=1, stage="prepared", poster_secret="", poster="", msg={})
        o.committed(rec, 100)
        assert rec.commit_height == 100
        waits[rec.release_at - 100] += 1
    assert sorted(waits) == [1, 2, 3, 4]
    sd = (n * 0.25 * 0.75) ** 0.5
    assert all(abs(c - n / 4) <= 4 * sd for c in waits.values()), waits


def test_the_bound_commitment_is_the_chains() -> None:
    rec = CanaryRecord(
        local_id=1,
        stage="prepared",
        poster_secret="",
        poster=USER.bech32,
        msg={"inline_hex": b"hi".hex(), "artifact_hex": ""},
        salt="11" * 32,
        expected_output_hash="22" * 32,
    )
    ih = hashlib.sha256(b"hi").hexdigest()
    assert input_hash(rec) == ih
    want = canary.post_commitment(USER.bech32, ih, "22" * 32, "11" * 32).hex()
    assert post_commitment(rec) == want
    # an artifact input is hashed as the artifact, not the (empty) inline part
    rec.msg = {"inline_hex": "", "artifact_hex": b"an artifact".hex()}
    assert input_hash(rec) == hashlib.sha256(b"an artifact").hexdigest()


def test_a_personas_next_canary_is_committed_before_the_previous_is_posted(net: Net) -> None:
    """Planned once the previous is run locally (not once it is funded), the next canary
    rides a tick before its post is due: the persona's gaps are the real gaps drawn."""
    template = post_job(net, USER, {"prompts": ["Write a haiku about rain"]}, price=2 * VCN)
    st = OracleState(
        chain_id=net.client.chain_id(),
        last_height=SETTLE_BLOCKS + 10,
        job_mix=[template],
        posters={USER.bech32: PosterSeen(1, 1, 3)},  # a settled poster of 3 jobs
        gaps=[2 * EVERY],
        max_job_id=template,
    )
    o = Oracle(net, st, seed=9)
    first = o.driver.plan()
    assert first is not None and st.personas[first.persona].target == 3

    def run_locally() -> None:
        for rec in list(st.canaries.values()):
            if rec.stage == "planned":
                o.driver.prepared(rec.local_id, "ab" * 32, None)

    def posted_all() -> bool:
        run_locally()
        return len([c for c in st.canaries.values() if c.job_id]) == 3

    o.step_until(posted_all, timeout=120)
    a, b, c = st.canaries_of(first.persona)
    assert a.posted_height < b.posted_height < c.posted_height
    # each next one was committed before its predecessor was posted ...
    assert b.commit_height < a.posted_height and c.commit_height < b.posted_height
    # ... so its post waited only the gap drawn, from its predecessor's post
    assert b.posted_height - a.posted_height <= 2 * EVERY + 2
    assert c.posted_height - b.posted_height <= 2 * EVERY + 2


def test_a_refused_commitment_tx_is_retried_on_the_next_tick_and_holds_nothing_up(
    net: Net, caplog: pytest.LogCaptureFixture
) -> None:
    """An account that is no active oracle is refused (verification: not an oracle):
    the driver logs it, skips to the next tick and carries on with its other steps."""
    o = Oracle(net, OracleState(chain_id=net.client.chain_id()), key=NOT_ORACLE)
    rec = prepared(net, o, "ab" * 32)
    start = net.client.latest_height()
    with caplog.at_level("ERROR", logger="vcoin.oracle.canary"):
        o.driver.act()  # does not raise
    assert "canary commitments refused" in caplog.text and "not an active oracle" in caplog.text
    assert rec.commit_height == 0 and rec.stage == "prepared"
    assert start + EVERY <= o.state.next_commit_at <= start + EVERY + 1
    o.driver.act()  # not due yet: nothing sent, nothing logged again
    assert caplog.text.count("canary commitments refused") == 1
