"""The drip pool (modules/drip): a protocol-held budget that funds every new key
alike, so a canary's poster is funded exactly as a real user's is.

What a user of the pool notices: a brand-new key with no coins claims its drip
with a fee-free first tx and holds ``drip_amount``; nobody else signs anything
that names it; the pool pays each address once, at most ``max_drips_per_block``
per block, and never more than it holds; deposits land in the pool.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from app.app import App
from chain.crypto import PrivateKey, module_address, to_bech32
from chain.errors import ChainError
from modules.auth.msgs import MsgUpdateParams
from modules.drip import genesis
from modules.drip.ante import CLAIM_GAS, sponsored_claim
from modules.drip.msgs import MsgClaimDrip, MsgFundPool
from modules.drip.params import Params
from tests.support.chain import (
    CHAIN_ID,
    FEE,
    PLATFORM,
    TEST_ACCOUNTS,
    VCN,
    Chain,
    assert_ok,
    events_of,
    make_genesis,
    msg_send,
    sign,
    test_key,
)

DRIP = Params().drip_amount
FUNDER = test_key(1)
POOL = module_address("drip_pool")


def fund(chain: Chain, amount: int, who: PrivateKey = FUNDER) -> None:
    msg = MsgFundPool(depositor=who.bech32, amount=str(amount))
    assert_ok(chain.deliver_one(chain.sign(who, [msg])))


def set_params(chain: Chain, **changes: int) -> None:
    p = {**chain.app.custom_query("drip", "params", {}), **{k: str(v) for k, v in changes.items()}}
    msg = MsgUpdateParams(authority=PLATFORM.bech32, module="drip", params_json=json.dumps(p))
    assert_ok(chain.deliver_one(chain.sign(PLATFORM, [msg])))


def fresh(i: int) -> PrivateKey:
    return PrivateKey.from_seed(b"drip-test-fresh-%d" % i)


def pool_balance(chain: Chain) -> int:
    return int(chain.app.custom_query("drip", "pool", {})["balance"])


def test_a_new_key_claims_its_drip_with_no_fee_and_no_one_else_signing(chain: Chain) -> None:
    fund(chain, 3 * DRIP)
    assert pool_balance(chain) == 3 * DRIP
    key = fresh(0)
    assert chain.account(key) is None and chain.balance(key) == 0
    r = assert_ok(chain.deliver_one(sponsored_claim(key, CHAIN_ID)))
    assert chain.balance(key) == DRIP
    assert pool_balance(chain) == 2 * DRIP
    (ev,) = events_of(r, "Dripped")
    assert ev.get("recipient") == key.bech32 and ev.get("amount") == str(DRIP)
    acc = chain.account(key)
    assert acc is not None and acc.sequence == 1 and acc.pubkey == key.public_key
    # the key now sends like any account, with its own number
    assert_ok(chain.deliver_one(chain.send(key, FUNDER.bech32, VCN)))
    shown = chain.app.custom_query("drip", "dripped", {"address": key.bech32})
    assert shown["dripped"] is True and int(shown["height"]) == chain.height - 1


def test_each_address_gets_one_drip_and_the_claim_cannot_be_replayed(chain: Chain) -> None:
    fund(chain, 3 * DRIP)
    key = fresh(1)
    raw = sponsored_claim(key, CHAIN_ID)
    assert_ok(chain.deliver_one(raw))
    again = chain.deliver_one(raw)  # the same bytes: the account exists, its sequence moved on
    assert again.code != 0 and chain.balance(key) == DRIP
    # a second claim as an ordinary, fee-paying tx is refused by the pool and pays its fee
    r = chain.deliver_one(chain.sign(key, [MsgClaimDrip(recipient=key.bech32)]))
    assert (r.codespace, r.code) == ("drip", 5) and "already received its drip" in r.log
    assert chain.balance(key) == DRIP - FEE
    assert pool_balance(chain) == 2 * DRIP


@pytest.mark.parametrize(("held", "ok"), [(DRIP - 1, False), (DRIP, True), (DRIP + 1, True)])
def test_the_pool_pays_a_drip_only_when_it_holds_one(chain: Chain, held: int, ok: bool) -> None:
    fund(chain, held)
    key = fresh(2)
    check = chain.check(sponsored_claim(key, CHAIN_ID))
    r = chain.deliver_one(sponsored_claim(key, CHAIN_ID))
    assert (check.code == 0, r.code == 0) == (ok, ok)
    if ok:
        assert chain.balance(key) == DRIP and pool_balance(chain) == held - DRIP
    else:
        assert (r.codespace, r.code) == ("drip", 7) and "cannot pay a drip" in r.log
        assert chain.account(key) is None and pool_balance(chain) == held  # no trace


def test_at_most_max_drips_per_block_then_the_next_block(chain: Chain) -> None:
    set_params(chain, max_drips_per_block=3)
    fund(chain, 10 * DRIP)
    keys = [fresh(10 + i) for i in range(4)]
    res = chain.block([sponsored_claim(k, CHAIN_ID) for k in keys]).tx_results
    assert [r.code == 0 for r in res] == [True, True, True, False]  # 3 at the limit, a 4th over
    assert (res[3].codespace, res[3].code) == ("drip", 6) and "try the next block" in res[3].log
    assert chain.account(keys[3]) is None
    assert_ok(chain.deliver_one(sponsored_claim(keys[3], CHAIN_ID)))
    assert [chain.balance(k) for k in keys] == [DRIP] * 4


@pytest.mark.parametrize(
    ("gas", "ok"), [(CLAIM_GAS - 1, True), (CLAIM_GAS, True), (CLAIM_GAS + 1, False)]
)
def test_a_sponsored_claim_may_ask_up_to_claim_gas_limit(chain: Chain, gas: int, ok: bool) -> None:
    fund(chain, DRIP)
    key = fresh(3)
    r = chain.deliver_one(sponsored_claim(key, CHAIN_ID, gas_limit=gas))
    assert (r.code == 0) == ok
    if not ok:
        assert (r.codespace, r.code) == ("drip", 8) and "claim_gas_limit" in r.log
        assert chain.balance(key) == 0 and pool_balance(chain) == DRIP


def test_only_a_lone_fee_free_claim_signed_for_account_zero_is_sponsored(chain: Chain) -> None:
    fund(chain, 5 * DRIP)
    key = fresh(4)
    claim = MsgClaimDrip(recipient=key.bech32)
    refused = {
        "a fee": sign(key, [claim], account_number=0, sequence=0),
        "another account number": sign(key, [claim], account_number=7, sequence=0, fee_amount=0),
        "sequence 1": sign(key, [claim], account_number=0, sequence=1, fee_amount=0),
        "a second message": sign(
            key, [claim, msg_send(key, FUNDER, 1)], account_number=0, sequence=0, fee_amount=0
        ),
    }
    for why, raw in refused.items():
        r = chain.deliver_one(raw)
        assert r.code != 0, why
        assert chain.account(key) is None and chain.balance(key) == 0, why
    assert pool_balance(chain) == 5 * DRIP
    # a new key's other txs still meet auth's rule: fund it first
    r = chain.deliver_one(sign(key, [msg_send(key, FUNDER, 1)], account_number=0, sequence=0))
    assert r.codespace == "sdk" and "does not exist on chain" in r.log


def test_deposits_must_be_positive_and_affordable(chain: Chain) -> None:
    for amount in ("0", "-5", "1.5", ""):
        r = chain.deliver_one(
            chain.sign(FUNDER, [MsgFundPool(depositor=FUNDER.bech32, amount=amount)])
        )
        assert r.code != 0, amount
    rich = chain.balance(FUNDER)
    r = chain.deliver_one(
        chain.sign(FUNDER, [MsgFundPool(depositor=FUNDER.bech32, amount=str(rich))])
    )
    assert r.code != 0 and "insufficient" in r.log.lower()
    assert pool_balance(chain) == 0
    before = chain.balance(FUNDER)
    r = assert_ok(
        chain.deliver_one(chain.sign(FUNDER, [MsgFundPool(depositor=FUNDER.bech32, amount="7")]))
    )
    (ev,) = events_of(r, "DripPoolFunded")
    assert (ev.get("depositor"), ev.get("amount"), ev.get("pool_balance")) == (
        FUNDER.bech32,
        "7",
        "7",
    )
    assert chain.balance(FUNDER) == before - 7 - FEE
    assert chain.app.custom_query("drip", "pool", {})["address"] == to_bech32(POOL)


def test_the_drip_genesis_keeps_who_has_had_a_drip_and_refuses_bad_entries(
    chain: Chain, make_app: Callable[..., App]
) -> None:
    fund(chain, 2 * DRIP)
    key = fresh(5)
    assert_ok(chain.deliver_one(sponsored_claim(key, CHAIN_ID)))
    g = chain.app.export_genesis()["drip"]
    assert g["dripped"] == [{"address": key.bech32, "height": str(chain.height)}]
    doc = make_genesis(TEST_ACCOUNTS)
    doc["app_state"]["drip"] = g
    imported = Chain(make_app(doc))
    shown = imported.app.custom_query("drip", "dripped", {"address": key.bech32})
    assert shown == {"address": key.bech32, "dripped": True, "height": str(chain.height)}
    with pytest.raises(ChainError, match="listed twice"):
        genesis.validate({**g, "dripped": g["dripped"] * 2})
    with pytest.raises(ChainError, match="height must be"):
        genesis.validate({**g, "dripped": [{"address": key.bech32, "height": "-1"}]})
