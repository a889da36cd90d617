"""A reveal must come from whoever made the job a canary or a plant.

Job ids are sequential, so any active oracle can commit "canaries" or "plants" for
the next ids with a made-up hash. Without more, it could then open one on a real
user's job and have the honest worker (a canary) or every oracle that passed the
honest result (a plant) punished as cheaters. So a reveal carries a signature by the
job's poster account key (canary) or worker account key (plant) over
``canary.reveal_sign_bytes(chain id, job id, commitment)``; the chain refuses it
otherwise (verification code 16) and nobody is touched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.app import App
from chain.crypto import PrivateKey
from chain.results import TxResult
from modules.verification import canary
from modules.verification import msgs as vm
from tests.support.chain import CHAIN_ID, test_key
from tests.support.genesis import h32, market_genesis
from tests.support.market import VCN, Market, code, output_of

HONEST_W, PLANT_W, ATTACK_W = test_key(0), test_key(1), test_key(2)
USER, CANARY_POSTER = test_key(10), test_key(11)
O1, O2, ATTACKER = test_key(20), test_key(21), test_key(23)
ALL = {"base_sample_bps": 10_000, "max_sample_bps": 10_000, "attest_window_blocks": 5}
NONE = {"base_sample_bps": 0, "low_rep_factor_bps": 0, "challenge_window_blocks": 20}
SALT = bytes(range(16))
MADE_UP = h32("whatever the attacker likes")
NOT_CONTROLLER = ("verification", 16)


def make(make_app: Callable[..., App], **verification: Any) -> Market:
    m = Market(make_app(market_genesis(verification=verification)))
    for key, name in ((O1, "o1"), (O2, "o2"), (ATTACKER, "attacker")):
        assert m.bond_oracle(key, name).code == 0
    for w in (HONEST_W, PLANT_W, ATTACK_W):
        m.setup_worker(w, price_floor=VCN)
    return m


def ok(r: TxResult) -> None:
    assert r.code == 0, r.log


def penalties(m: Market, key: PrivateKey) -> int:
    return int(m.reputation.stats(m.ctx(), key.address).penalties_bps)


def active_oracle(m: Market, key: PrivateKey) -> bool:
    return m.staking.is_active(m.ctx(), key.address, "oracle")


def precommitted_user_job(m: Market, planted: bool) -> int:
    """The attacker commits made-up canaries (or plants) for the next job ids, then a
    real user posts the next job; returns its id (one the attacker committed to)."""
    before = m.post(USER, max_price=2 * VCN)
    for jid in range(before + 1, before + 4):
        ok(m.commit_canary(ATTACKER, jid, MADE_UP, SALT, planted))
    jid = m.post(USER, max_price=2 * VCN)
    assert jid == before + 1
    return jid


def reveal(
    m: Market,
    key: PrivateKey,
    jid: int,
    expected: bytes,
    controller: PrivateKey | None,
    planted: bool = False,
) -> TxResult:
    return m.reveal_canary(key, jid, expected, SALT, controller, planted)


def test_a_third_oracles_false_canary_on_a_users_job_is_refused(
    make_app: Callable[..., App],
) -> None:
    m = make(make_app, **NONE)
    jid = precommitted_user_job(m, planted=False)
    ok(m.claim(HONEST_W, jid))
    ok(m.submit(HONEST_W, jid, output=output_of(jid)))
    earned_before = m.balance(HONEST_W)
    # it holds neither the user's key nor the worker's: whatever it signs with fails
    for controller in (None, ATTACKER, ATTACK_W, PrivateKey.from_seed(b"fresh")):
        r = reveal(m, ATTACKER, jid, MADE_UP, controller)
        assert code(r) == NOT_CONTROLLER, r.log
        assert "poster" in r.log and USER.bech32 in r.log
    assert m.job(jid).state == "submitted"
    assert penalties(m, HONEST_W) == 0 and m.score(HONEST_W) == 10_000
    # the honest result settles as if nothing happened, and the worker is paid
    m.blocks_until(m.job(jid).submitted_height + 20)
    assert m.job(jid).state == "settled"
    assert m.balance(HONEST_W) > earned_before
    assert penalties(m, HONEST_W) == 0 and m.score(HONEST_W) == 10_000


def test_a_third_oracles_false_plant_on_an_honest_job_is_refused(
    make_app: Callable[..., App],
) -> None:
    m = make(make_app, **ALL)
    jid = precommitted_user_job(m, planted=True)
    ok(m.claim(HONEST_W, jid))
    ok(m.submit(HONEST_W, jid, output=output_of(jid)))
    m.block([])  # the draw: picked
    ok(m.attest(O1, jid, "pass"))
    ok(m.attest(O2, jid, "pass"))  # 2 of 3 oracle stake: a quorum
    m.block([])
    assert m.job(jid).state == "settled"
    # its own worker account did not submit this result, nor did the attacker
    for controller in (None, ATTACK_W, ATTACKER, USER):
        r = reveal(m, ATTACKER, jid, MADE_UP, controller, planted=True)
        assert code(r) == NOT_CONTROLLER, r.log
        assert "worker" in r.log and HONEST_W.bech32 in r.log
    for oracle in (O1, O2):
        assert penalties(m, oracle) == 0 and active_oracle(m, oracle)
    assert penalties(m, HONEST_W) == 0


def test_a_genuine_canary_signed_by_its_poster_still_catches_a_cheat(
    make_app: Callable[..., App],
) -> None:
    m = make(make_app, **NONE)
    jid = m.post(CANARY_POSTER, max_price=2 * VCN)  # the oracle's fresh poster key
    ok(m.commit_canary(O1, jid, output_of(jid), SALT))
    ok(m.claim(HONEST_W, jid))
    ok(m.submit(HONEST_W, jid, output=output_of(jid, honest=False)))  # it cheats this time
    r = reveal(m, O1, jid, output_of(jid), CANARY_POSTER)
    ok(r)
    assert [dict(e.attributes)["matched"] for e in r.events if e.type == "CanaryRevealed"] == [
        "false"
    ]
    m.block([])
    assert m.job(jid).state == "rejected"
    assert penalties(m, HONEST_W) == 2_000


def test_a_genuine_plant_signed_by_its_worker_still_catches_a_lazy_oracle(
    make_app: Callable[..., App],
) -> None:
    m = make(make_app, **ALL)
    jid = m.post(USER, max_price=2 * VCN)
    ok(m.commit_canary(ATTACKER, jid, output_of(jid), SALT, planted=True))  # O3 plants
    ok(m.claim(PLANT_W, jid))
    ok(m.submit(PLANT_W, jid, output=output_of(jid, honest=False)))
    m.block([])
    ok(m.attest(O1, jid, "pass"))  # never ran it
    m.blocks_until(int(m.pending(jid)["due"]))
    assert m.job(jid).state == "settled"
    # the poster's key is the wrong one for a plant
    r = reveal(m, ATTACKER, jid, output_of(jid), USER, planted=True)
    assert code(r) == NOT_CONTROLLER, r.log
    assert penalties(m, O1) == 0
    ok(reveal(m, ATTACKER, jid, output_of(jid), PLANT_W, planted=True))
    assert penalties(m, O1) == 2_000 and not active_oracle(m, O1)
    assert penalties(m, O2) == 0 and active_oracle(m, O2)


def signed(jid: int, expected: bytes, sig: bytes) -> Any:
    return vm.MsgRevealCanary(
        oracle=O1.bech32,
        job_id=jid,
        expected_output_hash=expected.hex(),
        salt=SALT.hex(),
        controller_signature=sig,
    )


def test_a_signature_by_the_wrong_key_or_over_other_bytes_is_refused(
    make_app: Callable[..., App],
) -> None:
    m = make(make_app, **NONE)
    jid = m.post(CANARY_POSTER, max_price=2 * VCN)
    other = m.post(CANARY_POSTER, max_price=2 * VCN)
    expected = output_of(jid)
    ok(m.commit_canary(O1, jid, expected, SALT))
    ok(m.claim(HONEST_W, jid))
    ok(m.submit(HONEST_W, jid, output=output_of(jid, honest=False)))
    c = canary.commitment(jid, expected, SALT)
    another_c = canary.commitment(jid, expected, bytes(16))
    cases = {
        "the worker's key": HONEST_W.sign(canary.reveal_sign_bytes(CHAIN_ID, jid, c)),
        "the oracle's own key": O1.sign(canary.reveal_sign_bytes(CHAIN_ID, jid, c)),
        "another job": CANARY_POSTER.sign(canary.reveal_sign_bytes(CHAIN_ID, other, c)),
        "another chain": CANARY_POSTER.sign(canary.reveal_sign_bytes("other-chain", jid, c)),
        "another commitment": CANARY_POSTER.sign(
            canary.reveal_sign_bytes(CHAIN_ID, jid, another_c)
        ),
    }
    for what, sig in cases.items():
        r = m.tx(O1, signed(jid, expected, sig))
        assert code(r) == NOT_CONTROLLER, what
        assert "does not verify with the key of job" in r.log, what
    r = m.tx(O1, signed(jid, expected, bytes(63)))
    assert code(r) == ("verification", 14) and "64-byte" in r.log
    assert m.job(jid).state == "submitted" and penalties(m, HONEST_W) == 0
    right = CANARY_POSTER.sign(canary.reveal_sign_bytes(CHAIN_ID, jid, c))
    ok(m.tx(O1, signed(jid, expected, right)))
    m.block([])
    assert m.job(jid).state == "rejected"


def test_a_missing_signature_is_refused_naming_the_fix(make_app: Callable[..., App]) -> None:
    m = make(make_app, **NONE)
    jid = m.post(CANARY_POSTER, max_price=2 * VCN)
    ok(m.commit_canary(O1, jid, output_of(jid), SALT))
    ok(m.claim(HONEST_W, jid))
    ok(m.submit(HONEST_W, jid, output=output_of(jid, honest=False)))
    r = reveal(m, O1, jid, output_of(jid), None)
    assert code(r) == NOT_CONTROLLER
    for words in (
        "must prove the revealer controls the job's poster",
        "vcoin/reveal/v1",
        CHAIN_ID,
        CANARY_POSTER.bech32,
        "controller_signature",
        "--controller KEY",
    ):
        assert words in r.log, words
    assert m.job(jid).state == "submitted" and penalties(m, HONEST_W) == 0
