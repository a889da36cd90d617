"""A canary's chain steps after an oracle crash, against a real node: a step that
landed before the crash is found on chain and not paid for twice.

The driver saves its state file after every step (``CanaryDeps.save``). These tests
keep each saved state, run a canary forward, then restore an earlier one, as a
restarted oracle reads its state file, and run a fresh driver from it. What an
operator would notice is checked: how many jobs the poster key posted, whether the
oracle's account sent another transaction (its sequence), and where the coin went.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from chain.crypto import PrivateKey
from modules.bank.msgs import MsgSend
from oracle.canary_flow import SETTLE_BLOCKS, CanaryDriver, _coin
from oracle.metrics import OracleMetrics
from oracle.state import CanaryRecord, OracleState, Persona, PosterSeen
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
EXPECTED = "ab" * 32  # the canary's expected output hash (no reveal is made here)


class Oracle:
    """A canary driver on a real node; ``saved`` holds the state file after each save."""

    def __init__(self, net: Net, state: OracleState) -> None:
        self.net, self.state = net, state
        self.saved: list[dict[str, Any]] = []
        self.metrics = OracleMetrics()
        self.driver = CanaryDriver(
            driver_deps(
                net,
                ORACLE,
                lambda: self.state,
                lambda: self.saved.append(json.loads(json.dumps(self.state.to_json()))),
                self.metrics,
            )
        )

    def restarted(self, snapshot: dict[str, Any]) -> Oracle:
        """A new oracle process reading this state file."""
        return Oracle(self.net, OracleState.from_json(snapshot))

    def only_canary(self) -> CanaryRecord:
        (rec,) = self.state.canaries.values()
        return rec

    def sequence(self) -> int:
        acc = self.net.client.account(ORACLE.bech32)
        assert acc is not None
        return acc.sequence

    def counted(self, outcome: str) -> float:
        return self.metrics.canaries.labels(outcome)._value.get()


def snapshot_at(o: Oracle, stage: str, precommitted: bool | None = None) -> dict[str, Any]:
    """The last saved state whose canary was at ``stage``."""
    for snap in reversed(o.saved):
        (c,) = snap["canaries"]
        if c["stage"] == stage and (
            precommitted is None or bool(c["precommitted"]) == precommitted
        ):
            return snap
    raise AssertionError(f"no state was saved at {stage}: {[s['canaries'] for s in o.saved]}")


def pool_balance(net: Net) -> int:
    return int(net.client.query("drip", "pool")["balance"])


def drip_amount(net: Net) -> int:
    return int(net.client.query("drip", "params")["drip_amount"])


def jobs_posted_by(net: Net, address: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = net.client.query("jobs", "jobs", {"poster": address, "limit": 50})[
        "jobs"
    ]
    return out


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory, models: Models) -> Iterator[Net]:
    with market_node(tmp_path_factory.mktemp("canary-restart"), models) as n:
        bond_oracle(n, ORACLE, bytes(SigningKey.generate().verify_key))
        yield n


def persona_canary(net: Net, jobs: int, gaps: list[int], price: int = 2 * VCN) -> Oracle:
    """The first canary of a persona that imitates a settled poster of ``jobs`` jobs (USER:
    no drip, so no wait before the first post), with the real gaps ``gaps``."""
    template = post_job(net, USER, {"prompts": ["Write a haiku about rain"]}, price=price)
    st = OracleState(
        chain_id=net.client.chain_id(),
        last_height=SETTLE_BLOCKS + 10,
        job_mix=[template],
        posters={USER.bech32: PosterSeen(1, 1, jobs)},
        gaps=gaps,
        max_job_id=template,
    )
    o = Oracle(net, st)
    rec = o.driver.plan()
    assert rec is not None and st.personas[rec.persona].target == jobs
    return o


def run_locally(o: Oracle) -> None:
    """What the daemon's background task does for each planned canary (here: no run)."""
    for rec in list(o.state.canaries.values()):
        if rec.stage == "planned":
            o.driver.prepared(rec.local_id, EXPECTED, None)


def step(o: Oracle) -> None:
    run_locally(o)
    o.driver.act()


def only_persona(o: Oracle) -> Persona:
    (p,) = o.state.personas.values()
    return p


def prepared_canary(net: Net, *, precommit: bool) -> Oracle:
    """A canary planned from a fresh user job and run (its expected hash known)."""
    template = post_job(net, USER, {"prompts": ["Write a haiku about rain"]}, price=2 * VCN)
    o = Oracle(net, OracleState(chain_id=net.client.chain_id(), job_mix=[template]))
    rec = o.driver.plan()
    assert rec is not None and rec.stage == "planned"
    o.driver.prepared(rec.local_id, EXPECTED, None)
    # with a job id seen the driver commits ahead of its post; with none it commits after
    o.state.max_job_id = template if precommit else 0
    return o


def test_a_post_that_landed_before_the_crash_is_found_not_posted_again(net: Net) -> None:
    o = prepared_canary(net, precommit=True)
    o.driver.act()
    rec = o.only_canary()
    assert rec.stage == "committed" and rec.job_id in rec.precommitted
    posted = jobs_posted_by(net, rec.poster)
    assert [int(j["id"]) for j in posted] == [rec.job_id]
    poster_balance, seq = net.client.balance(rec.poster), o.sequence()

    # The oracle died after the post's block, before its state file said "posted".
    again = o.restarted(snapshot_at(o, "funded", precommitted=True))
    again.driver.act()
    rec2 = again.only_canary()
    assert (rec2.stage, rec2.job_id, rec2.posted_height) == (
        "committed",
        rec.job_id,
        rec.posted_height,
    )
    assert [int(j["id"]) for j in jobs_posted_by(net, rec.poster)] == [rec.job_id]
    assert net.client.balance(rec.poster) == poster_balance  # no second escrow, no fee
    assert again.sequence() == seq  # nor another funding or precommit from the oracle


def test_a_commitment_that_landed_before_the_crash_is_found_not_sent_again(net: Net) -> None:
    o = prepared_canary(net, precommit=False)
    o.driver.act()
    rec = o.only_canary()
    assert (rec.stage, rec.precommitted) == ("committed", [])
    assert rec.commit_height > rec.posted_height > 0
    seq = o.sequence()

    again = o.restarted(snapshot_at(o, "posted"))
    assert again.only_canary().commit_height == 0  # what the state file knew
    again.driver.act()
    rec2 = again.only_canary()
    assert (rec2.stage, rec2.commit_height) == ("committed", rec.commit_height)
    assert again.sequence() == seq  # the commitment was read from chain, not sent twice


def test_a_canary_claimed_before_its_commitment_is_spoiled_and_its_coin_swept_back(
    net: Net, models: Models, tmp_path: Path
) -> None:
    worker = Scripted(net, WORKER, models, tmp_path)
    worker.register()
    o = prepared_canary(net, precommit=False)
    rec = o.only_canary()
    key = PrivateKey(bytes.fromhex(rec.poster_secret))
    # The steps of ``advance`` one by one, so that a worker claims between post and commit.
    assert o.driver.fund(rec, key)  # the poster key claims its drip from the pool
    assert net.client.balance(key.bech32) == drip_amount(net)
    rec.stage = "funded"
    o.driver.post(rec, key)
    assert rec.stage == "posted"
    worker.claim(rec.job_id)
    o.driver.commit(rec)
    assert (rec.stage, rec.outcome) == ("final", "spoiled: claimed before the commitment landed")
    assert o.counted("spoiled") == 1
    o.driver.d.save()  # as ``act`` does after each step

    held, pool_before = net.client.balance(key.bech32), pool_balance(net)
    o.driver.act()  # sweeps what the poster key holds back into the drip pool
    assert rec.stage == "done"
    swept = net.client.balance(key.bech32)
    assert swept <= 120_000 * net.client.min_gas_price()
    # the job's escrow comes back to the poster key when the job ends; what the key
    # held beyond the sweep's fee is back in the pool, not with the oracle
    assert pool_balance(net) - pool_before == held - 120_000 * net.client.min_gas_price()

    # A crash after the sweep's block: the restarted oracle finds nothing left to sweep.
    seq = o.sequence()
    again = o.restarted(snapshot_at(o, "final"))
    again.driver.act()
    assert again.only_canary().stage == "done"
    assert again.sequence() == seq and net.client.balance(key.bech32) == swept


def test_a_refused_funding_ends_the_canary_and_says_why(net: Net) -> None:
    o = prepared_canary(net, precommit=True)
    rec = o.only_canary()
    rec.msg["max_price"] = str(10**40)  # more than the oracle holds
    seq = o.sequence()
    o.driver.act()
    assert rec.stage == "done"
    assert rec.outcome.startswith("failed at prepared: ") and "insufficient" in rec.outcome
    assert o.counted("failed") == 1
    assert o.sequence() == seq and jobs_posted_by(net, rec.poster) == []


def test_a_failed_local_run_ends_the_canary_before_any_coin_moves(net: Net) -> None:
    o = prepared_canary(net, precommit=True)
    rec = o.only_canary()
    rec.stage, rec.expected_output_hash = "planned", ""
    o.driver.prepared(rec.local_id, None, RuntimeError("the local run failed: OOM: no memory"))
    assert (rec.stage, rec.outcome) == ("done", "failed: the local run failed: OOM: no memory")
    assert o.counted("failed") == 1 and o.saved
    seq = o.sequence()
    o.driver.act()
    assert o.sequence() == seq and net.client.balance(rec.poster) == 0


@pytest.mark.parametrize(("extra", "swept"), [(-1, 0), (0, 0), (1, 1)], ids=["under", "at", "over"])
def test_a_poster_key_is_swept_only_when_it_holds_more_than_the_fee(
    net: Net, extra: int, swept: int
) -> None:
    """Sweeping costs a fee: a key holding no more than that is left as it is."""
    o = prepared_canary(net, precommit=False)
    rec = o.only_canary()
    fee = 120_000 * net.client.min_gas_price()  # the sweep's fixed gas at the minimum price
    send = MsgSend(from_address=USER.bech32, to_address=rec.poster, amount=_coin(fee + extra))
    net.client.send_tx(USER, [send], gas="auto")
    rec.stage = "final"
    pool_before = pool_balance(net)
    o.driver.act()
    assert rec.stage == "done"
    assert pool_balance(net) - pool_before == swept
    assert net.client.balance(rec.poster) == (fee + extra if swept == 0 else 0)


def test_a_restarted_oracle_resumes_a_persona_and_finds_its_later_post_not_posting_again(
    net: Net,
) -> None:
    o = persona_canary(net, jobs=2, gaps=[3])
    persona = only_persona(o)
    net.wait_for(
        lambda: (
            persona.posted == 2 and all(c.stage == "committed" for c in o.state.canaries.values())
        ),
        timeout=60,
        step=lambda: step(o),
    )
    first, second = o.state.canaries_of(persona.persona_id)
    assert second.job_id in second.precommitted
    posted = [int(j["id"]) for j in jobs_posted_by(net, persona.poster)]
    assert posted == [first.job_id, second.job_id]
    poster_balance, seq = net.client.balance(persona.poster), o.sequence()

    # The oracle died after the second post's block, before its state file said "posted".
    snap = next(
        s
        for s in reversed(o.saved)
        if any(
            c["index"] == 1 and c["stage"] == "funded" and c["precommitted"] for c in s["canaries"]
        )
    )
    again = o.restarted(snap)
    assert only_persona(again).posted == 1
    again.driver.act()
    p2 = only_persona(again)
    first2, second2 = again.state.canaries_of(p2.persona_id)
    assert (second2.stage, second2.job_id, second2.posted_height) == (
        "committed",
        second.job_id,
        second.posted_height,
    )
    assert (p2.poster, p2.posted, p2.last_job, p2.ended) == (
        persona.poster,
        2,
        second.job_id,
        "posted all",
    )
    assert [int(j["id"]) for j in jobs_posted_by(net, persona.poster)] == posted
    assert net.client.balance(persona.poster) == poster_balance  # no third escrow, no fee
    assert again.sequence() == seq  # no second precommit, nor a drip top-up

    # Both jobs over: the persona sweeps once, a later restart finds nothing left to sweep.
    first2.stage = second2.stage = "final"
    again.driver.act()
    assert p2.swept and net.client.balance(persona.poster) <= 120_000 * net.client.min_gas_price()
    left, seq = net.client.balance(persona.poster), again.sequence()
    third = again.restarted(next(s for s in reversed(again.saved) if not s["personas"][0]["swept"]))
    third.driver.act()
    assert only_persona(third).swept and net.client.balance(persona.poster) == left
    assert third.sequence() == seq
