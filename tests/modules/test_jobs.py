"""The jobs module over a real App: registry, posting and escrow, the queue, claims,
results, cancel, release and deadlines, the why-not-claimed query, and refusals
that change nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.app import App
from chain.crypto import module_address
from modules.jobs import msgs as jm
from tests.support.chain import ALICE, PLATFORM, test_key
from tests.support.genesis import h32, market_genesis, weights_of
from tests.support.market import VCN, Market, code, job_id_of

W1, W2, W3 = test_key(0), test_key(1), test_key(2)
POSTER, OTHER = test_key(10), test_key(11)
NO_SAMPLING = {"base_sample_bps": 0, "low_rep_factor_bps": 0, "challenge_window_blocks": 2}


@pytest.fixture
def m(make_app: Callable[..., App]) -> Market:
    return Market(make_app(market_genesis(verification=NO_SAMPLING)))


def escrow(m: Market) -> int:
    return m.balance(module_address("escrow"))


# -- registry --------------------------------------------------------------------------
def test_only_the_authority_registers_models(m: Market) -> None:
    msg = jm.MsgRegisterModel(
        authority=ALICE.bech32,
        model_id="new-lm",
        task_types=["text-generation"],
        weights_sha256=h32("w").hex(),
        config_sha256=h32("c").hex(),
        min_gpu_memory_mib=1000,
    )
    r = m.tx(ALICE, msg)
    assert code(r) == ("jobs", 3)
    assert "new-lm" not in [x["id"] for x in m.q("jobs", "models")["models"]]
    msg.authority = PLATFORM.bech32
    assert m.tx(PLATFORM, msg).code == 0
    got = m.q("jobs", "model", id="new-lm")
    assert got["min_gpu_memory_mib"] == 1000 and got["task_types"] == ["text-generation"]


def test_worker_registration_is_listed_and_updatable(m: Market) -> None:
    m.setup_worker(W1, models=["tiny-lm", "minilm"], task_types=["embedding", "text-generation"])
    w = m.q("jobs", "worker", address=W1.bech32)
    assert w["models"] == ["minilm", "tiny-lm"] and w["max_concurrent"] == 4
    r = m.tx(W1, m.register_worker_msg(W1, models=["nope"]))
    assert code(r) == ("jobs", 4)
    assert m.tx(W1, m.register_worker_msg(W1, max_concurrent=9)).code == 0
    assert m.q("jobs", "worker", address=W1.bech32)["max_concurrent"] == 9
    assert [x["address"] for x in m.q("jobs", "workers")["workers"]] == [W1.bech32]


# -- posting and escrow -----------------------------------------------------------------------
def test_post_escrows_the_max_price_and_queues_the_job(m: Market) -> None:
    before = m.balance(POSTER)
    jid = m.post(POSTER, max_price=7 * VCN)
    j = m.job(jid)
    assert j.state == "queued" and j.input_hash == h32_bytes(b"hello")
    assert escrow(m) == 7 * VCN
    assert before - m.balance(POSTER) > 7 * VCN  # the price plus the tx fee
    assert [x["id"] for x in m.q("jobs", "queue")["jobs"]] == [str(jid)]
    assert m.q("jobs", "jobs", poster=POSTER.bech32)["jobs"][0]["escrow"] == str(7 * VCN)


def h32_bytes(data: bytes) -> bytes:
    import hashlib

    return hashlib.sha256(data).digest()


def test_post_refusals_change_nothing(m: Market) -> None:
    base = m.app_hash
    bal = m.balance(POSTER)
    poor = test_key(39)
    bad = [
        (m.post_msg(POSTER, model="unknown-model"), ("jobs", 4)),
        (m.post_msg(POSTER, model="minilm"), ("jobs", 5)),  # minilm does embeddings only
        (m.post_msg(POSTER, priority=99), ("jobs", 5)),
        (m.post_msg(POSTER, prompt=b"x" * 5000), ("jobs", 5)),
        (m.post_msg(poor, max_price=m.balance(poor) + 1), ("sdk", 5)),
    ]
    for msg, want in bad:
        signer = poor if msg.poster == poor.bech32 else POSTER
        r = m.tx(signer, msg)
        assert code(r) == want, r.log
    assert escrow(m) == 0
    assert m.q("jobs", "jobs", state="queued")["jobs"] == []
    assert m.app_hash != base  # fees were paid …
    assert bal - m.balance(POSTER) == 4 * 200_000 * 10**9  # … and nothing but fees


def test_malformed_posts_are_refused_before_a_block(m: Market) -> None:
    for msg in (
        m.post_msg(POSTER, max_price=0),
        m.post_msg(POSTER, task_type="mining"),
        m.post_msg(POSTER, prompt=b"", input_hash="zz"),
        m.post_msg(POSTER, spec="not json"),
    ):
        r = m.check(m.sign(POSTER, [msg], count=False))
        assert r.codespace == "jobs" and r.code == 5, r.log


def test_queue_orders_by_price_then_priority_then_age(m: Market) -> None:
    a = m.post(POSTER, max_price=5 * VCN)
    b = m.post(POSTER, max_price=9 * VCN)
    c = m.post(POSTER, max_price=5 * VCN, priority=3)
    d = m.post(POSTER, max_price=5 * VCN)
    assert [int(x["id"]) for x in m.q("jobs", "queue")["jobs"]] == [b, c, a, d]
    assert [int(x["id"]) for x in m.q("jobs", "queue", limit=2)["jobs"]] == [b, c]


# -- claims -------------------------------------------------------------------------------
def test_claim_fixes_the_price_at_the_workers_ask(m: Market) -> None:
    m.setup_worker(W1, price_floor=3 * VCN)
    jid = m.post(POSTER, max_price=10 * VCN)
    r = m.claim(W1, jid)
    assert r.code == 0, r.log
    j = m.job(jid)
    assert (j.state, j.worker, j.price) == ("claimed", W1.address, 3 * VCN)
    assert j.result_deadline == m.height + 10
    assert m.q("jobs", "worker", address=W1.bech32)["active"] == 1
    assert m.q("jobs", "queue")["jobs"] == []


def test_a_worker_may_claim_under_its_floor_and_is_paid_the_max_price(m: Market) -> None:
    m.setup_worker(W1, price_floor=30 * VCN)
    jid = m.post(POSTER, max_price=10 * VCN)
    assert m.claim(W1, jid).code == 0
    assert m.job(jid).price == 10 * VCN


def test_ineligible_claims_are_refused_with_a_reason(m: Market) -> None:
    jid = m.post(POSTER)
    big = m.post(POSTER, model="big-lm")
    assert code(m.claim(W1, jid)) == ("jobs", 9)  # not registered
    assert m.tx(W1, m.register_worker_msg(W1, models=["tiny-lm", "big-lm"])).code == 0
    assert code(m.claim(W1, jid)) == ("jobs", 10)  # registered, not bonded
    assert m.bond_worker(W1).code == 0
    r = m.claim(W1, big)
    assert code(r) == ("jobs", 13) and "40000 MiB" in r.log
    assert code(m.claim(POSTER, jid)) == ("jobs", 18)  # own job
    m.hook("tombstone:worker", W1)
    r = m.claim(W1, jid)
    assert code(r) == ("jobs", 12) and "banned" in r.log
    assert m.job(jid).state == "queued"


def test_jailed_worker_cannot_claim(m: Market) -> None:
    m.setup_worker(W1)
    jid = m.post(POSTER)
    m.hook("cheat", W1)  # −20 points and jail
    r = m.claim(W1, jid)
    assert code(r) == ("jobs", 11) and "jailed until" in r.log


def test_claiming_twice_or_a_claimed_job_is_refused(m: Market) -> None:
    m.setup_worker(W1)
    m.setup_worker(W2)
    jid = m.post(POSTER)
    assert m.claim(W1, jid).code == 0
    h = m.app_hash
    r = m.claim(W1, jid)
    assert code(r) == ("jobs", 7) and "already claimed" in r.log
    r = m.claim(W2, jid)
    assert code(r) == ("jobs", 7)
    assert m.job(jid).worker == W1.address and m.app_hash != h
    assert code(m.claim(W2, 999)) == ("jobs", 6)


def test_capacity_limits_concurrent_claims(m: Market) -> None:
    m.setup_worker(W1, max_concurrent=2)
    ids = [m.post(POSTER) for _ in range(3)]
    assert m.claim(W1, ids[0]).code == 0 and m.claim(W1, ids[1]).code == 0
    assert code(m.claim(W1, ids[2])) == ("jobs", 14)
    assert m.submit(W1, ids[0]).code == 0  # a submission frees the slot
    assert m.claim(W1, ids[2]).code == 0


# -- results --------------------------------------------------------------------------------
def test_submit_records_the_result_and_its_receipt(m: Market) -> None:
    m.setup_worker(W1)
    jid = m.post(POSTER)
    m.claim(W1, jid)
    r = m.submit(W1, jid, units=250)
    assert r.code == 0, r.log
    j = m.job(jid)
    assert j.state == "submitted" and j.compute_units == 250
    assert j.receipt is not None and j.receipt.model_hash == weights_of("tiny-lm")
    assert m.pending(jid)["stage"] == "draw"


def test_bad_results_are_refused_and_change_nothing(m: Market) -> None:
    m.setup_worker(W1)
    m.setup_worker(W2)
    jid = m.post(POSTER)
    free = m.post(POSTER)
    m.claim(W1, jid)
    cases = [
        (W1, m.submit_msg(W1, free), ("jobs", 15)),  # unclaimed job
        (W2, m.submit_msg(W2, jid), ("jobs", 15)),  # someone else's job
        (W1, m.submit_msg(W1, jid, sign_with=W2), ("jobs", 17)),  # receipt by another key
        (W1, m.submit_msg(W1, jid, model_hash=h32("other weights")), ("jobs", 17)),
        (W1, m.submit_msg(W1, jid, chain_id="other-chain"), ("jobs", 17)),
    ]
    for key, msg, want in cases:
        r = m.tx(key, msg)
        assert code(r) == want, r.log
    assert m.job(jid).state == "claimed" and m.job(free).state == "queued"


def test_submitting_after_the_deadline_is_refused(m: Market) -> None:
    m.setup_worker(W1)
    jid = m.post(POSTER, result_blocks=2)
    m.claim(W1, jid)
    m.block([])
    m.block([])  # the deadline block: the claim is taken back at its end
    assert m.job(jid).state == "queued"
    r = m.submit(W1, jid)
    assert code(r) == ("jobs", 16) and "deadline" in r.log
    assert m.job(jid).state == "queued"


# -- cancel, release, deadlines -------------------------------------------------------------
def test_cancel_before_a_claim_refunds_in_full(m: Market) -> None:
    m.setup_worker(W1)
    jid = m.post(POSTER, max_price=4 * VCN)
    before = m.balance(POSTER)
    assert code(m.cancel(OTHER, jid)) == ("jobs", 8)
    r = m.cancel(POSTER, jid)
    assert r.code == 0
    assert m.balance(POSTER) - before == 4 * VCN - 200_000 * 10**9
    assert m.job(jid).state == "cancelled" and escrow(m) == 0
    taken = m.post(POSTER)
    m.claim(W1, taken)
    assert code(m.cancel(POSTER, taken)) == ("jobs", 7)


def test_unclaimed_job_expires_and_is_refunded(m: Market) -> None:
    jid = m.post(POSTER, max_price=4 * VCN, claim_blocks=3)
    before = m.balance(POSTER)
    blocks = [m.block([]) for _ in range(3)]
    assert m.job(jid).state == "expired"
    assert m.balance(POSTER) - before == 4 * VCN
    assert any(e.type == "JobExpired" for b in blocks for e in b.events)


def test_missed_result_deadline_counts_as_a_failure_and_requeues(m: Market) -> None:
    m.setup_worker(W1)
    m.setup_worker(W2)
    jid = m.post(POSTER, result_blocks=2)
    m.claim(W1, jid)
    m.blocks_until(m.height + 2)
    j = m.job(jid)
    assert (j.state, j.attempts, j.worker) == ("queued", 1, b"")
    stats = m.reputation.stats(m.ctx(), W1.address)
    assert (stats.successes, stats.total) == (0, 1)
    assert m.q("jobs", "worker", address=W1.bech32)["active"] == 0
    assert m.claim(W2, jid).code == 0  # someone else can finish it


def test_a_job_expires_after_max_attempts(m: Market) -> None:
    m.setup_worker(W1)
    jid = m.post(POSTER, result_blocks=1, max_price=3 * VCN)
    before = m.balance(POSTER)
    for _ in range(3):
        assert m.claim(W1, jid).code == 0
        m.block([])
    j = m.job(jid)
    assert j.state == "expired" and j.attempts == 3
    assert m.balance(POSTER) - before == 3 * VCN


def test_release_requeues_or_fails_the_job(m: Market) -> None:
    m.setup_worker(W1)
    a = m.post(POSTER)
    b = m.post(POSTER, max_price=2 * VCN)
    m.claim(W1, a)
    m.claim(W1, b)
    assert m.release(W1, a, retry=True, reason="shutting down").code == 0
    assert m.job(a).state == "queued" and m.job(a).last_error == "shutting down"
    before = m.balance(POSTER)
    assert m.release(W1, b, retry=False, reason="weights hash mismatch").code == 0
    j = m.job(b)
    assert j.state == "failed" and j.last_error == "weights hash mismatch"
    assert m.balance(POSTER) - before == 2 * VCN
    assert m.reputation.stats(m.ctx(), W1.address).total == 0  # not a failure of the worker


# -- why is my job not claimed? -------------------------------------------------------------------
def test_why_unclaimed_names_the_blocking_reason(m: Market) -> None:
    jid = m.post(POSTER, model="big-lm", max_price=2 * VCN)

    def why() -> str:
        return str(m.q("jobs", "why_unclaimed", id=jid)["reasons"][0])

    assert "no registered worker serves model 'big-lm'" in why()
    m.tx(W1, m.register_worker_msg(W1, models=["big-lm"], memory_mib=24_000, price_floor=5 * VCN))
    assert "enough GPU memory" in why() and "40000 MiB" in why()
    m.tx(W1, m.register_worker_msg(W1, models=["big-lm"], memory_mib=80_000, price_floor=5 * VCN))
    assert "unbonded, jailed or banned" in why()
    m.bond_worker(W1)
    assert "under every eligible worker's price floor" in why()
    m.tx(W1, m.register_worker_msg(W1, models=["big-lm"], memory_mib=80_000, max_concurrent=1))
    assert "1 workers could claim it now" in why()
    other = m.post(POSTER, model="big-lm")
    m.claim(W1, other)
    assert "at its concurrency limit" in why()


def test_jobs_queries_paginate(m: Market) -> None:
    ids = [m.post(POSTER) for _ in range(5)]
    page = m.q("jobs", "jobs", state="queued", limit=2)
    assert [int(j["id"]) for j in page["jobs"]] == ids[:2]
    page2 = m.q("jobs", "jobs", state="queued", limit=2, after=page["next_after"])
    assert [int(j["id"]) for j in page2["jobs"]] == ids[2:4]


def test_params_change_only_by_the_authority(m: Market) -> None:
    assert m.update_params(ALICE, "jobs", {"burn_bps": 0}).code != 0
    assert m.q("jobs", "params")["burn_bps"] == 1000
    r = m.update_params(PLATFORM, "jobs", {"burn_bps": 2000, "payout_bps": 8500})
    assert r.code != 0 and "at most 10000" in r.log
    assert m.update_params(PLATFORM, "jobs", {"burn_bps": 500}).code == 0
    assert m.q("jobs", "params")["burn_bps"] == 500


def test_a_large_inline_input_is_written_once_and_claims_stay_cheap(m: Market) -> None:
    m.setup_worker(W1)
    small = m.post(POSTER, prompt=b"hi")
    big_prompt = b"p" * 4000
    msg = m.post_msg(POSTER, prompt=big_prompt, spec='{"max_new_tokens": 16}')
    r = m.deliver_one(m.sign(POSTER, [msg], gas_limit=400_000))  # storing 4 kB costs gas once
    assert r.code == 0, r.log
    big = job_id_of(r)
    gas = {}
    for name, jid in (("small", small), ("big", big)):
        r = m.claim(W1, jid)
        assert r.code == 0
        gas[name] = r.gas_used
    # The claim reads the 4 kB input (3 gas a byte) but does not rewrite it (30 a byte).
    assert gas["big"] - gas["small"] < 20_000 and gas["big"] < 100_000
    assert m.submit(W1, big).code == 0
    j = m.q("jobs", "job", id=big)
    assert j["inline_text"] == big_prompt.decode() and j["spec"] == '{"max_new_tokens": 16}'
    assert m.job(big).input_hash == h32_bytes(big_prompt)
