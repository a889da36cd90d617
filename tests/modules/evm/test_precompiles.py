"""The precompiles journal with the EVM: a revert after a successful bank call leaves
balances, supply and events as before, in the same frame or an inner one; bad call
data, an unknown selector, value, and acting for someone else are refused with a
reason; JobMarket.sol posts the very job the jobs module and its workers see."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_hash.auto import keccak

from app.app import App
from chain.crypto import to_bech32
from modules.bank import state as bank_state
from modules.evm.precompiles import BANK, JOBS
from tests.support.chain import VCN, test_key
from tests.support.evm import JOBMARKET, Evm, addr20, contract, eth_event, eth_key, logs
from tests.support.genesis import market_genesis
from tests.support.market import Market

A, B = eth_key(11), eth_key(12)
W1 = test_key(0)
BANK_HEX = "0x" + BANK.hex()


@pytest.fixture
def m(make_app: Callable[..., App]) -> Market:
    return Market(make_app(market_genesis()))


@pytest.fixture
def evm(m: Market) -> Evm:
    e = Evm(m)
    e.fund(A, B, amount=100 * VCN)
    return e


@pytest.fixture
def probe(evm: Evm) -> str:
    """A BankProbe holding 10 VCN."""
    addr = evm.deploy(A, "BankProbe")
    assert evm.one(evm.tx(A, addr, value=10 * VCN, gas=60_000)).code == 0
    return addr


def supply(e: Evm) -> int:
    return bank_state.supply(e.app.query_ctx(), "avcn")


def test_a_revert_after_a_bank_send_undoes_balances_supply_and_events(evm: Evm, probe: str) -> None:
    p = contract("BankProbe", probe)
    p0, b0, s0 = evm.balance(probe), evm.balance(B), supply(evm)
    r = evm.one(evm.invoke(A, p, "sendThenRevert", B.address, 4 * VCN))
    assert (r.codespace, r.code) == ("evm", 11)
    assert "reverted after the bank send" in r.log
    assert (evm.balance(probe), evm.balance(B)) == (p0, b0)
    assert supply(evm) == s0 - int(eth_event(r, "ethereum_tx")["base_fee_burned"])
    assert {e.type for e in r.events} == {"message", "ethereum_tx"}  # no coin events, no logs


def test_an_inner_frame_revert_undoes_only_that_frame(evm: Evm, probe: str) -> None:
    p = contract("BankProbe", probe)
    p0, b0 = evm.balance(probe), evm.balance(B)
    r = evm.one(evm.invoke(A, p, "sendInInnerFrame", B.address, VCN, True))
    assert r.code == 0, r.log
    assert r.data[-1] == 0  # returned false: the inner send did not stand
    assert (evm.balance(probe), evm.balance(B)) == (p0, b0)
    assert not [e for e in r.events if e.type == "transfer"] and not logs(r)
    r = evm.one(evm.invoke(A, p, "sendInInnerFrame", B.address, VCN, False))
    assert r.code == 0 and r.data[-1] == 1
    assert (evm.balance(probe), evm.balance(B)) == (p0 - VCN, b0 + VCN)
    native = [e for e in r.events if e.type == "transfer"]
    assert [dict(e.attributes)["recipient"] for e in native] == [to_bech32(addr20(B))]
    # the native events are also logs of the bank precompile: topic0 = keccak(type)
    topics = [lg["topics"] for lg in logs(r) if lg["address"] == BANK_HEX]
    assert "0x" + keccak(b"transfer").hex() in topics


def test_the_acting_account_must_be_the_caller(evm: Evm, probe: str) -> None:
    p = contract("BankProbe", probe)
    a0 = evm.balance(A)
    r = evm.one(evm.invoke(A, p, "sendAs", A.address, B.address, VCN))
    assert r.code != 0 and "must be the caller" in r.log
    assert evm.balance(A) == a0 - int(eth_event(r, "ethereum_tx")["gas_used"]) * int(
        eth_event(r, "ethereum_tx")["effective_gas_price"]
    )


def _send_data(frm: bytes, to: bytes, amount: int) -> bytes:
    sel = keccak(b"send(address,address,uint256)")[:4]
    return sel + frm.rjust(32, b"\0") + to.rjust(32, b"\0") + amount.to_bytes(32, "big")


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("truncated arguments", lambda a, b: _send_data(a, b, 5)[:-7], "bad ABI data"),
        ("no arguments", lambda a, b: keccak(b"send(address,address,uint256)")[:4], "bad ABI"),
        ("unknown selector", lambda a, b: b"\xde\xad\xbe\xef" + bytes(64), "unknown function"),
        ("empty call data", lambda a, b: b"", "unknown function selector 0x"),
    ],
)
def test_a_precompile_refuses_bad_call_data(
    evm: Evm, name: str, data: Callable[[bytes, bytes], bytes], says: str
) -> None:
    a0, b0 = evm.balance(A), evm.balance(B)
    r = evm.one(evm.tx(A, BANK_HEX, data(addr20(A), addr20(B)), gas=100_000))
    assert (r.codespace, r.code) == ("evm", 11), name
    assert says in r.log, r.log
    assert evm.balance(B) == b0
    assert evm.balance(A) == a0 - int(eth_event(r, "ethereum_tx")["gas_used"]) * int(
        eth_event(r, "ethereum_tx")["effective_gas_price"]
    )


def test_a_direct_send_by_its_owner_works_and_value_is_refused(evm: Evm) -> None:
    b0 = evm.balance(B)
    r = evm.one(evm.tx(A, BANK_HEX, _send_data(addr20(A), addr20(B), 5), gas=100_000))
    assert r.code == 0, r.log
    assert evm.balance(B) == b0 + 5
    r = evm.one(evm.tx(A, BANK_HEX, _send_data(addr20(A), addr20(B), 5), value=1, gas=100_000))
    assert r.code != 0 and "take no value" in r.log
    assert evm.balance(B) == b0 + 5
    assert evm.balance(BANK_HEX) == 0


def test_a_precompile_call_is_charged_its_gas_exactly(evm: Evm) -> None:
    data = _send_data(addr20(A), addr20(B), 5)
    intrinsic = 21_000 + sum(4 if x == 0 else 16 for x in data)
    b0 = evm.balance(B)
    r = evm.one(evm.tx(A, BANK_HEX, data, gas=intrinsic + 25_000 - 1))
    assert r.code != 0 and "OutOfGas" in r.log  # one gas short of send's 25,000
    assert evm.balance(B) == b0
    r = evm.one(evm.tx(A, BANK_HEX, data, gas=intrinsic + 25_000))
    assert r.code == 0, r.log
    assert eth_event(r, "ethereum_tx")["gas_used"] == str(intrinsic + 25_000)
    assert evm.balance(B) == b0 + 5


def test_jobmarket_posts_the_job_the_jobs_module_and_workers_see(evm: Evm, m: Market) -> None:
    jm = contract("JobMarket", JOBMARKET)
    req = ("text-generation", "tiny-lm", "", b"hello", "", 3 * VCN, 0, 0, 0)
    a0 = evm.balance(A)
    r = evm.one(evm.invoke(A, jm, "post", req, gas=500_000))
    assert r.code == 0, r.log
    posted = [dict(e.attributes) for e in r.events if e.type == "JobPosted"]
    assert len(posted) == 1 and posted[0]["poster"] == to_bech32(addr20(A))
    jid = int(posted[0]["job_id"])
    job = m.job(jid)
    assert job.poster == addr20(A) and job.max_price == 3 * VCN and job.state == "queued"
    assert evm.balance(A) < a0 - 3 * VCN  # escrowed from the poster's bank balance
    # JobMarket's own Solidity event, indexed by job id and poster
    topic = "0x" + keccak(b"JobPosted(uint64,address,string,string,uint256)").hex()
    mine = [lg for lg in logs(r) if lg["address"].lower() == JOBMARKET.lower()]
    assert mine and mine[0]["topics"].split(",")[0] == topic
    assert int(mine[0]["topics"].split(",")[1], 16) == jid
    # a Cosmos worker claims it like any job, and JobMarket reads it back
    m.setup_worker(W1, price_floor=VCN)
    assert m.claim(W1, jid).code == 0
    view = evm.read(jm, "getJob", jid)
    assert view[0] == jid and view[3] == "claimed"
    assert bytes.fromhex(view[2][2:]) == W1.address
    # cancelling a claimed job is refused by the jobs module, through the contract
    r = evm.one(evm.invoke(A, jm, "cancel", jid, gas=300_000))
    assert r.code != 0 and "jobs.cancelJob" in r.log


def test_jobmarket_reads_of_an_unknown_job_revert(evm: Evm) -> None:
    out = evm.call(JOBMARKET, contract("JobMarket", JOBMARKET).encode_abi("getJob", [999_999]))
    assert not out["success"] and "no job 999999" in out["error"]


def test_jobs_precompile_refuses_a_bad_request(evm: Evm) -> None:
    jm = contract("JobMarket", JOBMARKET)
    bad = ("no-such-task", "tiny-lm", "", b"x", "", VCN, 0, 0, 0)
    r = evm.one(evm.invoke(A, jm, "post", bad, gas=500_000))
    assert r.code != 0 and "unknown task type" in r.log
    assert JOBS  # the precompile the contract reached
