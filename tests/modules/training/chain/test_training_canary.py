"""Canary shards on the chain: a training's shard job is revealed as a canary by the
training's poster (the module account that posts the job has no key), exactly like a
job canary: a match settles the shard (the training accepts it), a mismatch rejects it
(the worker is punished, the training re-posts the shard). Anyone else's signature is
refused, and nothing moves."""

from __future__ import annotations

import json
from collections.abc import Callable

from chain.crypto import PrivateKey
from chain.results import TxResult
from tests.modules.training.chain.conftest import ORACLE, POSTER, W1, W2, TMarket, open_jobs
from tests.support.chain import test_key
from tests.support.market import code, output_of

SALT = bytes(range(16))
NOT_CONTROLLER = ("verification", 16)
OUTSIDER = test_key(30)


def posted_and_committed(m: TMarket) -> list[int]:
    """A one-round 2-shard training; the oracle commits to each shard's honest output
    before any claim. Returns the shard job ids."""
    assert m.post_training(rounds=1).code == 0
    jobs = open_jobs(m.training(1))
    for j in jobs:
        assert m.commit_canary(ORACLE, j, output_of(j), SALT).code == 0
    return jobs


def submit(m: TMarket, worker: PrivateKey, job_id: int, honest: bool) -> None:
    assert m.claim(worker, job_id).code == 0
    assert m.submit(worker, job_id, output=output_of(job_id, honest)).code == 0


def reveal(m: TMarket, job_id: int, controller: PrivateKey | None) -> TxResult:
    return m.reveal_canary(ORACLE, job_id, output_of(job_id), SALT, controller)


def penalties(m: TMarket, key: PrivateKey) -> int:
    return int(m.reputation.stats(m.ctx(), key.address).penalties_bps)


def test_the_training_poster_reveals_a_shard_canary_that_passes(m: TMarket) -> None:
    jobs = posted_and_committed(m)
    paid = m.balance(W1)
    submit(m, W1, jobs[0], honest=True)
    r = reveal(m, jobs[0], POSTER)
    assert r.code == 0, r.log
    assert m.events("CanaryRevealed")[-1]["matched"] == "true"
    assert m.job(jobs[0]).state == "settled"  # at the end of the reveal's block
    shard = m.training(1)["rounds_detail"][0]["shards"][0]
    assert (shard["state"], shard["worker"]) == ("accepted", W1.bech32)
    assert shard["output"] == output_of(jobs[0]).hex()
    assert m.balance(W1) > paid and penalties(m, W1) == 0


def test_a_faked_shard_canary_is_caught_excluded_and_reposted(m: TMarket) -> None:
    jobs = posted_and_committed(m)
    submit(m, W1, jobs[0], honest=False)
    r = reveal(m, jobs[0], POSTER)
    assert r.code == 0, r.log
    assert m.events("CanaryRevealed")[-1]["matched"] == "false"
    assert m.job(jobs[0]).state == "rejected"
    assert penalties(m, W1) == 2_000  # −20 points: caught cheating
    shard = m.training(1)["rounds_detail"][0]["shards"][0]
    assert shard["state"] == "open" and shard["attempts"] == 2 and shard["job_id"] != jobs[0]
    req = m.events("TrainingShardRequeued")[-1]
    assert (req["old_job"], req["job_id"]) == (str(jobs[0]), str(shard["job_id"]))
    # the re-posted shard and the other one run honestly; the fake is not in the aggregate
    m.finish(W2, shard["job_id"])
    m.finish(W2, jobs[1])
    agg = m.training(1)["rounds_detail"][0]["aggregate_job"]
    updates = json.loads(m.job(agg).inline_input)["updates"]
    assert [u["sha256"] for u in updates] == [
        output_of(shard["job_id"]).hex(),
        output_of(jobs[1]).hex(),
    ]


def test_a_shard_canary_reveal_signed_by_anyone_else_is_refused(
    make_market: Callable[..., TMarket],
) -> None:
    m = make_market(verification={"challenge_window_blocks": 20})
    jobs = posted_and_committed(m)
    submit(m, W1, jobs[0], honest=True)
    for who in (ORACLE, W2, OUTSIDER, None):
        r = reveal(m, jobs[0], who)
        assert code(r) == NOT_CONTROLLER, (who, r.log)
        assert "training poster" in r.log and POSTER.bech32 in r.log
    assert m.events("CanaryRevealed") == []
    assert m.job(jobs[0]).state == "submitted"  # untouched: it settles as any result
    assert penalties(m, W1) == 0
