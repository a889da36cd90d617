"""EVM fees: the base fee follows EIP-1559 from each block's EVM gas and never falls
under the floor; the base fee part is burned, the tip goes to the fee collector."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.app import App
from chain.crypto import module_address
from modules.bank import state as bank_state
from modules.evm import state as evm_state
from modules.evm.params import Params
from tests.support.chain import VCN, Chain, make_genesis
from tests.support.evm import Evm, eth_event, eth_key

A, B = eth_key(21), eth_key(22)
GWEI = 10**9
P = Params(block_gas_limit=100_000, min_base_fee=GWEI)  # target 50,000


@pytest.mark.parametrize(
    ("used", "want"),
    [
        (50_000, 2 * GWEI),  # at the target: unchanged
        (50_001, 2 * GWEI + 5_000),  # just over: up by fee × 1/target/8
        (49_999, 2 * GWEI - 5_000),  # just under: down as much
        (100_000, 2 * GWEI + GWEI // 4),  # a full block: +1/8
        (0, 2 * GWEI - GWEI // 4),  # an empty block: −1/8
    ],
)
def test_next_base_fee_follows_eip_1559(used: int, want: int) -> None:
    assert evm_state.next_base_fee(P, 2 * GWEI, used) == want


def test_the_base_fee_rises_by_at_least_one_and_never_falls_under_the_floor() -> None:
    low = Params(block_gas_limit=100_000, min_base_fee=1)
    assert evm_state.next_base_fee(low, 7, 50_001) == 8  # 7 × 1/50,000/8 rounds to 0: +1
    assert evm_state.next_base_fee(P, GWEI, 0) == GWEI
    assert evm_state.next_base_fee(P, GWEI + 1, 0) == GWEI


@pytest.fixture
def evm(make_app: Callable[..., App]) -> Evm:
    doc = make_genesis()
    doc["app_state"]["evm"] = {"params": P.to_json(), "base_fee": str(2 * GWEI)}
    e = Evm(Chain(make_app(doc)))
    e.fund(A, B, amount=10 * VCN)
    return e


def test_a_full_block_raises_the_next_base_fee_and_empty_ones_lower_it(evm: Evm) -> None:
    fee0 = evm.base_fee()  # 2 gwei at genesis, less 1/8 for the funding block's no EVM gas
    assert fee0 == 2 * GWEI - 2 * GWEI // 8
    txs = [evm.tx(A, B.address, value=1, gas=21_000) for _ in range(3)]  # 63,000 gas
    res = evm.block(txs)
    assert [r.code for r in res.tx_results] == [0, 0, 0]
    assert evm.base_fee() == fee0 + fee0 * 13_000 // 50_000 // 8
    fee = evm.base_fee()
    evm.block([])
    assert evm.base_fee() == fee - fee // 8
    for _ in range(30):
        evm.block([])
    assert evm.base_fee() == GWEI  # the floor


def test_the_base_fee_is_burned_and_the_tip_paid_to_the_fee_collector(evm: Evm) -> None:
    ctx = evm.app.query_ctx
    collector = module_address("fee_collector")
    s0, c0, a0 = bank_state.supply(ctx(), "avcn"), evm.balance(collector), evm.balance(A)
    base = evm.base_fee()
    r = evm.one(evm.tx(A, B.address, value=5, gas=21_000, maxPriorityFeePerGas=3 * GWEI,
                       maxFeePerGas=base + 2 * GWEI))  # fmt: skip
    assert r.code == 0, r.log
    ev = eth_event(r, "ethereum_tx")
    tip = 2 * GWEI  # capped by the max fee: min(3 gwei, max fee − base fee)
    assert ev["effective_gas_price"] == str(base + tip)
    assert ev["base_fee_burned"] == str(21_000 * base)
    assert ev["tip_paid"] == str(21_000 * tip)
    assert bank_state.supply(ctx(), "avcn") == s0 - 21_000 * base
    assert evm.balance(collector) == c0 + 21_000 * tip
    assert evm.balance(A) == a0 - 5 - 21_000 * (base + tip)


def test_a_legacy_tx_pays_its_gas_price_with_the_rest_as_tip(evm: Evm) -> None:
    base = evm.base_fee()
    a0 = evm.balance(A)
    r = evm.one(evm.tx(A, B.address, value=0, gas=21_000, type=0, gasPrice=base + 7))
    assert r.code == 0, r.log
    ev = eth_event(r, "ethereum_tx")
    assert (ev["type"], ev["tip_paid"]) == ("0", str(21_000 * 7))
    assert evm.balance(A) == a0 - 21_000 * (base + 7)
    r = evm.one(evm.tx(A, B.address, value=0, gas=21_000, type=1, gasPrice=base))
    assert r.code == 0 and eth_event(r, "ethereum_tx")["type"] == "1"
