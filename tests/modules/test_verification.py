"""Verification over a real App: the sampling draw from a later block's hash, the
challenge window, oracle attestations with a stake quorum, the window rule,
canary commit and reveal, and refusals with stable codes that change nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from app.app import App
from chain.results import BlockResult
from modules.verification.keeper import draw_value
from tests.support.chain import block_hash, test_key
from tests.support.genesis import market_genesis
from tests.support.market import VCN, Market, code, oracle_key, output_of

W1, W2 = test_key(0), test_key(1)
POSTER = test_key(10)
O1, O2, O3 = test_key(20), test_key(21), test_key(22)
ALL = {"base_sample_bps": 10_000, "max_sample_bps": 10_000}
NONE = {"base_sample_bps": 0, "low_rep_factor_bps": 0}
SALT = bytes(range(16))


def make(make_app: Callable[..., App], oracles: int = 1, **verification: Any) -> Market:
    m = Market(make_app(market_genesis(verification=verification)))
    for key, name in list(zip((O1, O2, O3), ("o1", "o2", "o3"), strict=True))[:oracles]:
        assert m.bond_oracle(key, name).code == 0
    m.setup_worker(W1, price_floor=VCN)
    return m


def submitted(m: Market, worker: Any = W1, honest: bool = True) -> int:
    jid = m.post(POSTER, max_price=2 * VCN)
    assert m.claim(worker, jid).code == 0
    assert m.submit(worker, jid, output=output_of(jid, honest)).code == 0
    return jid


def picked(m: Market, honest: bool = True) -> int:
    jid = submitted(m, honest=honest)
    m.block([])  # the draw
    assert m.job(jid).state == "checking"
    return jid


def reveal_msg(key: Any, jid: int, expected: bytes, salt: bytes) -> Any:
    """A canary reveal, signed by the job's poster (POSTER posts every test job)."""
    from modules.verification import canary
    from modules.verification import msgs as vm
    from tests.support.chain import CHAIN_ID

    return vm.MsgRevealCanary(
        oracle=key.bech32,
        job_id=jid,
        expected_output_hash=expected.hex(),
        salt=salt.hex(),
        controller_signature=canary.sign_reveal(POSTER, CHAIN_ID, jid, expected, salt),
    )


def evs(b: BlockResult, type_: str) -> list[dict[str, str]]:
    all_ = list(b.events) + [e for t in b.tx_results for e in t.events]
    return [dict(e.attributes) for e in all_ if e.type == type_]


# -- sampling ----------------------------------------------------------------------------
def test_sample_rate_rises_as_reputation_falls(make_app: Callable[..., App]) -> None:
    m = make(make_app)
    p = m.app.wiring.params_owners["verification"]
    assert p.get_params(m.app.query_ctx())["base_sample_bps"] == 1000
    from modules.verification.params import Params

    rates = [Params().sample_rate_bps(s) for s in (10_000, 7_500, 5_000, 2_500, 0)]
    assert rates == [1000, 2000, 3000, 4000, 5000]
    assert m.q("verification", "sample_rate", address=W1.bech32) == {
        "score_bps": 10_000,
        "rate_bps": 1000,
    }
    m.hook("cheat", W1)  # −20 points
    assert m.q("verification", "sample_rate", address=W1.bech32)["rate_bps"] == 1800


def documented_draw(block_hash: bytes, job_id: int) -> int:
    """The draw as the keeper's docstring defines it, written out here: uint64(sha256(
    "vcoin/sample/v1" ‖ block hash ‖ job id as 8 bytes, big-endian)[:8]) mod 10000."""
    seed = hashlib.sha256(b"vcoin/sample/v1" + block_hash + job_id.to_bytes(8, "big")).digest()
    return int.from_bytes(seed[:8], "big") % 10_000


def test_the_draw_on_fixed_vectors() -> None:
    # sha256("vcoin/sample/v1" ‖ 32 zero bytes ‖ 00..01) starts a911cfc91cdf0243
    assert draw_value(bytes(32), 1) == 0xA911CFC91CDF0243 % 10_000 == 5619
    assert draw_value(bytes(range(32)), 2**40 + 7) == 0x4E9E8F893698ECAC % 10_000 == 5900
    assert documented_draw(bytes(32), 1) == 5619  # the helper below, checked too


def test_the_draw_uses_the_hash_of_the_block_after_submission(
    make_app: Callable[..., App],
) -> None:
    m = make(make_app, base_sample_bps=5000, max_sample_bps=5000, low_rep_factor_bps=0)
    m.setup_worker(W2, price_floor=VCN, max_concurrent=64)
    outcomes = []
    for _ in range(12):
        jid = m.post(POSTER)
        m.claim(W2, jid)
        m.submit(W2, jid)
        draw_block = m.block([])
        expect = documented_draw(block_hash(m.height, []), jid) < 5000
        got = evs(draw_block, "ResultSampled")
        assert got and got[0]["picked"] == str(expect).lower()
        assert m.job(jid).state == ("checking" if expect else "submitted")
        outcomes.append(expect)
    assert True in outcomes and False in outcomes  # both ways happen at 50 %


def test_unpicked_result_settles_when_the_challenge_window_ends(
    make_app: Callable[..., App],
) -> None:
    m = make(make_app, challenge_window_blocks=4, **NONE)
    jid = submitted(m)
    sub = m.job(jid).submitted_height
    m.blocks_until(sub + 2)
    assert m.job(jid).state == "submitted" and m.pending(jid)["stage"] == "window"
    assert code(m.attest(O1, jid, "fail")) == ("verification", 6)  # not picked: no say
    m.block([])
    assert m.job(jid).state == "settled" and m.pending(jid) is None


# -- attestations and quorum -------------------------------------------------------------------
def test_two_of_three_oracles_make_a_quorum_and_the_dissenter_is_penalised(
    make_app: Callable[..., App],
) -> None:
    m = make(make_app, oracles=3, **ALL)
    jid = picked(m)
    assert m.attest(O3, jid, "fail").code == 0
    assert m.attest(O1, jid, "pass").code == 0
    assert m.job(jid).state == "checking"  # 1/3 each way: no quorum yet
    b = m.run(O2, m.attest_msg(O2, jid, "pass"))
    assert b.tx_results[0].code == 0
    assert m.job(jid).state == "settled"
    verdict = evs(b, "VerdictReached")[0]
    assert verdict["how"] == "quorum" and verdict["verdict"] == "pass"
    penalised = evs(b, "OraclePenalised")
    assert [p["address"] for p in penalised] == [O3.bech32]
    assert m.reputation.stats(m.ctx(), O3.address).penalties_bps == 500
    assert m.reputation.stats(m.ctx(), O1.address).penalties_bps == 0
    assert code(m.attest(O3, jid, "pass")) == ("verification", 6)  # decided already


def test_a_failing_quorum_rejects_the_result(make_app: Callable[..., App]) -> None:
    m = make(make_app, oracles=1, **ALL)
    jid = picked(m, honest=False)
    b = m.run(O1, m.attest_msg(O1, jid, "fail"))
    assert b.tx_results[0].code == 0
    assert m.job(jid).state == "rejected"
    punished = evs(b, "CheatingPunished")
    assert punished and punished[0]["address"] == W1.bech32


def test_window_rule_one_of_two_oracles_decides_at_the_deadline(
    make_app: Callable[..., App],
) -> None:
    m = make(make_app, oracles=2, attest_window_blocks=5, **ALL)
    jid = picked(m, honest=False)
    deadline = int(m.pending(jid)["due"])
    assert m.attest(O1, jid, "fail").code == 0
    assert m.job(jid).state == "checking"  # half the stake is no quorum
    blocks = m.blocks_until(deadline)
    assert m.job(jid).state == "rejected"
    assert evs(blocks[-1], "VerdictReached")[0]["how"] == "window"


def test_without_attestations_a_picked_result_lapses_to_a_pass(
    make_app: Callable[..., App],
) -> None:
    m = make(make_app, oracles=2, attest_window_blocks=5, **ALL)
    jid = picked(m)
    blocks = m.blocks_until(int(m.pending(jid)["due"]))
    assert m.job(jid).state == "settled"
    assert evs(blocks[-1], "VerdictReached")[0]["how"] == "lapsed"


def test_bad_attestations_are_refused_and_change_nothing(make_app: Callable[..., App]) -> None:
    m = make(make_app, oracles=2, **ALL)
    jid = picked(m)
    waiting = m.post(POSTER)  # a job with no result picked for checking
    assert m.attest(O1, jid, "pass").code == 0
    before = m.q("verification", "status", job_id=jid)
    stranger = test_key(30)
    m.oracle_keys[stranger.address] = oracle_key("stranger")
    cases = [
        (stranger, m.attest_msg(stranger, jid), ("verification", 3)),  # not an oracle
        (O1, m.attest_msg(O1, jid), ("verification", 7)),  # twice
        (O2, m.attest_msg(O2, 999), ("verification", 5)),  # unknown job
        (O2, m.attest_msg(O2, waiting), ("verification", 6)),  # not picked
        (O2, m.attest_msg(O2, jid, signer=oracle_key("o1")), ("verification", 8)),  # forged
        (O2, m.attest_msg(O2, jid, chain_id="other-chain"), ("verification", 8)),
        (O2, m.attest_msg(O2, jid, "pass", similarity=9_000), ("verification", 9)),
    ]
    for key, msg, want in cases:
        r = m.tx(key, msg)
        assert code(r) == want, r.log
    assert m.q("verification", "status", job_id=jid) == before
    assert m.job(jid).state == "checking"


def test_checking_query_lists_jobs_waiting_for_oracles(make_app: Callable[..., App]) -> None:
    m = make(make_app, **ALL)
    a, b = picked(m), picked(m)
    got = m.q("verification", "checking")["pending"]
    assert [int(p["job_id"]) for p in got] == [a, b]
    assert got[0]["worker"] == W1.bech32


# -- canaries ---------------------------------------------------------------------------------
def canary_job(m: Market, honest: bool, salt: bytes = SALT) -> tuple[int, bytes]:
    jid = m.post(POSTER, max_price=2 * VCN)
    expected = output_of(jid)
    r = m.commit_canary(O1, jid, expected, salt)
    assert r.code == 0, r.log
    assert all("job_id" not in dict(e.attributes) for e in r.events)  # nothing says which job
    assert m.claim(W1, jid).code == 0
    assert m.submit(W1, jid, output=output_of(jid, honest)).code == 0
    return jid, expected


def test_canary_reveal_matching_output_settles_at_once(make_app: Callable[..., App]) -> None:
    m = make(make_app, challenge_window_blocks=50, **NONE)
    jid, expected = canary_job(m, honest=True)
    b = m.run(O1, reveal_msg(O1, jid, expected, SALT))
    assert b.tx_results[0].code == 0, b.tx_results[0].log
    assert m.job(jid).state == "settled"
    assert evs(b, "VerdictReached")[0]["how"] == "canary"


def test_canary_mismatch_is_cheating(make_app: Callable[..., App]) -> None:
    m = make(make_app, challenge_window_blocks=50, **NONE)
    jid, expected = canary_job(m, honest=False)
    m.block([])  # after the draw, still inside the window
    r = m.reveal_canary(O1, jid, expected, SALT, POSTER)
    assert r.code == 0
    assert m.job(jid).state == "rejected"
    assert m.reputation.stats(m.ctx(), W1.address).penalties_bps == 2_000


def test_bad_canary_reveals_are_refused_and_change_nothing(make_app: Callable[..., App]) -> None:
    m = make(make_app, oracles=2, challenge_window_blocks=50, **NONE)
    jid, expected = canary_job(m, honest=False)
    late = m.post(POSTER)
    m.claim(W1, late)
    assert m.commit_canary(O1, late, output_of(late), SALT).code == 0  # after the claim
    m.submit(W1, late)
    queued = m.post(POSTER)
    cases = [
        (O1, jid, expected, bytes(16), ("verification", 11)),  # wrong salt
        (O1, jid, output_of(jid, False), SALT, ("verification", 11)),  # wrong expected hash
        (O2, jid, expected, SALT, ("verification", 11)),  # another oracle's commitment
        (O1, late, output_of(late), SALT, ("verification", 12)),  # committed after the claim
        (O1, queued, output_of(queued), SALT, ("verification", 13)),  # no result yet
    ]
    for key, job, exp, salt, want in cases:
        r = m.reveal_canary(key, job, exp, salt, POSTER)
        assert code(r) == want, r.log
    assert m.job(jid).state == "submitted" and m.pending(jid) is not None
    assert m.reputation.stats(m.ctx(), W1.address).penalties_bps == 0
    assert m.reveal_canary(O1, jid, expected, SALT, POSTER).code == 0  # the right one works


def test_commitments_need_an_oracle_are_unique_and_expire(make_app: Callable[..., App]) -> None:
    m = make(make_app, canary_ttl_blocks=3, **NONE)
    assert code(m.commit_canary(POSTER, 1, output_of(1), SALT)) == ("verification", 3)
    assert m.commit_canary(O1, 1, output_of(1), SALT).code == 0
    assert code(m.commit_canary(O1, 1, output_of(1), SALT)) == ("verification", 10)
    from modules.verification.canary import commitment

    c = commitment(1, output_of(1), SALT).hex()
    assert m.q("verification", "canary", commitment=c)["oracle"] == O1.bech32
    m.blocks_until(m.height + 3)
    with pytest.raises(Exception, match="no such commitment"):
        m.q("verification", "canary", commitment=c)
