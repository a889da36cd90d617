"""Protocol rules at their exact boundaries, over a real App driven block by block.

Each test pins one rule where a one-character change (``<`` for ``<=``, rounding
up for down, a dropped check) would otherwise go unnoticed: the public key of an
existing account, the input a worker's receipt names, the similarity threshold of
a passing attestation, the oracle stake quorum, and the rounding of a settlement.
The expected figures are worked out by hand in the comments, never by the code
under test.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import SignDoc, TxRaw

from app.app import App
from chain.crypto import PrivateKey
from chain.results import BlockResult
from genesis.devnet import CHAIN_ID
from modules.jobs import msgs as jm
from modules.jobs import receipt
from tests.support.chain import VCN, Chain, make_genesis, msg_send, sign, test_key
from tests.support.genesis import market_genesis, weights_of
from tests.support.market import IMAGE, Market, code, output_of

W1 = test_key(0)
POSTER = test_key(10)
O1, O2, O3 = test_key(20), test_key(21), test_key(22)
ALWAYS_PICKED = {"base_sample_bps": 10_000, "max_sample_bps": 10_000}


def verdicts(result: BlockResult) -> list[dict[str, str]]:
    evs = list(result.events) + [e for t in result.tx_results for e in t.events]
    return [dict(e.attributes) for e in evs if e.type == "VerdictReached"]


# -- 1. the ante handler: a tx's public key must be the one already on the account -----------
OWNER = test_key(0)  # the account's address
RECORDED = test_key(1)  # the key the chain holds for that account
SINK = test_key(2)
OWNER_NUMBER = 500


def owner_with_recorded_key() -> dict[str, Any]:
    """A genesis (an imported state) whose account at OWNER's address holds RECORDED's
    public key. A tx's key is otherwise bound to its address when it is decoded, so
    this is the state in which the ante handler's own key check is what stands
    between a tx and a swapped key."""
    doc = make_genesis(3)
    doc["app_state"]["auth"]["accounts"].append(
        {
            "address": OWNER.bech32,
            "account_number": str(OWNER_NUMBER),
            "sequence": "0",
            "pub_key": RECORDED.public_key.hex(),
        }
    )
    return doc


def key_swap_tx(signer: PrivateKey) -> bytes:
    """A send from OWNER that carries OWNER's own public key, signed by ``signer``."""
    raw = sign(OWNER, [msg_send(OWNER, SINK, 5 * VCN)], account_number=OWNER_NUMBER, sequence=0)
    if signer is OWNER:
        return raw
    # Same body and auth info (so OWNER's key in it), the signature made by another key.
    tx = TxRaw.FromString(raw)
    doc = SignDoc(
        body_bytes=tx.body_bytes,
        auth_info_bytes=tx.auth_info_bytes,
        chain_id=CHAIN_ID,
        account_number=OWNER_NUMBER,
    )
    return bytes(
        TxRaw(
            body_bytes=tx.body_bytes,
            auth_info_bytes=tx.auth_info_bytes,
            signatures=[signer.sign(doc.SerializeToString())],
        ).SerializeToString()
    )


def test_a_tx_whose_key_differs_from_the_accounts_key_is_refused_and_changes_nothing(
    make_app: Callable[..., App],
) -> None:
    c = Chain(make_app(owner_with_recorded_key()))
    acc = c.account(OWNER)
    assert acc is not None and acc.pubkey == RECORDED.public_key  # the precondition
    owner_before, sink_before = c.balance(OWNER), c.balance(SINK)
    # Signed by the account's recorded key, while the tx presents another key; and signed
    # by the key it presents. Both are a key swap and are refused for that reason.
    for signer in (RECORDED, OWNER):
        raw = key_swap_tx(signer)
        checked = c.check(raw)
        assert code(checked) == ("sdk", 8), checked.log
        assert "the tx's public key differs from the account's" in checked.log
        r = c.deliver_one(raw)
        assert code(r) == ("sdk", 8), r.log
        assert "the tx's public key differs from the account's" in r.log
    acc = c.account(OWNER)
    assert acc is not None
    assert (acc.pubkey, acc.sequence, acc.number) == (RECORDED.public_key, 0, OWNER_NUMBER)
    assert c.balance(OWNER) == owner_before  # not even the fee was taken
    assert c.balance(SINK) == sink_before


# -- 2. jobs: a result's receipt must be for the job's own input --------------------------
def test_a_receipt_signed_for_another_input_is_refused(make_app: Callable[..., App]) -> None:
    m = Market(make_app(market_genesis()))
    m.setup_worker(W1, price_floor=VCN)
    jid = m.post(POSTER, max_price=2 * VCN, prompt=b"the job's own prompt")
    assert m.claim(W1, jid).code == 0
    own_input = hashlib.sha256(b"the job's own prompt").digest()
    assert m.job(jid).input_hash == own_input
    other_input = hashlib.sha256(b"some other prompt").digest()
    out = output_of(jid)
    model = weights_of("tiny-lm")
    # A receipt the worker really signed, complete and valid, but for another input.
    sig = receipt.sign(W1, CHAIN_ID, jid, IMAGE, model, other_input, out)
    msg = jm.MsgSubmitResult(
        worker=W1.bech32,
        job_id=jid,
        output_hash=out.hex(),
        artifact_ref=f"artifact://{out.hex()}",
        compute_units=100,
        receipt=jm.ExecutionReceipt(
            image_digest=IMAGE,
            model_hash=model.hex(),
            input_hash=other_input.hex(),
            output_hash=out.hex(),
            signature=sig,
        ),
    )
    r = m.tx(W1, msg)
    assert code(r) == ("jobs", 17), r.log
    assert f"receipt input hash {other_input.hex()} is not the job's input" in r.log
    j = m.job(jid)
    assert j.state == "claimed" and j.worker == W1.address
    # The same worker's receipt for the job's own input is taken.
    assert m.submit(W1, jid).code == 0
    assert m.job(jid).state == "submitted"


# -- 3. verification: a pass needs similarity ≥ the threshold -----------------------------
def three_oracles(make_app: Callable[..., App], **verification: Any) -> Market:
    m = Market(make_app(market_genesis(verification={**ALWAYS_PICKED, **verification})))
    for key, name in ((O1, "o1"), (O2, "o2"), (O3, "o3")):
        assert m.bond_oracle(key, name).code == 0
    m.setup_worker(W1, price_floor=VCN)
    return m


def picked_job(m: Market, honest: bool = True) -> int:
    jid = m.post(POSTER, max_price=2 * VCN)
    assert m.claim(W1, jid).code == 0
    assert m.submit(W1, jid, output=output_of(jid, honest)).code == 0
    m.block([])  # the draw, in the block after the submission
    assert m.job(jid).state == "checking"
    return jid


def test_a_pass_at_exactly_the_similarity_threshold_is_taken_one_below_is_not(
    make_app: Callable[..., App],
) -> None:
    m = three_oracles(make_app, similarity_threshold_bps=9_500)
    jid = picked_job(m)
    before = m.q("verification", "status", job_id=jid)
    # one unit below the threshold: refused, nothing recorded
    r = m.attest(O3, jid, "pass", similarity=9_499)
    assert code(r) == ("verification", 9), r.log
    assert "a pass needs similarity ≥ 9500 bps; got 9499" in r.log
    assert m.q("verification", "status", job_id=jid) == before
    # exactly at the threshold: taken (one of three equal stakes: no quorum yet)
    r = m.attest(O1, jid, "pass", similarity=9_500)
    assert r.code == 0, r.log
    assert m.job(jid).state == "checking"
    # one unit above: taken, and with it two thirds of the stake pass the result
    b = m.run(O2, m.attest_msg(O2, jid, "pass", similarity=9_501))
    assert b.tx_results[0].code == 0, b.tx_results[0].log
    assert m.job(jid).state == "settled"
    assert verdicts(b)[0]["verdict"] == "pass"


# -- 4. verification: a verdict needs ≥ quorum_bps of the active oracle stake --------------
def two_oracles(make_app: Callable[..., App], first: int, second: int) -> Market:
    m = Market(make_app(market_genesis(verification={**ALWAYS_PICKED, "quorum_bps": 6_666})))
    assert m.bond_oracle(O1, "o1", first).code == 0
    assert m.bond_oracle(O2, "o2", second).code == 0
    m.setup_worker(W1, price_floor=VCN)
    return m


# 19 998 VCN of 30 000 VCN is exactly 6666 bps: 19_998 × 10_000 = 6_666 × 30_000.
AT_QUORUM = (19_998 * VCN, 10_002 * VCN)
# One avcn moved to the other oracle: the same total, just under 6666 bps.
UNDER_QUORUM = (19_998 * VCN - 1, 10_002 * VCN + 1)


def test_a_pass_by_exactly_the_quorum_of_stake_decides_at_once(
    make_app: Callable[..., App],
) -> None:
    m = two_oracles(make_app, *AT_QUORUM)
    jid = picked_job(m)
    b = m.run(O1, m.attest_msg(O1, jid, "pass"))
    assert b.tx_results[0].code == 0, b.tx_results[0].log
    assert m.job(jid).state == "settled"
    v = verdicts(b)
    assert [(x["verdict"], x["how"]) for x in v] == [("pass", "quorum")]


def test_a_fail_by_exactly_the_quorum_of_stake_decides_at_once(
    make_app: Callable[..., App],
) -> None:
    m = two_oracles(make_app, *AT_QUORUM)
    jid = picked_job(m, honest=False)
    b = m.run(O1, m.attest_msg(O1, jid, "fail"))
    assert b.tx_results[0].code == 0, b.tx_results[0].log
    assert m.job(jid).state == "rejected"
    v = verdicts(b)
    assert [(x["verdict"], x["how"]) for x in v] == [("fail", "quorum")]


def test_one_avcn_under_the_quorum_decides_nothing(make_app: Callable[..., App]) -> None:
    m = two_oracles(make_app, *UNDER_QUORUM)
    passing, failing = picked_job(m), picked_job(m, honest=False)
    b = m.run(O1, m.attest_msg(O1, passing, "pass"), m.attest_msg(O1, failing, "fail"))
    assert b.tx_results[0].code == 0, b.tx_results[0].log
    assert verdicts(b) == []
    assert m.job(passing).state == "checking" and m.job(failing).state == "checking"
    assert m.pending(passing) is not None and m.pending(failing) is not None


# -- 6. settlement: the worker's pay and the burn round down, the treasury keeps the rest ----
# (price, burned, paid to the worker, kept by the treasury), at burn 10 % and pay 80 %:
# 12 343 avcn: burn 1 234.3 → 1 234; pay 9 874.4 → 9 874; treasury 12 343 − 1 234 − 9 874 = 1 235
#              (a pay rounded up would be 9 875, leaving the treasury 1 234).
# 12 349 avcn: burn 1 234.9 → 1 234; pay 9 879.2 → 9 879; treasury 1 236.
ODD_PRICES = [(12_343, 1_234, 9_874, 1_235), (12_349, 1_234, 9_879, 1_236)]
MAX_PRICE = 20_000


@pytest.mark.parametrize(("price", "burned", "paid", "kept"), ODD_PRICES)
def test_settlement_rounds_the_burn_and_the_pay_down_to_the_avcn(
    make_app: Callable[..., App], price: int, burned: int, paid: int, kept: int
) -> None:
    assert burned + paid + kept == price
    no_sampling = {"base_sample_bps": 0, "low_rep_factor_bps": 0, "challenge_window_blocks": 2}
    doc = market_genesis(
        verification=no_sampling, jobs={"burn_bps": 1_000, "payout_bps": 8_000, "min_price": 1}
    )
    m = Market(make_app(doc))
    m.setup_worker(W1, price_floor=price)
    jid = m.post(POSTER, max_price=MAX_PRICE)
    assert m.claim(W1, jid).code == 0
    assert m.job(jid).price == price
    assert m.submit(W1, jid).code == 0
    worker, poster = m.balance(W1), m.balance(POSTER)
    treasury, supply = m.module_balance("treasury"), m.supply()
    m.blocks_until(m.job(jid).submitted_height + 2)  # empty blocks: no fees, no other txs
    j = m.job(jid)
    assert j.state == "settled"
    assert (j.burned, j.paid, j.refunded) == (burned, paid, MAX_PRICE - price)
    assert m.balance(W1) - worker == paid
    assert m.module_balance("treasury") - treasury == kept
    assert supply - m.supply() == burned
    assert m.balance(POSTER) - poster == MAX_PRICE - price
    assert m.module_balance("escrow") == 0
