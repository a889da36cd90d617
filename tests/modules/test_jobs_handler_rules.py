"""The jobs handlers' limits and records, where scripts/mutation showed no test held
them: every size and count limit at, and one past, its bound; what a re-registered
worker keeps (its first height, its running jobs, no stale model listing); what a posted
job records (a given input hash, its GPU requirements) and enforces on a claim; and the
reasons a cancelled or released job is left with."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from app.app import App
from chain.results import TxResult
from modules.jobs import msgs as jm
from tests.support.chain import block_events, test_key
from tests.support.genesis import h32, market_genesis
from tests.support.market import VCN, Market, code, job_id_of

W1, W2 = test_key(0), test_key(1)
POSTER = test_key(10)
NO_SAMPLING = {"base_sample_bps": 0, "low_rep_factor_bps": 0, "challenge_window_blocks": 2}
LIMITS = {
    "max_worker_models": 2,
    "max_concurrent_jobs": 5,
    "min_price": 100,
    "max_priority": 4,
    "max_inline_input_bytes": 16,
    "max_spec_bytes": 24,
    "max_compute_units": 1_000,
}
INVALID_JOB, INVALID_WORKER, INVALID_RESULT, CAPABILITY = 5, 19, 21, 13


@pytest.fixture
def m(make_app: Callable[..., App]) -> Market:
    return Market(make_app(market_genesis(verification=NO_SAMPLING, jobs=LIMITS)))


def register(m: Market, **kw: Any) -> TxResult:
    """W1 registers (again) with ``kw`` over the defaults."""
    return m.tx(W1, m.register_worker_msg(W1, **kw))


def post(m: Market, **kw: Any) -> TxResult:
    kw.setdefault("max_price", 10 * VCN)
    return m.tx(POSTER, m.post_msg(POSTER, **kw))


# -- worker registration -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("models", "ok"),
    [(["tiny-lm"], True), (["tiny-lm", "minilm"], True), (["tiny-lm", "minilm", "big-lm"], False)],
)
def test_a_worker_serves_at_most_max_worker_models(m: Market, models: list[str], ok: bool) -> None:
    r = register(m, models=models, task_types=["text-generation", "embedding"])
    if ok:
        assert r.code == 0, r.log
        assert m.q("jobs", "worker", address=W1.bech32)["models"] == sorted(models)
    else:
        assert code(r) == ("jobs", INVALID_WORKER) and "at most 2 models" in r.log
        assert m.q("jobs", "workers")["workers"] == []


@pytest.mark.parametrize(("n", "ok"), [(4, True), (5, True), (6, False)])
def test_max_concurrent_is_at_most_max_concurrent_jobs(m: Market, n: int, ok: bool) -> None:
    r = register(m, max_concurrent=n)
    if ok:
        assert r.code == 0, r.log
        assert m.q("jobs", "worker", address=W1.bech32)["max_concurrent"] == n
    else:
        assert code(r) == ("jobs", INVALID_WORKER) and "max_concurrent is at most 5" in r.log


def test_a_worker_registered_again_keeps_its_height_and_running_jobs(m: Market) -> None:
    m.setup_worker(W1, gpu_model="NVIDIA L4")
    first = m.q("jobs", "worker", address=W1.bech32)
    assert first["registered_height"] == m.height and first["gpu_model"] == "NVIDIA L4"
    jid = m.post(POSTER, max_price=VCN)
    assert m.claim(W1, jid).code == 0
    assert m.q("jobs", "worker", address=W1.bech32)["active"] == 1
    assert register(m, gpu_model="NVIDIA H200", max_concurrent=2).code == 0
    again = m.q("jobs", "worker", address=W1.bech32)
    assert again["gpu_model"] == "NVIDIA H200" and again["max_concurrent"] == 2
    assert again["registered_height"] == first["registered_height"] < m.height
    assert again["active"] == 1  # the claimed job still counts against its slots
    assert m.submit(W1, jid).code == 0
    assert m.q("jobs", "worker", address=W1.bech32)["active"] == 0


def test_a_model_dropped_on_registering_again_no_longer_lists_the_worker(m: Market) -> None:
    m.setup_worker(W1, models=["tiny-lm", "minilm"], task_types=["text-generation", "embedding"])
    assert register(m, models=["minilm"], task_types=["embedding"]).code == 0
    jid = m.post(POSTER, max_price=VCN)  # a tiny-lm job, which W1 no longer serves
    why = m.q("jobs", "why_unclaimed", id=jid)
    assert why["workers"]["serve_model"] == 0, why
    assert "no registered worker serves model 'tiny-lm'" in why["reasons"]


# -- posting -------------------------------------------------------------------------------
@pytest.mark.parametrize(("price", "ok"), [(99, False), (100, True), (101, True)])
def test_a_job_offers_at_least_min_price(m: Market, price: int, ok: bool) -> None:
    r = post(m, max_price=price)
    assert (r.code == 0) is ok, r.log
    if not ok:
        assert code(r) == ("jobs", INVALID_JOB) and "at least 100avcn" in r.log


@pytest.mark.parametrize(("priority", "ok"), [(3, True), (4, True), (5, False)])
def test_priority_is_at_most_max_priority(m: Market, priority: int, ok: bool) -> None:
    r = post(m, priority=priority)
    assert (r.code == 0) is ok, r.log
    if not ok:
        assert code(r) == ("jobs", INVALID_JOB) and "priority is 0..4; got 5" in r.log


@pytest.mark.parametrize(("size", "ok"), [(15, True), (16, True), (17, False)])
def test_inline_input_is_at_most_max_inline_input_bytes(m: Market, size: int, ok: bool) -> None:
    r = post(m, prompt=b"x" * size)
    assert (r.code == 0) is ok, r.log
    if not ok:
        assert code(r) == ("jobs", INVALID_JOB) and "the limit is 16" in r.log


@pytest.mark.parametrize(("size", "ok"), [(23, True), (24, True), (25, False)])
def test_the_spec_is_at_most_max_spec_bytes(m: Market, size: int, ok: bool) -> None:
    spec = '{"k": "' + "v" * (size - 9) + '"}'
    assert len(spec.encode()) == size
    r = post(m, spec=spec)
    assert (r.code == 0) is ok, r.log
    if ok:
        assert m.job(job_id_of(r)).spec == spec
    else:
        assert code(r) == ("jobs", INVALID_JOB) and "spec is over 24 bytes" in r.log


def test_a_job_posted_with_an_input_hash_keeps_that_hash(m: Market) -> None:
    h = h32("an input in the artifact store")
    jid = m.post(POSTER, max_price=VCN, prompt=b"", input_hash=h.hex())
    assert m.job(jid).input_hash == h
    inline = m.post(POSTER, max_price=VCN, prompt=b"hi")
    assert m.job(inline).input_hash == hashlib.sha256(b"hi").digest()


def test_a_jobs_gpu_requirements_are_recorded_and_bind_the_claim(m: Market) -> None:
    m.setup_worker(W1, memory_mib=24_000, gpu_count=1, gpu_model="NVIDIA L4")
    m.setup_worker(W2, memory_mib=80_000, gpu_count=2, gpu_model="NVIDIA H100 80GB")
    need = {"min_gpu_memory_mib": 40_000, "min_gpu_count": 2, "gpu_model": "H100"}
    jid = m.post(POSTER, max_price=VCN, **need)
    j = m.job(jid)
    assert (j.min_gpu_memory_mib, j.min_gpu_count, j.gpu_model) == (40_000, 2, "H100")
    r = m.claim(W1, jid)
    assert code(r) == ("jobs", CAPABILITY) and "needs 40000 MiB" in r.log
    assert m.claim(W2, jid).code == 0


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("min_gpu_count", 2, "the job needs 2 GPUs; the worker has 1"),
        ("gpu_model", "H100", "needs a H100 GPU; the worker has NVIDIA L4"),
    ],
)
def test_each_gpu_requirement_alone_refuses_a_worker_short_of_it(
    m: Market, field: str, value: Any, says: str
) -> None:
    m.setup_worker(W1, memory_mib=24_000, gpu_count=1, gpu_model="NVIDIA L4")
    jid = m.post(POSTER, max_price=VCN, **{field: value})
    r = m.claim(W1, jid)
    assert code(r) == ("jobs", CAPABILITY) and says in r.log, r.log
    assert m.job(jid).state == "queued"


# -- results and endings -------------------------------------------------------------------
@pytest.mark.parametrize(("units", "ok"), [(999, True), (1_000, True), (1_001, False)])
def test_compute_units_are_at_most_max_compute_units(m: Market, units: int, ok: bool) -> None:
    m.setup_worker(W1)
    jid = m.post(POSTER, max_price=VCN)
    assert m.claim(W1, jid).code == 0
    r = m.submit(W1, jid, units=units)
    assert (r.code == 0) is ok, r.log
    if ok:
        j = m.job(jid)
        assert j.compute_units == units and j.state == "submitted"
        assert j.artifact_ref == f"artifact://{j.output_hash.hex()}"
    else:
        assert code(r) == ("jobs", INVALID_RESULT) and "at most 1000" in r.log
        assert m.job(jid).state == "claimed"


def test_a_cancelled_job_records_that_its_poster_cancelled_it(m: Market) -> None:
    jid = m.post(POSTER, max_price=VCN)
    assert m.cancel(POSTER, jid).code == 0
    j = m.job(jid)
    assert (j.state, j.last_error) == ("cancelled", "cancelled by the poster")


@pytest.mark.parametrize(
    ("retry", "reason", "state", "recorded"),
    [
        (True, "", "queued", "given back"),
        (False, "", "failed", "the job cannot run"),
        (True, "out of memory", "queued", "out of memory"),
        (False, "bad input", "failed", "bad input"),
    ],
)
def test_a_released_job_records_the_workers_reason_or_a_default(
    m: Market, retry: bool, reason: str, state: str, recorded: str
) -> None:
    m.setup_worker(W1)
    jid = m.post(POSTER, max_price=VCN)
    assert m.claim(W1, jid).code == 0
    msg = jm.MsgReleaseJob(worker=W1.bech32, job_id=jid, reason=reason, retry=retry)
    blocks = [m.run(W1, msg)]
    assert blocks[0].tx_results[0].code == 0, blocks[0].tx_results[0].log
    j = m.job(jid)
    assert (j.state, j.last_error) == (state, recorded)
    assert j.last_timeout_worker == b""  # given back, not timed out
    if retry:
        assert block_events(blocks, "JobRequeued")[0]["reason"] == recorded
    else:
        assert block_events(blocks, "JobFailed") == [
            {"job_id": str(jid), "worker": W1.bech32, "reason": recorded}
        ]
    assert m.q("jobs", "worker", address=W1.bech32)["active"] == 0
