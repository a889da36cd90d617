"""The precompiles' own rules, called directly by an Ethereum account or through the
genesis facades and BankProbe: the zero address is refused by send and mint; bond and
unbond reach the staking module for the role and amount asked; slash takes 1..10000
basis points; a job posted with an input hash, a spec and deadlines is that job; a
worker with an Ethereum key claims and submits through JobMarket with a signed
protobuf receipt; getJob shows the poster, the worker (zero until claimed) and the
output hash; mint and consume take positive amounts and consume may take a whole
balance; a state-changing method refuses a static call; a node without the native
bridge refuses every call; each method charges its documented gas exactly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from eth_abi.abi import decode as abi_decode
from eth_hash.auto import keccak

from app.app import App
from chain.crypto import ETH_SECP256K1, PrivateKey, module_address, to_bech32
from chain.results import TxResult
from modules.bank import state as bank_state
from modules.evm.keeper import EvmKeeper
from modules.evm.precompiles import BANK, ERROR_SELECTOR, JOBS, MINT, STAKING
from tests.support.chain import VCN, test_key
from tests.support.evm import JOBMARKET, VCOIN, Evm, addr20, contract, eth_event, eth_key
from tests.support.genesis import h32, market_genesis
from tests.support.market import Market, output_of

A, B, P, E = eth_key(31), eth_key(32), eth_key(33), eth_key(34)  # P: the platform authority
POSTER = test_key(10)
ZERO = "0x" + "00" * 20
BANK_HEX, MINT_HEX = "0x" + BANK.hex(), "0x" + MINT.hex()
IBANK = contract("IBank", BANK_HEX)
ISTAKING = contract("IStaking", "0x" + STAKING.hex())
IJOBS = contract("IJobs", "0x" + JOBS.hex())
IMINT = contract("IMint", MINT_HEX)
JM = contract("JobMarket", JOBMARKET)
V = contract("VCoin", VCOIN)


@pytest.fixture
def m(make_app: Callable[..., App]) -> Market:
    doc = market_genesis()
    doc["app_state"]["auth"]["params"]["authority"] = to_bech32(addr20(P))
    return Market(make_app(doc))


@pytest.fixture
def evm(m: Market) -> Evm:
    e = Evm(m)
    e.fund(A, B, P, E, amount=5_000 * VCN)
    return e


def supply(e: Evm) -> int:
    return bank_state.supply(e.app.query_ctx(), "avcn")


def gas_paid(r: TxResult) -> int:
    tx = eth_event(r, "ethereum_tx")
    return int(tx["gas_used"]) * int(tx["effective_gas_price"])


def reason(revert_data: bytes) -> str:
    """The message of an ``Error(string)`` revert."""
    assert revert_data[:4] == ERROR_SELECTOR, revert_data.hex()
    (text,) = abi_decode(["string"], revert_data[4:])
    return str(text)


# -- bank -------------------------------------------------------------------------------
def test_send_to_the_zero_address_is_refused_and_to_any_other_address_works(evm: Evm) -> None:
    a0, s0 = evm.balance(A), supply(evm)
    r = evm.one(evm.invoke(A, IBANK, "send", A.address, ZERO, 5))
    assert (r.codespace, r.code) == ("evm", 11)
    assert "bank: sending to the zero address would lose the coins" in r.log
    assert evm.balance(bytes(20)) == 0 and evm.balance(A) == a0 - gas_paid(r)
    assert supply(evm) == s0 - int(eth_event(r, "ethereum_tx")["base_fee_burned"])
    one = "0x" + "00" * 19 + "01"  # 20 bytes, all but the last zero
    r = evm.one(evm.invoke(A, IBANK, "send", A.address, one, 5))
    assert r.code == 0, r.log
    assert evm.balance(addr20(one)) == 5
    assert abi_decode(["bool"], r.data) == (True,)


def test_a_view_is_charged_its_gas_exactly(evm: Evm) -> None:
    data = IBANK.encode_abi("balanceOf", [A.address])
    raw = bytes.fromhex(data[2:])
    intrinsic = 21_000 + sum(4 if x == 0 else 16 for x in raw)
    r = evm.one(evm.tx(A, BANK_HEX, raw, gas=intrinsic + 2_600 - 1))
    assert r.code != 0 and "OutOfGas" in r.log
    assert "Reason: bank.balanceOf" in r.log  # the method the gas was charged for
    r = evm.one(evm.tx(A, BANK_HEX, raw, gas=intrinsic + 2_600))
    assert r.code == 0, r.log
    assert eth_event(r, "ethereum_tx")["gas_used"] == str(intrinsic + 2_600)
    out = evm.call(BANK_HEX, raw)
    assert out["success"] and out["gas_used"] == "2600"
    assert int(out["output"], 16) == evm.balance(A)


def test_refusals_name_the_selector_and_the_decoding_error(evm: Evm) -> None:
    out = evm.call(BANK_HEX, b"\xde\xad\xbe\xef" + b"\x01" * 64)
    assert not out["success"]
    assert out["error"] == "bank: unknown function selector 0xdeadbeef"
    sel = keccak(b"balanceOf(address)")[:4]
    out = evm.call(BANK_HEX, sel + b"\x01" * 32)  # an address with non-zero padding
    assert not out["success"]
    assert out["error"].startswith("bank.balanceOf: bad ABI data: argument 0: an address has")
    assert reason(bytes.fromhex(out["output"][2:])) == out["error"]


# -- static calls and the bridge ----------------------------------------------------------
def test_a_static_call_may_read_but_not_send(evm: Evm) -> None:
    probe = evm.deploy(A, "BankProbe")
    assert evm.one(evm.tx(A, probe, value=10 * VCN, gas=60_000)).code == 0
    p = contract("BankProbe", probe)
    b0 = evm.balance(B)
    r = evm.one(evm.invoke(A, p, "staticSend", B.address, VCN))
    assert r.code == 0, r.log  # the outer call stands; the inner STATICCALL failed
    ok, ret = abi_decode(["bool", "bytes"], r.data)
    assert not ok
    assert reason(ret) == "bank.send changes state: it cannot run in a static call"
    assert (evm.balance(probe), evm.balance(B)) == (10 * VCN, b0)
    assert not [e for e in r.events if e.type == "transfer"]
    ok, ret = evm.read(p, "staticBalanceOf", B.address)
    assert ok and abi_decode(["uint256"], ret) == (b0,)


@pytest.fixture
def no_bridge(m: Market) -> Iterator[EvmKeeper]:
    keeper: EvmKeeper = m.app.wiring.keepers["evm"]  # type: ignore[assignment]
    saved, keeper.bridge = keeper.bridge, None
    yield keeper
    keeper.bridge = saved


def test_a_node_without_the_native_bridge_refuses_precompile_calls(
    evm: Evm, no_bridge: EvmKeeper
) -> None:
    out = evm.call(BANK_HEX, IBANK.encode_abi("balanceOf", [A.address]))
    assert not out["success"]
    assert out["error"] == "bank: this node has no native bridge"
    assert reason(bytes.fromhex(out["output"][2:])) == out["error"]
    out = evm.call(MINT_HEX, IMINT.encode_abi("treasury", []))
    assert not out["success"] and out["error"] == "mint: this node has no native bridge"


# -- staking ------------------------------------------------------------------------------
def test_bond_and_unbond_by_an_account_reach_the_staking_module(evm: Evm, m: Market) -> None:
    a0 = evm.balance(A)
    r = evm.one(evm.invoke(A, ISTAKING, "bond", A.address, "worker", 1_000 * VCN))
    assert r.code == 0, r.log
    assert abi_decode(["bool"], r.data) == (True,)
    assert m.staking.bonded(m.ctx(), addr20(A), "worker") == 1_000 * VCN
    assert evm.read(ISTAKING, "bonded", A.address, "worker") == 1_000 * VCN
    assert evm.read(ISTAKING, "bonded", A.address, "oracle") == 0
    assert evm.read(ISTAKING, "bonded", B.address, "worker") == 0
    assert evm.balance(A) == a0 - 1_000 * VCN - gas_paid(r)
    r = evm.one(evm.invoke(A, ISTAKING, "unbond", A.address, "worker", 1_000 * VCN))
    assert r.code == 0, r.log
    assert abi_decode(["bool"], r.data) == (True,)
    assert evm.read(ISTAKING, "bonded", A.address, "worker") == 0
    # bonding for someone else is refused
    r = evm.one(evm.invoke(A, ISTAKING, "bond", B.address, "worker", 1_000 * VCN))
    assert r.code != 0 and "must be the caller" in r.log
    assert evm.read(ISTAKING, "bonded", B.address, "worker") == 0


@pytest.mark.parametrize("penalty", [1, 10_000])
def test_slash_takes_one_to_ten_thousand_basis_points(evm: Evm, m: Market, penalty: int) -> None:
    assert evm.one(evm.invoke(A, ISTAKING, "bond", A.address, "worker", 1_000 * VCN)).code == 0
    score0 = m.reputation.score(m.ctx(), addr20(A))
    r = evm.one(evm.invoke(P, ISTAKING, "slash", P.address, A.address, penalty))
    assert r.code == 0, r.log
    assert any(e.type == "CheatingPunished" for e in r.events)
    assert m.reputation.score(m.ctx(), addr20(A)) == max(0, score0 - penalty)
    (slashed,) = abi_decode(["uint256"], r.data)
    assert m.staking.bonded(m.ctx(), addr20(A), "worker") == 1_000 * VCN - slashed


# -- jobs ---------------------------------------------------------------------------------
def test_a_job_posted_with_an_input_hash_spec_and_deadlines_is_that_job(
    evm: Evm, m: Market
) -> None:
    ih = h32("an input artifact").hex()
    spec = '{"max_tokens": 8}'
    req = ("text-generation", "tiny-lm", ih, b"", spec, 2 * VCN, 3, 7, 9)
    r = evm.one(evm.invoke(A, JM, "post", req, gas=500_000))
    assert r.code == 0, r.log
    (jid,) = abi_decode(["uint64"], r.data)
    posted = [dict(e.attributes) for e in r.events if e.type == "JobPosted"]
    assert [int(p["job_id"]) for p in posted] == [jid]
    j = m.job(jid)
    assert (j.poster, j.task_type, j.model) == (addr20(A), "text-generation", "tiny-lm")
    assert (j.input_hash.hex(), j.inline_input, j.spec) == (ih, b"", spec)
    assert (j.max_price, j.priority, j.claim_blocks, j.result_blocks) == (2 * VCN, 3, 7, 9)
    # directly through the jobs precompile, by the poster itself, with inline input
    req2 = ("text-generation", "tiny-lm", "", b"hi", "", VCN, 0, 0, 0)
    r = evm.one(evm.invoke(A, IJOBS, "postJob", A.address, req2, gas=500_000))
    assert r.code == 0, r.log
    (jid2,) = abi_decode(["uint64"], r.data)
    assert jid2 == jid + 1 and m.job(jid2).inline_input == b"hi"


def test_a_poster_cancels_an_unclaimed_job_through_jobmarket_and_directly(
    evm: Evm, m: Market
) -> None:
    req = ("text-generation", "tiny-lm", "", b"hello", "", 3 * VCN, 0, 0, 0)
    ids = []
    for _ in range(2):
        r = evm.one(evm.invoke(A, JM, "post", req, gas=500_000))
        assert r.code == 0, r.log
        ids.append(abi_decode(["uint64"], r.data)[0])
    a0 = evm.balance(A)
    r = evm.one(evm.invoke(B, JM, "cancel", ids[0], gas=300_000))  # not B's job
    assert r.code != 0 and "jobs.cancelJob" in r.log
    assert m.job(ids[0]).state == "queued"
    r = evm.one(evm.invoke(A, JM, "cancel", ids[0], gas=300_000))
    assert r.code == 0, r.log
    assert m.job(ids[0]).state == "cancelled"
    assert evm.balance(A) == a0 + 3 * VCN - gas_paid(r)  # the escrow came back
    r = evm.one(evm.invoke(A, IJOBS, "cancelJob", A.address, ids[1], gas=300_000))
    assert r.code == 0, r.log
    assert abi_decode(["bool"], r.data) == (True,)
    assert m.job(ids[1]).state == "cancelled"


def test_an_ethereum_key_worker_claims_and_submits_through_jobmarket(evm: Evm, m: Market) -> None:
    w = PrivateKey(bytes(E.key), algo=ETH_SECP256K1)  # the same account as E
    assert w.address == addr20(E)
    m.setup_worker(w, price_floor=VCN)
    jid = m.post(POSTER, max_price=3 * VCN)
    view = evm.read(JM, "getJob", jid)
    assert view[0] == jid and view[3] == "queued"
    assert view[1] == "0x" + POSTER.address.hex()  # the ABI decoder gives lowercase hex
    assert view[2] == ZERO  # no worker yet
    assert view[8] == ""  # no output yet
    assert (view[4], view[5], view[6], view[7]) == ("text-generation", "tiny-lm", 3 * VCN, 0)
    # another account may not claim for E, nor claim as an unregistered worker
    r = evm.one(evm.invoke(A, IJOBS, "claimJob", E.address, jid, gas=300_000))
    assert r.code != 0 and "must be the caller" in r.log
    r = evm.one(evm.invoke(E, JM, "claim", jid, gas=300_000))
    assert r.code == 0, r.log
    j = m.job(jid)
    assert j.state == "claimed" and j.worker == addr20(E)
    assert evm.read(JM, "getJob", jid)[2] == E.address.lower()
    # a submit by another account is refused: A has not claimed the job
    sub: Any = m.submit_msg(w, jid, units=42)  # a MsgSubmitResult
    rec = sub.receipt.SerializeToString()
    out = output_of(jid).hex()
    ref = f"artifact://{out}"
    r = evm.one(evm.invoke(A, JM, "submit", jid, out, ref, 42, rec, gas=500_000))
    assert r.code != 0 and "jobs.submitResult" in r.log
    # a receipt that is not protobuf is refused with a reason
    r = evm.one(evm.invoke(E, JM, "submit", jid, out, ref, 42, b"\x0a\xff", gas=500_000))
    assert r.code != 0 and "jobs: receipt is not a protobuf ExecutionReceipt" in r.log
    assert m.job(jid).state == "claimed"
    r = evm.one(evm.invoke(E, JM, "submit", jid, out, ref, 42, rec, gas=500_000))
    assert r.code == 0, r.log
    j = m.job(jid)
    assert (j.state, j.worker, j.output_hash.hex()) == ("submitted", addr20(E), out)
    assert (j.artifact_ref, j.compute_units) == (ref, 42)
    assert j.receipt is not None and j.receipt.output_hash.hex() == out
    view = evm.read(JM, "getJob", jid)
    assert (view[2], view[3], view[8]) == (E.address.lower(), "submitted", out)


# -- mint ---------------------------------------------------------------------------------
def test_mint_takes_a_positive_amount_to_a_real_address(evm: Evm) -> None:
    b0 = evm.balance(B)
    r = evm.one(evm.invoke(P, V, "mint", B.address, 0))
    assert r.code != 0 and "mint: the amount must be positive" in r.log
    assert evm.balance(B) == b0
    r = evm.one(evm.invoke(P, IMINT, "mint", P.address, ZERO, 5))
    assert r.code != 0 and "mint: minting to the zero address would lose the coins" in r.log
    assert evm.balance(bytes(20)) == 0
    s1 = supply(evm)
    r = evm.one(evm.invoke(P, V, "mint", B.address, 1))
    assert r.code == 0, r.log
    assert evm.balance(B) == b0 + 1
    assert supply(evm) == s1 + 1 - int(eth_event(r, "ethereum_tx")["base_fee_burned"])


def test_consume_takes_a_positive_amount_and_may_take_a_whole_balance(evm: Evm) -> None:
    a0 = evm.balance(A)
    r = evm.one(evm.invoke(A, IMINT, "consume", A.address, 0))
    assert r.code != 0 and "mint: consume a positive amount" in r.log
    assert evm.balance(A) == a0 - gas_paid(r)
    probe = evm.deploy(A, "BankProbe")
    assert evm.one(evm.tx(A, probe, value=10 * VCN, gas=60_000)).code == 0
    t0 = evm.balance(module_address("treasury"))
    r = evm.one(evm.invoke(A, contract("BankProbe", probe), "consumeAll"))
    assert r.code == 0, r.log
    assert abi_decode(["uint256", "uint256"], r.data) == (VCN, 9 * VCN)
    assert evm.balance(probe) == 0
    assert evm.balance(module_address("treasury")) == t0 + 9 * VCN


def test_treasury_is_the_treasury_module_account(evm: Evm) -> None:
    assert evm.read(IMINT, "treasury") == "0x" + module_address("treasury").hex()
    out = evm.call(MINT_HEX, IMINT.encode_abi("treasury", []))
    assert out["output"] == "0x" + module_address("treasury").hex().rjust(64, "0")
