"""A canary committed bound to its post (poster and input), not to its job id.

The id-bound commitment can only be made once the oracle can guess the job's id, so
it lands in the block before the post (or just after it), and its timing points a
watching worker at the next job. A commitment over sha256("vcoin/canary/v2" ‖ poster
‖ input hash ‖ expected ‖ salt) is the oracle's own choice before anything is posted
(``modules/verification/canary.py``), so it can be sent any time before the claim.
These tests hold the chain to the same rules for it as for the id-bound one: it opens
only on a job with that poster and that input, only once, only if it is older than the
claim, only for the oracle that sent it, only in its own domain (a canary is never
opened as a plant, nor the reverse), and the reveal is signed by the job's controller
over it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from app.app import App
from chain.crypto import PrivateKey
from chain.results import TxResult
from modules.jobs import msgs as jm
from modules.verification import canary
from modules.verification import msgs as vm
from tests.support.chain import test_key
from tests.support.genesis import market_genesis
from tests.support.market import VCN, Market, code, output_of

WORKER, PLANT_W = test_key(0), test_key(1)
POSTER, OTHER_POSTER, USER = test_key(11), test_key(12), test_key(10)
O1, O2, O3 = test_key(20), test_key(21), test_key(22)
NONE = {"base_sample_bps": 0, "low_rep_factor_bps": 0, "challenge_window_blocks": 20}
ALL = {"base_sample_bps": 10_000, "max_sample_bps": 10_000, "attest_window_blocks": 5}
SALT = bytes(range(16))
PROMPT = b"a canary's prompt, chosen before anything is posted"
NO_COMMITMENT, TOO_LATE, NOT_CONTROLLER = (
    ("verification", 11),
    ("verification", 12),
    ("verification", 16),
)


def make(make_app: Callable[..., App], **verification: object) -> Market:
    m = Market(make_app(market_genesis(verification=verification)))
    for key, name in ((O1, "o1"), (O2, "o2"), (O3, "o3")):
        assert m.bond_oracle(key, name).code == 0
    for w in (WORKER, PLANT_W):
        m.setup_worker(w, price_floor=VCN)
    return m


def ok(r: TxResult) -> None:
    assert r.code == 0, r.log


def penalties(m: Market, key: PrivateKey) -> int:
    return int(m.reputation.stats(m.ctx(), key.address).penalties_bps)


def matched(r: TxResult) -> list[str]:
    return [dict(e.attributes)["matched"] for e in r.events if e.type == "CanaryRevealed"]


def committed_then_posted(m: Market, expected: bytes, wait: int = 5) -> int:
    """O1 commits bound to the post, ``wait`` blocks go by, then POSTER posts ``PROMPT``."""
    ok(m.commit_post_canary(O1, POSTER, PROMPT, expected, SALT))
    for _ in range(wait):
        m.block([])
    return m.post(POSTER, max_price=2 * VCN, prompt=PROMPT)


def test_the_commitment_is_over_the_domain_poster_input_expected_and_salt() -> None:
    inp, exp = hashlib.sha256(PROMPT).digest(), output_of(1)
    want = hashlib.sha256(b"vcoin/canary/v2" + POSTER.address + inp + exp + SALT).digest()
    assert canary.post_commitment(POSTER.address, inp, exp, SALT) == want
    plant = hashlib.sha256(b"vcoin/plant/v2" + POSTER.address + inp + exp + SALT).digest()
    assert canary.post_commitment(POSTER.address, inp, exp, SALT, planted=True) == plant
    # never equal to the id-bound one of any id: another domain
    assert want not in {canary.commitment(j, exp, SALT) for j in range(1, 50)}


@pytest.mark.parametrize(
    ("poster", "inp", "exp", "salt"),
    [
        (bytes(19), bytes(32), bytes(32), SALT),
        (bytes(21), bytes(32), bytes(32), SALT),
        (bytes(20), bytes(31), bytes(32), SALT),
        (bytes(20), bytes(33), bytes(32), SALT),
        (bytes(20), bytes(32), bytes(31), SALT),
        (bytes(20), bytes(32), bytes(32), bytes(15)),
        (bytes(20), bytes(32), bytes(32), bytes(65)),
    ],
    ids=["poster-19", "poster-21", "input-31", "input-33", "expected-31", "salt-15", "salt-65"],
)
def test_wrong_lengths_are_refused(poster: bytes, inp: bytes, exp: bytes, salt: bytes) -> None:
    with pytest.raises(ValueError, match="bytes"):
        canary.post_commitment(poster, inp, exp, salt)


def test_the_lengths_at_the_bounds_are_taken() -> None:
    for salt in (bytes(16), bytes(64)):
        assert len(canary.post_commitment(bytes(20), bytes(32), bytes(32), salt)) == 32


def test_committed_blocks_before_the_post_it_catches_a_cheat(
    make_app: Callable[..., App],
) -> None:
    m = make(make_app, **NONE)
    committed_at = m.height + 1
    jid = committed_then_posted(m, output_of(1_000), wait=5)
    assert m.job(jid).posted_height >= committed_at + 6  # nothing ties the two in time
    ok(m.claim(WORKER, jid))
    ok(m.submit(WORKER, jid, output=output_of(jid, honest=False)))
    r = m.reveal_canary(O1, jid, output_of(1_000), SALT, POSTER, bound_to_post=True)
    ok(r)
    assert matched(r) == ["false"]
    m.block([])
    assert m.job(jid).state == "rejected"
    assert penalties(m, WORKER) == 2_000


def test_an_honest_result_matches_and_is_paid(make_app: Callable[..., App]) -> None:
    m = make(make_app, **NONE)
    expected = output_of(7)
    jid = committed_then_posted(m, expected)
    ok(m.claim(WORKER, jid))
    ok(m.submit(WORKER, jid, output=expected))
    before = m.balance(WORKER)
    r = m.reveal_canary(O1, jid, expected, SALT, POSTER, bound_to_post=True)
    ok(r)
    assert matched(r) == ["true"]
    m.block([])
    assert m.job(jid).state == "settled"
    assert m.balance(WORKER) > before and penalties(m, WORKER) == 0


def test_it_opens_on_no_other_input_nor_other_poster(make_app: Callable[..., App]) -> None:
    m = make(make_app, **NONE)
    ok(m.commit_post_canary(O1, POSTER, PROMPT, output_of(1), SALT))
    other_input = m.post(POSTER, max_price=2 * VCN, prompt=PROMPT + b"!")
    other_poster = m.post(OTHER_POSTER, max_price=2 * VCN, prompt=PROMPT)
    for jid, controller in ((other_input, POSTER), (other_poster, OTHER_POSTER)):
        ok(m.claim(WORKER, jid))
        ok(m.submit(WORKER, jid, output=output_of(jid, honest=False)))
        r = m.reveal_canary(O1, jid, output_of(1), SALT, controller, bound_to_post=True)
        assert code(r) == NO_COMMITMENT, r.log
        assert m.job(jid).input_hash.hex() in r.log and "check the salt" in r.log
        assert m.job(jid).state == "submitted"
    assert penalties(m, WORKER) == 0


def test_it_opens_once(make_app: Callable[..., App]) -> None:
    m = make(make_app, **NONE)
    jid = committed_then_posted(m, output_of(1), wait=0)
    again = m.post(POSTER, max_price=2 * VCN, prompt=PROMPT)  # the same post a second time
    for j in (jid, again):
        ok(m.claim(WORKER, j))
        ok(m.submit(WORKER, j, output=output_of(1)))
    ok(m.reveal_canary(O1, jid, output_of(1), SALT, POSTER, bound_to_post=True))
    r = m.reveal_canary(O1, again, output_of(1), SALT, POSTER, bound_to_post=True)
    assert code(r) == NO_COMMITMENT, r.log


def test_committed_in_the_claims_block_is_in_time_one_block_later_is_not(
    make_app: Callable[..., App],
) -> None:
    m = make(make_app, **NONE)
    on_time = m.post(POSTER, max_price=2 * VCN, prompt=PROMPT)
    late_prompt = PROMPT + b" (late)"
    late = m.post(POSTER, max_price=2 * VCN, prompt=late_prompt)
    # the commitment and the claim in one block: the commitment is not after the claim
    inp = hashlib.sha256(PROMPT).digest()
    c = canary.post_commitment(POSTER.address, inp, output_of(1), SALT)
    r = m.block(
        [
            m.sign(O1, [vm.MsgCommitCanary(oracle=O1.bech32, commitment=c.hex())]),
            m.sign(WORKER, [jm.MsgClaimJob(worker=WORKER.bech32, job_id=on_time)]),
        ]
    )
    assert all(t.code == 0 for t in r.tx_results), [t.log for t in r.tx_results]
    ok(m.claim(WORKER, late))
    ok(m.commit_post_canary(O1, POSTER, late_prompt, output_of(2), SALT))  # a block after
    for j in (on_time, late):
        ok(m.submit(WORKER, j, output=output_of(j, honest=False)))
    r = m.reveal_canary(O1, late, output_of(2), SALT, POSTER, bound_to_post=True)
    assert code(r) == TOO_LATE, r.log
    assert m.job(late).state == "submitted" and penalties(m, WORKER) == 0
    ok(m.reveal_canary(O1, on_time, output_of(1), SALT, POSTER, bound_to_post=True))
    m.block([])
    assert m.job(on_time).state == "rejected"


def test_only_the_oracle_that_committed_opens_it(make_app: Callable[..., App]) -> None:
    m = make(make_app, **NONE)
    jid = committed_then_posted(m, output_of(1))
    ok(m.claim(WORKER, jid))
    ok(m.submit(WORKER, jid, output=output_of(jid, honest=False)))
    r = m.reveal_canary(O2, jid, output_of(1), SALT, POSTER, bound_to_post=True)
    assert code(r) == NO_COMMITMENT, r.log
    assert m.job(jid).state == "submitted" and penalties(m, WORKER) == 0


def test_the_reveal_is_signed_over_the_post_bound_commitment(
    make_app: Callable[..., App],
) -> None:
    m = make(make_app, **NONE)
    jid = committed_then_posted(m, output_of(1))
    ok(m.claim(WORKER, jid))
    ok(m.submit(WORKER, jid, output=output_of(jid, honest=False)))
    # the poster's key, over the id-bound commitment instead: not what was opened
    r = m.reveal_canary(O1, jid, output_of(1), SALT, POSTER)
    assert code(r) == NOT_CONTROLLER, r.log
    # the right bytes, by a key that is not the poster's
    r = m.reveal_canary(O1, jid, output_of(1), SALT, OTHER_POSTER, bound_to_post=True)
    assert code(r) == NOT_CONTROLLER, r.log
    assert m.job(jid).state == "submitted" and penalties(m, WORKER) == 0
    ok(m.reveal_canary(O1, jid, output_of(1), SALT, POSTER, bound_to_post=True))


def test_a_canary_is_never_opened_as_a_plant_nor_a_plant_as_a_canary(
    make_app: Callable[..., App],
) -> None:
    m = make(make_app, **NONE)
    ok(m.commit_post_canary(O1, POSTER, PROMPT, output_of(1), SALT, planted=True))
    as_plant = m.post(POSTER, max_price=2 * VCN, prompt=PROMPT)
    ok(m.commit_post_canary(O1, OTHER_POSTER, PROMPT, output_of(1), SALT))
    as_canary = m.post(OTHER_POSTER, max_price=2 * VCN, prompt=PROMPT)
    for j in (as_plant, as_canary):
        ok(m.claim(WORKER, j))
        ok(m.submit(WORKER, j, output=output_of(j, honest=False)))
    # a plant's commitment, opened as a canary
    r = m.reveal_canary(O1, as_plant, output_of(1), SALT, POSTER, bound_to_post=True)
    assert code(r) == NO_COMMITMENT, r.log
    # a canary's commitment, opened as a plant once the result has its verdict
    m.blocks_until(m.job(as_canary).submitted_height + 21)
    assert m.job(as_canary).state == "settled"
    r = m.reveal_canary(O1, as_canary, output_of(1), SALT, WORKER, planted=True, bound_to_post=True)
    assert code(r) == NO_COMMITMENT, r.log
    assert penalties(m, WORKER) == 0


def test_a_plant_bound_to_its_post_catches_a_lazy_oracle(make_app: Callable[..., App]) -> None:
    m = make(make_app, **ALL)
    right = output_of(1)
    # O3 plants: it posts from its poster key and its own worker submits a wrong result
    ok(m.commit_post_canary(O3, POSTER, PROMPT, right, SALT, planted=True))
    m.block([])
    jid = m.post(POSTER, max_price=2 * VCN, prompt=PROMPT)
    ok(m.claim(PLANT_W, jid))
    ok(m.submit(PLANT_W, jid, output=output_of(jid, honest=False)))
    m.block([])  # the draw: picked
    ok(m.attest(O1, jid, "pass"))  # never ran it
    m.blocks_until(int(m.pending(jid)["due"]))
    assert m.job(jid).state == "settled"
    assert penalties(m, O1) == 0
    ok(m.reveal_canary(O3, jid, right, SALT, PLANT_W, planted=True, bound_to_post=True))
    assert penalties(m, O1) == 2_000
    assert penalties(m, O2) == 0


def test_another_oracles_id_bound_commitment_of_the_same_bytes_does_not_hide_it(
    make_app: Callable[..., App],
) -> None:
    """The chain looks for the revealer's own commitment under either binding: one of
    another oracle's under the id does not stop it finding O1's under the post."""
    m = make(make_app, **NONE)
    jid = committed_then_posted(m, output_of(1), wait=0)
    ok(m.commit_canary(O2, jid, output_of(1), SALT))  # the same job, expected and salt
    ok(m.claim(WORKER, jid))
    ok(m.submit(WORKER, jid, output=output_of(jid, honest=False)))
    r = m.reveal_canary(O1, jid, output_of(1), SALT, POSTER, bound_to_post=True)
    ok(r)
    assert matched(r) == ["false"]
