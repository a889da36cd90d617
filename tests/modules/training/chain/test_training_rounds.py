"""A training on the chain, driven with real signed txs: its rounds of shard jobs
and aggregates, who is paid when, and where every coin of its escrow goes
(invariants, the training account's included, after every block)."""

from __future__ import annotations

from collections.abc import Callable

from app.app import App
from modules.training import msgs as tm
from modules.training.records import shard_weight
from tests.modules.training.chain.conftest import (
    DATASET,
    FLOOR,
    MANIFEST,
    POSTER,
    W1,
    W2,
    TMarket,
    inline,
    open_jobs,
)
from tests.support.chain import PLATFORM, test_key
from tests.support.market import output_of
from tests.support.stake import VCN

ESCROW = 2 * (2 * 5 + 4) * VCN  # rounds × (shards × price_per_shard + aggregate_price)


def test_a_2x2_training_completes_paying_every_worker_each_round(m: TMarket) -> None:
    before = m.balance(POSTER)
    r = m.post_training()
    assert r.code == 0, r.log
    tid = int(m.events("TrainingPosted")[0]["training_id"])
    assert m.balance(POSTER) <= before - ESCROW  # the whole budget (and the tx fee) left
    assert m.module_balance("training") == ESCROW - 2 * 5 * VCN  # round 0's shards posted
    adapter = ""
    for rnd in range(2):
        t = m.training(tid)
        assert (t["state"], t["round"]) == ("running", rnd)
        jobs = open_jobs(t)
        assert len(jobs) == 2
        for i, job_id in enumerate(jobs):
            j = m.job(job_id)
            assert (j.task_type, j.model, j.max_price) == ("lora-shard", "tiny-lora", 5 * VCN)
            inp = inline(m, job_id)
            assert (inp["training"], inp["round"], inp["shard"], inp["shards"]) == (tid, rnd, i, 2)
            assert (inp["dataset"], inp["manifest"], inp["global"]) == (DATASET, MANIFEST, adapter)
            assert inp["config"]["targets"] == ["q_proj", "v_proj"]
            assert m.q("training", "by_job", job_id=job_id) == {
                "training": tid,
                "round": rnd,
                "shard": i,
            }
        paid_before = (m.balance(W1), m.balance(W2))
        m.finish(W1, jobs[0])
        m.finish(W2, jobs[1])
        # each worker was paid for its shard of this round, by the jobs settlement
        paid = {e["job_id"]: e for e in m.events("WorkerPaid")}
        for w, job_id in ((W1, jobs[0]), (W2, jobs[1])):
            assert paid[str(job_id)]["worker"] == w.bech32
        assert m.balance(W1) > paid_before[0] and m.balance(W2) > paid_before[1]
        rd = m.training(tid)["rounds_detail"][rnd]
        assert [(s["state"], s["worker"]) for s in rd["shards"]] == [
            ("accepted", W1.bech32),
            ("accepted", W2.bech32),
        ]
        agg = rd["aggregate_job"]
        assert m.job(agg).task_type == "lora-aggregate"
        assert m.q("training", "by_job", job_id=agg)["aggregate"] is True
        assert inline(m, agg)["updates"] == [
            {"shard": i, "sha256": output_of(jobs[i]).hex(), "weight": shard_weight(10, 2, i)}
            for i in range(2)
        ]
        m.finish(W1, agg)
        adapter = output_of(agg).hex()
        assert m.training(tid)["rounds_detail"][rnd]["global_out"] == adapter
        got = [e["global"] for e in m.events("TrainingRoundAggregated")]
        assert got[-1] == adapter
    t = m.training(tid)
    assert (t["state"], t["adapter"], t["escrow_left"]) == ("completed", adapter, "0")
    # 4 shards and 2 aggregates, each at the workers' floor; the rest came back
    spent = 6 * FLOOR
    done = m.events("TrainingCompleted")
    assert done == [
        {"training_id": str(tid), "adapter": adapter, "refunded": f"{ESCROW - spent}avcn"}
    ]
    assert m.module_balance("training") == 0
    listed = m.q("training", "trainings", poster=POSTER.bech32)["trainings"]
    assert [x["id"] for x in listed] == [tid]


def test_an_aggregate_is_always_checked_while_shards_are_not_sampled(m: TMarket) -> None:
    assert m.post_training(rounds=1).code == 0
    t = m.training(1)
    jobs = open_jobs(t)
    m.finish(W1, jobs[0])
    m.finish(W2, jobs[1])
    agg = m.training(1)["rounds_detail"][0]["aggregate_job"]
    m.finish(W1, agg)
    sampled = {e["job_id"]: e for e in m.events("ResultSampled")}
    assert [sampled[str(j)]["picked"] for j in jobs] == ["false", "false"]
    assert (sampled[str(agg)]["picked"], sampled[str(agg)]["rate_bps"]) == ("true", "10000")
    assert m.q("verification", "params")["always_check_tasks"] == ["lora-aggregate"]
    assert m.training(1)["state"] == "completed"


def test_a_rejected_shard_is_reposted_and_left_out_of_the_aggregate(
    make_market: Callable[..., TMarket],
) -> None:
    m = make_market(verification={"base_sample_bps": 10_000, "max_sample_bps": 10_000})
    assert m.post_training(rounds=1).code == 0
    first = open_jobs(m.training(1))
    m.finish(W1, first[0], honest=False)  # caught: rejected, W1 punished
    assert m.job(first[0]).state == "rejected"
    assert m.events("JobRejected")[-1]["job_id"] == str(first[0])
    rd = m.training(1)["rounds_detail"][0]
    again = rd["shards"][0]
    assert again["state"] == "open" and again["attempts"] == 2 and again["job_id"] != first[0]
    req = m.events("TrainingShardRequeued")[-1]
    assert (req["old_job"], req["job_id"]) == (str(first[0]), str(again["job_id"]))
    m.finish(W2, again["job_id"])
    m.finish(W2, first[1])
    agg = m.training(1)["rounds_detail"][0]["aggregate_job"]
    shas = [u["sha256"] for u in inline(m, agg)["updates"]]
    assert shas == [output_of(again["job_id"]).hex(), output_of(first[1]).hex()]
    assert output_of(first[0], honest=False).hex() not in shas
    m.finish(W2, agg)
    assert m.training(1)["state"] == "completed"


def test_failed_and_expired_shards_are_reposted_then_dropped_past_the_attempts(
    make_market: Callable[..., TMarket],
) -> None:
    m = make_market(training={"max_shard_attempts": 2}, jobs={"default_claim_blocks": 4})
    assert m.post_training(rounds=1).code == 0
    first = open_jobs(m.training(1))
    # shard 0: its worker says it cannot run (failed), then nobody claims it (expired)
    assert m.claim(W1, first[0]).code == 0
    assert m.release(W1, first[0], retry=False, reason="bad input").code == 0
    assert m.job(first[0]).state == "failed"
    second = m.training(1)["rounds_detail"][0]["shards"][0]["job_id"]
    assert second != first[0]
    assert m.events("TrainingShardRequeued")[-1] == {
        "training_id": "1",
        "round": "0",
        "shard": "0",
        "old_job": str(first[0]),
        "job_id": str(second),
        "reason": f"job {first[0]} failed",
    }
    m.finish(W2, first[1])
    m.blocks_until(max(m.height, m.job(second).claim_deadline + 1))
    assert m.job(second).state == "expired"
    rd = m.training(1)["rounds_detail"][0]
    assert (rd["shards"][0]["state"], rd["shards"][0]["attempts"]) == ("dropped", 2)
    assert m.events("TrainingShardDropped")[-1] == {
        "training_id": "1",
        "round": "0",
        "shard": "0",
        "reason": f"2 attempts used; last: job {second} expired",
    }
    # the aggregate takes the one accepted update
    updates = inline(m, rd["aggregate_job"])["updates"]
    assert [u["shard"] for u in updates] == [1]
    # 14 VCN escrowed; the failed and the expired shard jobs came back whole, the
    # settled one its unspent 2 VCN; out: 5 + 5 + 5 (three shard posts) and 4 (aggregate)
    left = int(m.training(1)["escrow_left"])
    assert left == 14 * VCN - 15 * VCN - 4 * VCN + 5 * VCN + 5 * VCN + (5 * VCN - FLOOR)
    assert left == m.module_balance("training")


def test_a_round_with_no_accepted_shard_fails_the_training_and_refunds(
    make_market: Callable[..., TMarket],
) -> None:
    m = make_market(training={"max_shard_attempts": 1}, jobs={"default_claim_blocks": 3})
    before = m.balance(POSTER)
    assert m.post_training(rounds=1).code == 0
    jobs = open_jobs(m.training(1))
    m.blocks_until(max(m.job(j).claim_deadline for j in jobs) + 1)
    t = m.training(1)
    assert (t["state"], t["escrow_left"]) == ("failed", "0")
    assert m.module_balance("training") == 0
    assert m.balance(POSTER) > before - VCN  # the whole escrow came back (fee aside)


def test_cancel_refunds_the_unspent_now_and_in_flight_refunds_later(m: TMarket) -> None:
    assert m.post_training().code == 0
    jobs = open_jobs(m.training(1))
    assert m.claim(W1, jobs[0]).code == 0
    r = m.tx(W2, tm.MsgCancelTraining(poster=W2.bech32, training_id=1))
    assert r.code != 0 and "posted by" in r.log
    before = m.balance(POSTER)
    r = m.tx(POSTER, tm.MsgCancelTraining(poster=POSTER.bech32, training_id=1))
    assert r.code == 0, r.log
    assert m.job(jobs[1]).state == "cancelled"
    assert m.job(jobs[0]).state == "claimed"
    # escrow_left (round 1 and the aggregate) and the queued shard came back at once
    back = ESCROW - 5 * VCN
    assert m.events("TrainingCancelled")[-1]["refunded"] == f"{back}avcn"
    assert before < m.balance(POSTER) <= before + back
    assert m.module_balance("training") == 0
    assert m.training(1)["state"] == "cancelled"
    again = m.tx(POSTER, tm.MsgCancelTraining(poster=POSTER.bech32, training_id=1))
    assert again.code != 0 and "cancelled" in again.log
    # the job in flight settles: its worker is paid, its unspent price goes to the poster
    mid = m.balance(POSTER)
    assert m.submit(W1, jobs[0]).code == 0
    m.blocks_until(m.height + 3)
    assert m.job(jobs[0]).state == "settled"
    assert m.balance(POSTER) == mid + 5 * VCN - FLOOR
    assert m.module_balance("training") == 0
    assert m.training(1)["rounds_detail"][0]["aggregate_job"] == 0


def test_a_job_the_jobs_module_refuses_later_drops_the_shard_and_the_block_goes_on(
    make_market: Callable[..., TMarket],
) -> None:
    m = make_market(jobs={"default_claim_blocks": 4})
    assert m.post_training(rounds=1).code == 0
    jobs = open_jobs(m.training(1))
    # the authority raises the jobs min price over both of the training's prices
    r = m.update_params(PLATFORM, "jobs", {"min_price": 6 * VCN})
    assert r.code == 0, r.log
    m.finish(W2, jobs[1])
    m.blocks_until(max(m.height, m.job(jobs[0]).claim_deadline + 1))
    assert m.job(jobs[0]).state == "expired"
    t = m.training(1)
    assert t["rounds_detail"][0]["shards"][0]["state"] == "dropped"
    assert "refused" in m.events("TrainingShardDropped")[-1]["reason"]
    assert (t["state"], t["escrow_left"]) == ("failed", "0")
    assert "refused" in m.events("TrainingFailed")[-1]["reason"]
    assert m.module_balance("training") == 0


def test_the_same_txs_give_the_same_app_hash_and_export(
    m: TMarket, make_app: Callable[..., App]
) -> None:
    assert m.post_training(rounds=1).code == 0
    jobs = open_jobs(m.training(1))
    m.finish(W1, jobs[0])
    assert m.claim(W2, jobs[1]).code == 0
    assert m.release(W2, jobs[1], retry=False, reason="bad input").code == 0
    replica = make_app(m.genesis_doc)
    m.replay(replica)
    assert replica.info().last_block_app_hash == m.app_hash
    assert replica.export_genesis()["training"] == m.app.export_genesis()["training"]


def test_a_worker_without_the_internal_task_types_cannot_claim_a_shard(m: TMarket) -> None:
    w = test_key(6)
    m.setup_worker(w, models=("tiny-lora",), task_types=("lora-train",))
    assert m.post_training(rounds=1).code == 0
    r = m.claim(w, open_jobs(m.training(1))[0])
    assert r.code != 0 and "does not run lora-shard jobs" in r.log


def test_a_rejected_aggregate_is_reposted_then_fails_the_training_past_the_attempts(
    make_market: Callable[..., TMarket],
) -> None:
    m = make_market(training={"max_shard_attempts": 2})
    assert m.post_training(rounds=1).code == 0
    jobs = open_jobs(m.training(1))
    m.finish(W1, jobs[0])
    m.finish(W2, jobs[1])
    first = m.training(1)["rounds_detail"][0]["aggregate_job"]
    m.finish(W1, first, honest=False)  # the oracle's recomputation differs: rejected
    rd = m.training(1)["rounds_detail"][0]
    second = rd["aggregate_job"]
    assert second != first and rd["aggregate_attempts"] == 2
    assert inline(m, second) == inline(m, first)  # the same updates again
    before = m.balance(POSTER)
    m.finish(W2, second, honest=False)
    t = m.training(1)
    assert (t["state"], t["adapter"], t["escrow_left"]) == ("failed", "", "0")
    assert "2 attempts" in m.events("TrainingFailed")[-1]["reason"]
    # round 0's shards were paid; the rest of the escrow came back
    assert m.balance(POSTER) == before + 14 * VCN - 2 * FLOOR
    assert m.module_balance("training") == 0


def test_cancel_while_the_aggregate_waits_cancels_it(m: TMarket) -> None:
    assert m.post_training().code == 0
    jobs = open_jobs(m.training(1))
    m.finish(W1, jobs[0])
    m.finish(W2, jobs[1])
    agg = m.training(1)["rounds_detail"][0]["aggregate_job"]
    before = m.balance(POSTER)
    assert m.tx(POSTER, tm.MsgCancelTraining(poster=POSTER.bech32, training_id=1)).code == 0
    assert m.job(agg).state == "cancelled"
    back = ESCROW - 2 * FLOOR
    assert m.events("TrainingCancelled")[-1]["refunded"] == f"{back}avcn"
    assert before < m.balance(POSTER) <= before + back
    assert m.module_balance("training") == 0
