"""VCoin.sol, the ERC-20 facade at 0x…0C01: its figures are the bank's in any order of
Cosmos sends, EVM transfers, mints, consumes and job settlements; a Cosmos send to a
0x address is that account's EVM balance and back; only the platform mints; consume
splits 10/90; stake and slash go through the native modules."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_hash.auto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import Web3

from app.app import App
from chain.crypto import module_address, to_bech32
from modules.bank import state as bank_state
from tests.support.chain import ALICE, BOB, VCN, test_key
from tests.support.evm import VCOIN, Evm, addr20, contract, eth_event, eth_key, logs
from tests.support.genesis import market_genesis
from tests.support.market import Market

A, B, P = eth_key(1), eth_key(2), eth_key(3)  # P: the platform authority in these tests
W1, POSTER, ORACLE = test_key(0), test_key(10), test_key(20)
TREASURY = "0x" + module_address("treasury").hex()
V = contract("VCoin", VCOIN)


def genesis() -> dict[str, object]:
    doc = market_genesis(
        verification={"base_sample_bps": 0, "low_rep_factor_bps": 0, "challenge_window_blocks": 2}
    )
    auth = doc["app_state"]["auth"]  # type: ignore[index]
    auth["params"]["authority"] = to_bech32(addr20(P))
    return doc


@pytest.fixture
def m(make_app: Callable[..., App]) -> Market:
    return Market(make_app(genesis()))


@pytest.fixture
def evm(m: Market) -> Evm:
    e = Evm(m)
    e.fund(A, B, P, amount=5_000 * VCN)
    return e


def supply(e: Evm) -> int:
    return bank_state.supply(e.app.query_ctx(), "avcn")


def assert_views_match_the_bank(e: Evm, who: list[bytes]) -> None:
    ctx = e.app.query_ctx()
    assert e.read(V, "totalSupply") == bank_state.supply(ctx, "avcn")
    for a in who:
        who_ = Web3.to_checksum_address("0x" + a.hex())
        assert e.read(V, "balanceOf", who_) == bank_state.balance(ctx, a, "avcn")


def test_transfer_moves_bank_coins_and_logs_transfer(evm: Evm) -> None:
    a0, b0 = evm.balance(A), evm.balance(B)
    r = evm.one(evm.invoke(A, V, "transfer", B.address, 777))
    assert r.code == 0, r.log
    gas_paid = int(eth_event(r, "ethereum_tx")["gas_used"]) * int(
        eth_event(r, "ethereum_tx")["effective_gas_price"]
    )
    assert evm.balance(B) == b0 + 777
    assert evm.balance(A) == a0 - 777 - gas_paid
    transfer_topic = "0x" + keccak(b"Transfer(address,address,uint256)").hex()
    mine = [lg for lg in logs(r) if lg["address"].lower() == VCOIN.lower()]
    assert [lg["topics"].split(",")[0] for lg in mine] == [transfer_topic]
    # the bank's own events ride along: the native transfer, also as a log of 0x…0800
    assert any(e.type == "transfer" for e in r.events)
    assert any(lg["address"] == "0x" + "00" * 18 + "0800" for lg in logs(r))


def test_a_cosmos_send_to_a_0x_address_is_its_evm_balance_and_back(evm: Evm) -> None:
    fresh = eth_key(50)
    r = evm.chain.deliver_one(evm.chain.send(ALICE, to_bech32(addr20(fresh)), 3 * VCN))
    assert r.code == 0
    acct = evm.app.custom_query("evm", "account", {"address": fresh.address})
    assert acct["balance"] == str(3 * VCN)
    assert evm.read(V, "balanceOf", fresh.address) == 3 * VCN
    # and back: an EVM value transfer to a Cosmos key's 20 bytes is its bank balance
    bob0 = evm.chain.balance(BOB)
    r = evm.one(evm.tx(fresh, "0x" + BOB.address.hex(), value=VCN, gas=21_000))
    assert r.code == 0, r.log
    assert evm.chain.balance(BOB) == bob0 + VCN


def test_only_the_platform_mints_and_a_mint_is_supply(evm: Evm) -> None:
    s0, a0 = supply(evm), evm.balance(A)
    r = evm.one(evm.invoke(A, V, "mint", A.address, 5))
    assert (r.codespace, r.code) == ("evm", 11)
    assert "only the platform authority" in r.log and to_bech32(addr20(P)) in r.log
    refused_burn = int(eth_event(r, "ethereum_tx")["base_fee_burned"])
    assert supply(evm) == s0 - refused_burn  # the refused mint paid gas, minted nothing
    assert evm.balance(A) < a0
    b0, s1 = evm.balance(B), supply(evm)
    r = evm.one(evm.invoke(P, V, "mint", B.address, 12_345))
    assert r.code == 0, r.log
    assert evm.balance(B) == b0 + 12_345
    assert supply(evm) == s1 + 12_345 - int(eth_event(r, "ethereum_tx")["base_fee_burned"])
    assert [dict(e.attributes) for e in r.events if e.type == "PlatformMinted"] == [
        {"address": to_bech32(addr20(B)), "amount": "12345"}
    ]
    assert_views_match_the_bank(evm, [addr20(A), addr20(B), addr20(P)])


@pytest.mark.parametrize(
    ("amount", "burned", "treasury"),
    [(1000, 100, 900), (9, 0, 9), (10, 1, 9), (11, 1, 10), (10**21 + 7, 10**20, 9 * 10**20 + 7)],
)
def test_consume_burns_ten_percent_and_credits_ninety(
    evm: Evm, amount: int, burned: int, treasury: int
) -> None:
    supply0, t0, a0 = supply(evm), evm.balance(TREASURY), evm.balance(A)
    r = evm.one(evm.invoke(A, V, "consume", amount))
    assert r.code == 0, r.log
    tx = eth_event(r, "ethereum_tx")
    fee_burn, tip = int(tx["base_fee_burned"]), int(tx["tip_paid"])
    assert evm.balance(TREASURY) == t0 + treasury
    assert supply(evm) == supply0 - burned - fee_burn
    assert evm.balance(A) == a0 - amount - fee_burn - tip
    consumed = [dict(e.attributes) for e in r.events if e.type == "Consumed"]
    assert consumed == [
        {"address": to_bech32(addr20(A)), "burned": str(burned), "to_treasury": str(treasury)}
    ]


def test_consume_of_more_than_the_balance_reverts_and_changes_nothing(evm: Evm) -> None:
    t0 = evm.balance(TREASURY)
    r = evm.one(evm.invoke(A, V, "consume", evm.balance(A) * 2))
    assert r.code != 0 and "to consume" in r.log
    assert evm.balance(TREASURY) == t0


def test_stake_and_unstake_go_to_the_staking_module(evm: Evm, m: Market) -> None:
    r = evm.one(evm.invoke(A, V, "stake", 1_000 * VCN))
    assert r.code == 0, r.log
    assert m.staking.bonded(m.ctx(), addr20(A), "worker") == 1_000 * VCN
    staking = contract("IStaking", "0x" + "00" * 18 + "0801")
    assert evm.read(staking, "bonded", A.address, "worker") == 1_000 * VCN
    r = evm.one(evm.invoke(A, V, "stake", VCN))  # the role's minimum is 1,000 VCN in all
    assert r.code == 0, r.log
    r = evm.one(evm.invoke(B, V, "stake", 999 * VCN))  # under the minimum: the module refuses
    assert r.code != 0 and "minimum" in r.log
    r = evm.one(evm.invoke(A, V, "unstake", VCN))
    assert r.code == 0, r.log
    assert m.staking.bonded(m.ctx(), addr20(A), "worker") == 1_000 * VCN


def test_slash_only_by_the_authority_and_by_the_slashing_rules(evm: Evm, m: Market) -> None:
    assert evm.one(evm.invoke(A, V, "stake", 1_000 * VCN)).code == 0
    r = evm.one(evm.invoke(B, V, "slash", A.address, 2_000))
    assert r.code != 0 and "only the slashing authority" in r.log
    score0 = m.reputation.score(m.ctx(), addr20(A))
    r = evm.one(evm.invoke(P, V, "slash", A.address, 2_000))
    assert r.code == 0, r.log
    assert m.reputation.score(m.ctx(), addr20(A)) == score0 - 2_000
    assert any(e.type == "CheatingPunished" for e in r.events)
    for bad in (0, 10_001):
        r = evm.one(evm.invoke(P, V, "slash", A.address, bad))
        assert r.code != 0 and "penaltyBps" in r.log


OPS = ["cosmos_send", "evm_transfer", "mint", "consume", "settle_job"]


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(order=st.permutations(OPS))
def test_totals_equal_the_bank_after_every_step_in_any_order(
    make_app: Callable[..., App], order: list[str]
) -> None:
    m = Market(make_app(genesis()))
    e = Evm(m)
    e.fund(A, B, P, amount=1_000 * VCN)
    watched = [addr20(A), addr20(B), addr20(P), POSTER.address, W1.address,
               module_address("treasury")]  # fmt: skip
    for op in order:
        if op == "cosmos_send":
            assert m.deliver_one(m.send(ALICE, to_bech32(addr20(B)), 7 * VCN)).code == 0
        elif op == "evm_transfer":
            assert e.one(e.invoke(A, V, "transfer", B.address, 3 * VCN)).code == 0
        elif op == "mint":
            assert e.one(e.invoke(P, V, "mint", A.address, 11 * VCN)).code == 0
        elif op == "consume":
            assert e.one(e.invoke(B, V, "consume", 2 * VCN + 3)).code == 0
        else:
            m.setup_worker(W1, price_floor=VCN)
            jid = m.post(POSTER, max_price=3 * VCN)
            assert m.claim(W1, jid).code == 0
            assert m.submit(W1, jid, units=5).code == 0
            m.blocks_until(m.job(jid).submitted_height + 2)
            assert m.job(jid).state == "settled"
        assert_views_match_the_bank(e, watched)
