"""The training keeper's edges: the post checks at and one past each limit, what every
event of a training says (what an explorer and ``training show`` read), the budget at
exactly a price and one avcn under it, and the paths a chain only reaches from a
hand-made (exported, edited, imported) genesis: a job of an old round ending, a job
indexed as an aggregate the round never posted, a cancel with no round record."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from app.app import App
from modules.training import msgs as tm
from modules.training import state
from modules.training.keeper import TrainingKeeper
from tests.modules.training.chain.conftest import (
    FLOOR,
    POSTER,
    W1,
    W2,
    TMarket,
    open_jobs,
)
from tests.support.stake import VCN

ESCROW1 = (2 * 5 + 4) * VCN  # one round: 2 shards at 5 VCN and a 4 VCN aggregate


def last(m: TMarket, type_: str) -> dict[str, str]:
    got = m.events(type_)
    assert got, f"no {type_} event"
    return got[-1]


def reimported(m: TMarket, make_app: Callable[..., App], edit: Callable[[Any], None]) -> TMarket:
    """A new chain from ``m``'s exported state, its training genesis edited by ``edit``."""
    doc = copy.deepcopy(m.genesis_doc)
    doc["app_state"] = m.app.export_genesis()
    edit(doc["app_state"]["training"])
    new = TMarket(make_app(doc))
    new.genesis_doc = doc
    new.oracle_keys = dict(m.oracle_keys)  # the oracle's attestation key is the test's
    return new


# -- post: the limits --------------------------------------------------------------------
def test_each_limit_is_taken_at_the_limit_and_refused_one_past_naming_the_field(
    make_market: Callable[..., TMarket],
) -> None:
    m = make_market(
        training={"max_shards": 2, "max_rounds": 3, "max_targets": 2},
        jobs={"min_price": 5 * VCN, "max_result_blocks": 20},
    )
    price = {"price_per_shard": str(5 * VCN), "aggregate_price": str(5 * VCN)}
    at: list[dict[str, Any]] = [
        {"shards": 2, "rounds": 1},
        {"rounds": 3},
        {"target_modules": ["q_proj", "v_proj"]},
        {"shard_blocks": 20},
        {},  # both prices at the jobs min_price
    ]
    for n, fields in enumerate(at, start=1):
        r = m.post_training(**{**price, **fields})
        assert r.code == 0, (fields, r.log)
        assert m.training(n)["state"] == "running"
    past: list[tuple[dict[str, Any], str]] = [
        ({"shards": 3}, "shards is at most 2 (param max_shards); got 3"),
        ({"rounds": 4}, "rounds is at most 3 (param max_rounds); got 4"),
        ({"target_modules": ["q_proj", "v_proj", "k_proj"]}, "target_modules names at most 2"),
        ({"shard_blocks": 21}, "shard_blocks is at most 20 (jobs max_result_blocks)"),
        (
            {"price_per_shard": str(5 * VCN - 1)},
            f"price_per_shard must be at least {5 * VCN}avcn (the jobs min_price)",
        ),
        (
            {"aggregate_price": str(5 * VCN - 1)},
            f"aggregate_price must be at least {5 * VCN}avcn (the jobs min_price)",
        ),
    ]
    held = m.module_balance("training")
    for fields, says in past:
        r = m.post_training(**{**price, **fields})
        assert r.code != 0 and says in r.log, (fields, r.log)
    assert m.module_balance("training") == held
    assert len(m.q("training", "trainings", poster=POSTER.bech32)["trainings"]) == len(at)


# -- what the events say -------------------------------------------------------------------
def test_a_one_round_training_tells_its_escrow_window_rounds_jobs_and_updates(
    m: TMarket,
) -> None:
    assert m.post_training(rounds=1, shard_blocks=7).code == 0
    assert last(m, "TrainingPosted")["escrow"] == f"{ESCROW1}avcn"
    t = m.training(1)
    assert (t["aggregation"], t["shard_blocks"]) == ("ffa-mean", 7)
    jobs = open_jobs(t)
    assert last(m, "TrainingRoundStarted") == {
        "training_id": "1",
        "round": "0",
        "jobs": ",".join(map(str, jobs)),
    }
    assert [m.job(j).result_blocks for j in jobs] == [7, 7]  # the shard window, not the default
    m.finish(W1, jobs[0])
    m.finish(W2, jobs[1])
    agg = m.training(1)["rounds_detail"][0]["aggregate_job"]
    assert last(m, "TrainingAggregatePosted") == {
        "training_id": "1",
        "round": "0",
        "job_id": str(agg),
        "updates": "2",
    }
    assert m.job(agg).result_blocks == 7
    m.finish(W1, agg)
    assert last(m, "TrainingRoundAggregated")["round"] == "0"
    assert m.training(1)["state"] == "completed"


def test_a_round_with_no_accepted_shard_fails_saying_so_and_what_came_back(
    make_market: Callable[..., TMarket],
) -> None:
    m = make_market(training={"max_shard_attempts": 1}, jobs={"default_claim_blocks": 3})
    assert m.post_training(rounds=1).code == 0
    jobs = open_jobs(m.training(1))
    m.blocks_until(max(m.job(j).claim_deadline for j in jobs) + 1)
    reasons = [e["reason"] for e in m.events("TrainingShardDropped")]
    assert reasons == [f"1 attempts used; last: job {j} expired" for j in jobs]
    assert m.events("TrainingFailed") == [
        {
            "training_id": "1",
            "reason": "no shard of round 0 was accepted",
            "refunded": f"{ESCROW1}avcn",
        }
    ]


def test_an_aggregate_out_of_attempts_fails_naming_the_last_job(
    make_market: Callable[..., TMarket],
) -> None:
    m = make_market(training={"max_shard_attempts": 2})
    assert m.post_training(rounds=1).code == 0
    jobs = open_jobs(m.training(1))
    m.finish(W1, jobs[0])
    m.finish(W2, jobs[1])
    first = m.training(1)["rounds_detail"][0]["aggregate_job"]
    m.finish(W1, first, honest=False)
    second = m.training(1)["rounds_detail"][0]["aggregate_job"]
    assert last(m, "TrainingAggregatePosted")["job_id"] == str(second)
    m.finish(W2, second, honest=False)
    assert last(m, "TrainingFailed") == {
        "training_id": "1",
        "reason": f"round 0's aggregate: 2 attempts used; last: job {second} rejected",
        "refunded": f"{ESCROW1 - 2 * FLOOR}avcn",
    }


def test_cancel_gives_the_waiting_aggregate_job_its_reason(m: TMarket) -> None:
    assert m.post_training().code == 0
    jobs = open_jobs(m.training(1))
    m.finish(W1, jobs[0])
    m.finish(W2, jobs[1])
    agg = m.training(1)["rounds_detail"][0]["aggregate_job"]
    assert m.tx(POSTER, tm.MsgCancelTraining(poster=POSTER.bech32, training_id=1)).code == 0
    j = m.job(agg)
    assert (j.state, j.last_error) == ("cancelled", "training 1 cancelled")


# -- the budget at a price and one avcn under ---------------------------------------------
@pytest.fixture
def half_done(m: TMarket) -> TMarket:
    """A 2-round training (28 VCN) with round 0's shard 0 settled and shard 1 open:
    20 VCN of escrow left (10 posted, 2 of shard 0's back)."""
    assert m.post_training().code == 0
    m.finish(W1, open_jobs(m.training(1))[0])
    assert m.training(1)["escrow_left"] == str(20 * VCN)
    return m


def priced(field: str, value: int) -> Callable[[Any], None]:
    def edit(g: Any) -> None:
        g["trainings"][0][field] = str(value)

    return edit


@pytest.mark.parametrize("short", [0, 1], ids=["exactly", "one-under"])
def test_the_aggregate_posts_on_exactly_its_price_and_fails_one_avcn_short(
    half_done: TMarket, make_app: Callable[..., App], short: int
) -> None:
    # shard 1 settling brings 2 VCN back: 22 VCN left when the aggregate is due
    m = reimported(half_done, make_app, priced("aggregate_price", 22 * VCN + short))
    job = open_jobs(m.training(1))[0]
    before = m.balance(POSTER)
    m.finish(W2, job)
    t = m.training(1)
    agg = t["rounds_detail"][0]["aggregate_job"]
    if not short:
        assert (t["state"], t["escrow_left"]) == ("running", "0")
        assert m.job(agg).max_price == 22 * VCN
        assert last(m, "TrainingAggregatePosted")["job_id"] == str(agg)
        return
    assert (t["state"], t["escrow_left"], agg) == ("failed", "0", 0)
    assert m.events("TrainingFailed") == [
        {
            "training_id": "1",
            "reason": "the budget is short for round 0's aggregate",
            "refunded": f"{22 * VCN}avcn",
        }
    ]
    assert not m.events("TrainingAggregatePosted")
    assert m.balance(POSTER) == before + 22 * VCN
    assert m.module_balance("training") == 0


@pytest.mark.parametrize("short", [0, 1], ids=["exactly", "one-under"])
def test_a_rounds_shards_post_on_exactly_their_price_and_drop_one_avcn_short(
    half_done: TMarket, make_app: Callable[..., App], short: int
) -> None:
    # 22 VCN when shard 1 settles, 4 to the aggregate, 1 back when it settles: round 1
    # starts with 19 VCN for its two shards
    left = 19 * VCN
    price = left // 2 + short
    m = reimported(half_done, make_app, priced("price_per_shard", price))
    m.finish(W2, open_jobs(m.training(1))[0])
    m.finish(W1, m.training(1)["rounds_detail"][0]["aggregate_job"])
    t = m.training(1)
    assert (t["state"], t["round"]) == ("running", 1)
    shards = t["rounds_detail"][1]["shards"]
    started = last(m, "TrainingRoundStarted")
    assert started["round"] == "1"
    if not short:
        assert [s["state"] for s in shards] == ["open", "open"]
        assert t["escrow_left"] == "0"
        assert started["jobs"] == f"{shards[0]['job_id']},{shards[1]['job_id']}"
        assert not m.events("TrainingShardDropped")
        return
    assert [s["state"] for s in shards] == ["open", "dropped"]
    assert (shards[1]["job_id"], shards[1]["attempts"]) == (0, 0)
    assert t["escrow_left"] == str(left - price)
    assert started["jobs"] == str(shards[0]["job_id"])
    assert m.events("TrainingShardDropped") == [
        {
            "training_id": "1",
            "round": "1",
            "shard": "1",
            "reason": f"the training's budget is short ({left - price}avcn left)",
        }
    ]
    # the round goes on with the one shard it could pay for
    m.finish(W2, shards[0]["job_id"])
    assert last(m, "TrainingAggregatePosted")["updates"] == "1"


# -- paths only a hand-made genesis reaches ------------------------------------------------
@pytest.fixture
def both_open(m: TMarket) -> TMarket:
    """A 2-round training with both of round 0's shards open: 18 VCN left."""
    assert m.post_training().code == 0
    return m


def test_a_job_of_an_old_round_only_gives_its_refund_back_to_the_budget(
    both_open: TMarket, make_app: Callable[..., App]
) -> None:
    def to_round_1(g: Any) -> None:
        g["trainings"][0]["round"] = 1  # with no record of round 1

    m = reimported(both_open, make_app, to_round_1)
    jobs = open_jobs(both_open.training(1))
    m.finish(W2, jobs[1])
    t = m.training(1)
    assert (t["round"], t["escrow_left"]) == (1, str(20 * VCN))
    rd0 = t["rounds_detail"][0]
    assert [s["state"] for s in rd0["shards"]] == ["open", "open"]  # not taken into round 0
    assert m.module_balance("training") == 20 * VCN
    # a cancel with no record of the training's round refunds the budget
    before = m.balance(POSTER)
    r = m.tx(POSTER, tm.MsgCancelTraining(poster=POSTER.bech32, training_id=1))
    assert r.code == 0, r.log
    assert last(m, "TrainingCancelled")["refunded"] == f"{20 * VCN}avcn"
    assert before < m.balance(POSTER) <= before + 20 * VCN
    assert m.job(jobs[0]).state == "queued"  # round 0's job is not the round's any more


def test_a_job_indexed_as_an_aggregate_the_round_never_posted_changes_nothing_else(
    both_open: TMarket, make_app: Callable[..., App]
) -> None:
    jobs = open_jobs(both_open.training(1))

    def as_aggregate(g: Any) -> None:
        for ref in g["jobs"]:
            if ref["job_id"] == str(jobs[1]):
                del ref["shard"]
                ref["aggregate"] = True

    m = reimported(both_open, make_app, as_aggregate)
    m.finish(W2, jobs[1])
    t = m.training(1)
    assert t["escrow_left"] == str(20 * VCN)
    rd0 = t["rounds_detail"][0]
    assert [s["state"] for s in rd0["shards"]] == ["open", "open"]
    assert (rd0["aggregate_job"], rd0["global_out"]) == (0, "")
    assert m.module_balance("training") == 20 * VCN


def test_a_job_indexed_as_another_open_shard_does_not_settle_that_shard(
    both_open: TMarket, make_app: Callable[..., App]
) -> None:
    jobs = open_jobs(both_open.training(1))

    def as_shard_0(g: Any) -> None:
        for ref in g["jobs"]:
            if ref["job_id"] == str(jobs[1]):
                ref["shard"] = 0

    m = reimported(both_open, make_app, as_shard_0)
    m.finish(W2, jobs[1])
    t = m.training(1)
    shards = t["rounds_detail"][0]["shards"]
    assert [(s["state"], s["job_id"], s["worker"]) for s in shards] == [
        ("open", jobs[0], ""),
        ("open", jobs[1], ""),
    ]
    assert t["escrow_left"] == str(20 * VCN)


# -- job_owner -----------------------------------------------------------------------------
def test_job_owner_names_the_poster_of_a_training_job_and_nobody_for_others(
    m: TMarket,
) -> None:
    assert m.post_training(rounds=1).code == 0
    k = m.app.wiring.keepers["training"]
    assert isinstance(k, TrainingKeeper)
    ctx = m.app.query_ctx().branch()
    shard = m.job(open_jobs(m.training(1))[0])
    assert k.job_owner(ctx, shard) == POSTER.address
    assert k.job_owner(ctx, shard.with_(poster=POSTER.address)) is None  # not the module's
    assert k.job_owner(ctx, shard.with_(id=999)) is None  # the module's, not indexed
    state.set_job_ref(ctx, 998, {"training": 9, "round": 0, "shard": 0})
    assert k.job_owner(ctx, shard.with_(id=998)) is None  # indexed to no training


def test_a_genesis_round_out_of_aggregate_attempts_fails_when_its_shards_settle(
    both_open: TMarket, make_app: Callable[..., App]
) -> None:
    def attempts_used(g: Any) -> None:
        g["trainings"][0]["rounds_detail"][0]["aggregate_attempts"] = 3  # max_shard_attempts

    m = reimported(both_open, make_app, attempts_used)
    for w, job in zip((W1, W2), open_jobs(m.training(1)), strict=True):
        m.finish(w, job)
    t = m.training(1)
    assert (t["state"], t["rounds_detail"][0]["aggregate_job"]) == ("failed", 0)
    # no aggregate job ended before it: the reason has no last job to name
    assert last(m, "TrainingFailed")["reason"] == "round 0's aggregate: 3 attempts used; last: "
    assert not m.events("TrainingAggregatePosted")
