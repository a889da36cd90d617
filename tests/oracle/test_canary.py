"""Canaries through a real App: planned from a real job, committed before the claim,
revealed after the submission; a wrong salt or a late commitment is refused."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import secrets
from collections.abc import Callable

import pytest

from app.app import App
from oracle import canary
from oracle.expected import runtime_spec
from tests.support.chain import CHAIN_ID, test_key
from tests.support.genesis import market_genesis
from tests.support.market import VCN, Market, code, output_of

WORKER, USER, ORACLE, POSTER = test_key(0), test_key(10), test_key(20), test_key(11)
# No sampling (only the canary judges) and a long challenge window (time to reveal).
NEVER = {"base_sample_bps": 0, "low_rep_factor_bps": 0, "challenge_window_blocks": 50}


def market(make_app: Callable[..., App]) -> Market:
    m = Market(make_app(market_genesis(verification=NEVER)))
    assert m.bond_oracle(ORACLE, "o1").code == 0
    m.setup_worker(WORKER)
    return m


def user_job(m: Market) -> dict:
    inline = json.dumps({"prompts": ["Write a haiku about rain", "Summarise: the cat sat"]})
    jid = m.post(
        USER,
        max_price=3 * VCN,
        prompt=inline.encode(),
        priority=2,
        spec='{"params": {"max_new_tokens": 24}}',
    )
    return m.q("jobs", "job", id=jid)


def test_a_canary_copies_the_real_job_but_not_its_input() -> None:
    template = {
        "id": "7",
        "task_type": "text-generation",
        "model": "tiny-lm",
        "max_price": "3000",
        "priority": 2,
        "spec": '{"params": {"max_new_tokens": 24}}',
        "claim_blocks": 50,
        "result_blocks": 10,
        "inline_input": base64.b64encode(
            json.dumps({"prompts": ["Write a haiku about rain", "x" * 200]}).encode()
        ).decode(),
    }
    p = canary.plan_from(template, None, random.Random(1))
    assert p is not None
    for k in ("task_type", "model", "max_price", "priority", "spec", "claim_blocks"):
        assert str(p.fields[k]) == str(template[k])
    doc = json.loads(p.inline)
    assert len(doc["prompts"]) == 2 and doc["prompts"][0] != "Write a haiku about rain"
    assert 150 <= len(doc["prompts"][1]) <= 250  # about the template's size
    spec = runtime_spec(p.pseudo_job(), "ab" * 32)
    assert spec["input"] == {"sha256": hashlib.sha256(p.inline).hexdigest()}
    assert spec["params"] == {"max_new_tokens": 24}
    plain = {**template, "inline_input": base64.b64encode(b"just text").decode()}
    assert canary.plan_from(plain, None, random.Random(1)) is None  # cannot run: no model


def test_the_posting_rate_follows_the_param_and_the_stake_share() -> None:
    rng = random.Random(5)
    n = 40_000
    # 5 % of all jobs are canaries → 5/95 canaries per user job; half the stake → half of that
    hits = sum(canary.should_post(500, 5_000, rng) for _ in range(n))
    expected = n * 500 / 9_500 * 0.5
    assert abs(hits - expected) < 4 * (expected**0.5)
    assert not canary.should_post(0, 10_000, rng) and not canary.should_post(500, 0, rng)


@pytest.mark.parametrize("honest", [True, False])
def test_commit_then_reveal_settles_the_canary(make_app: Callable[..., App], honest: bool) -> None:
    m = market(make_app)
    p = canary.plan_from(user_job(m), None, random.Random(2))
    assert p is not None
    jid = m.post(POSTER, prompt=p.inline, **{k: v for k, v in p.fields.items() if k != "model"})
    expected, salt = output_of(jid).hex(), secrets.token_hex(32)
    r = m.tx(ORACLE, canary.commit_msg(ORACLE.bech32, jid, expected, salt))
    assert r.code == 0, r.log
    assert m.claim(WORKER, jid).code == 0
    assert m.submit(WORKER, jid, output=output_of(jid, honest)).code == 0
    r = m.tx(ORACLE, canary.reveal_msg(ORACLE.bech32, jid, expected, salt, POSTER, CHAIN_ID))
    assert r.code == 0, r.log
    revealed = [dict(e.attributes) for e in r.events if e.type == "CanaryRevealed"][0]
    assert revealed["matched"] == str(honest).lower()
    assert m.job(jid).state == ("settled" if honest else "rejected")


def test_a_wrong_salt_or_a_late_commitment_is_refused(make_app: Callable[..., App]) -> None:
    m = market(make_app)
    jid = m.post(POSTER, max_price=2 * VCN)
    expected, salt = output_of(jid).hex(), secrets.token_hex(32)
    assert m.tx(ORACLE, canary.commit_msg(ORACLE.bech32, jid, expected, salt)).code == 0
    assert m.claim(WORKER, jid).code == 0
    assert m.submit(WORKER, jid, output=output_of(jid, honest=False)).code == 0
    m.block([])  # the sampling draw (not picked): from here only a reveal changes the job
    before = (m.q("verification", "status", job_id=jid), m.q("jobs", "job", id=jid))

    wrong = m.tx(
        ORACLE,
        canary.reveal_msg(ORACLE.bech32, jid, expected, secrets.token_hex(32), POSTER, CHAIN_ID),
    )
    assert code(wrong) == ("verification", 11), wrong.log  # no commitment matches
    assert (m.q("verification", "status", job_id=jid), m.q("jobs", "job", id=jid)) == before

    # a commitment made after the claim cannot convict the worker
    late_salt = secrets.token_hex(32)
    assert m.tx(ORACLE, canary.commit_msg(ORACLE.bech32, jid, expected, late_salt)).code == 0
    late = m.tx(
        ORACLE, canary.reveal_msg(ORACLE.bech32, jid, expected, late_salt, POSTER, CHAIN_ID)
    )
    assert code(late) == ("verification", 12), late.log
    assert m.job(jid).state == "submitted"

    assert (
        m.tx(ORACLE, canary.reveal_msg(ORACLE.bech32, jid, expected, salt, POSTER, CHAIN_ID)).code
        == 0
    )
    assert m.job(jid).state == "rejected"
