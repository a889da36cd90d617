"""VCoin.sol and JobMarket.sol, as committed in ``contracts/build``, run by py-evm
(eth-tester, driven by web3.py with locally signed transactions, the way
``contracts/README.md`` shows) over stand-in precompiles: the contracts of
``tests/contracts/Mocks.sol``, compiled by the pinned solc and put at the precompile
addresses in the genesis state, with VCoin's and JobMarket's runtime code at their
genesis addresses as genesis writes it (no constructor run).

What is checked is the facades' own logic: the acting account they pass (the caller's
own balance, bond or job is the one that moves), their events, VCoin's allowances,
their own refusals, and a precompile's refusal reaching the caller unchanged. The real
precompiles and their rules are the EVM module's tests. Also: web3.py deploys and
uses the OpenZeppelin ERC-20 (``OZToken``), a contract we did not write.

Needs Node.js for the stand-ins (the same skip rule as ``test_build.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.exceptions import TransactionFailed
from eth_utils import keccak, to_canonical_address, to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD
from web3.providers.eth_tester import EthereumTesterProvider

from tests.contracts.test_build import BUILD, CONTRACTS, SETUP, _output, _require_node, _run

MOCKS = Path(__file__).with_name("Mocks.sol")
VCOIN = "0x0000000000000000000000000000000000000C01"
JOB_MARKET = "0x0000000000000000000000000000000000000c02"
PRECOMPILES = {
    "MockBank": "0x0000000000000000000000000000000000000800",
    "MockStaking": "0x0000000000000000000000000000000000000801",
    "MockJobs": "0x0000000000000000000000000000000000000802",
    "MockMint": "0x0000000000000000000000000000000000000803",
}
TREASURY = to_checksum_address("0x0000000000000000000000000000000000007ea5")
ZERO = "0x0000000000000000000000000000000000000000"
MAX = 2**256 - 1

# solc's standard JSON for the stand-ins, imports of src/ resolved from contracts/
COMPILE_MOCKS = """
const [contracts, file] = process.argv.slice(1);
const fs = require("fs");
const solc = require("module").createRequire(contracts + "/package.json")("solc");
const content = fs.readFileSync(file, "utf8");
const input = {language: "Solidity", sources: {"Mocks.sol": {content}},
  settings: {evmVersion: "cancun", optimizer: {enabled: true, runs: 200},
    outputSelection: {"Mocks.sol": {"*": ["abi", "evm.deployedBytecode.object"]}}}};
const out = JSON.parse(solc.compile(JSON.stringify(input),
  {import: (p) => ({contents: fs.readFileSync(contracts + "/" + p, "utf8")})}));
const errors = (out.errors || []).filter((e) => e.severity === "error");
if (errors.length) {
  console.error(errors.map((e) => e.formattedMessage).join("\\n"));
  process.exit(1);
}
process.stdout.write(JSON.stringify(out.contracts["Mocks.sol"]));
"""


def key(name: str) -> LocalAccount:
    """A test key: keccak(b"vcoin-contracts-test-" + name). Public: for tests only."""
    acct: LocalAccount = Account.from_key(keccak(b"vcoin-contracts-test-" + name.encode()))
    return acct


@dataclass
class Net:
    w3: Web3
    vcoin: Any
    market: Any
    bank: Any
    staking: Any
    jobs: Any
    alice: LocalAccount
    bob: LocalAccount
    carol: LocalAccount
    platform: LocalAccount
    slasher: LocalAccount

    def send(self, call: Any, acct: LocalAccount) -> Any:
        """Sign ``call`` locally as ``acct``, send it raw and return its receipt (status 1)."""
        tx = call.build_transaction(
            {
                "from": acct.address,
                "nonce": self.w3.eth.get_transaction_count(acct.address),
                "chainId": self.w3.eth.chain_id,
            }
        )
        signed = acct.sign_transaction(tx)
        h = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(h)
        assert receipt.status == 1, receipt
        return receipt

    def refused(self, call: Any, acct: LocalAccount, reason: str) -> None:
        # web3.py raises ContractLogicError over HTTP; its eth-tester provider, TransactionFailed
        with pytest.raises((ContractLogicError, TransactionFailed)) as e:
            call.call({"from": acct.address})
        assert reason in str(e.value), e.value

    def balance(self, who: str) -> int:
        n: int = self.vcoin.functions.balanceOf(who).call()
        assert n == self.bank.functions.balances(who).call()
        return n


def _events(contract: Any, event: str, receipt: Any) -> list[dict[str, Any]]:
    return [
        dict(e.args)
        for e in getattr(contract.events, event)().process_receipt(receipt, errors=DISCARD)
    ]


def _code(hexstr: str) -> bytes:
    return bytes.fromhex(hexstr.removeprefix("0x"))


@pytest.fixture(scope="module")
def net() -> Iterator[Net]:
    _require_node()
    r = _run([str(SETUP)])
    assert r.returncode == 0, f"scripts/setup-contracts failed (exit {r.returncode}):\n{_output(r)}"
    r = _run(["node", "-e", COMPILE_MOCKS, str(CONTRACTS), str(MOCKS)])
    assert r.returncode == 0, f"compiling tests/contracts/Mocks.sol failed:\n{_output(r)}"
    mocks = json.loads(r.stdout)
    built = {n: json.loads((BUILD / f"{n}.json").read_text()) for n in ("VCoin", "JobMarket")}

    users = {n: key(n) for n in ("alice", "bob", "carol", "platform", "slasher")}
    state: dict[bytes, dict[str, Any]] = {}
    for acct in users.values():
        state[to_canonical_address(acct.address)] = account(10**21)
    for name, addr in PRECOMPILES.items():
        state[to_canonical_address(addr)] = account(
            0, mocks[name]["evm"]["deployedBytecode"]["object"]
        )
    # the authorities, in slot 0 of the stand-ins (Mocks.sol)
    for name, who in (("MockMint", "platform"), ("MockStaking", "slasher")):
        state[to_canonical_address(PRECOMPILES[name])]["storage"] = {0: int(users[who].address, 16)}
    state[to_canonical_address(VCOIN)] = account(0, built["VCoin"]["deployedBytecode"])
    state[to_canonical_address(JOB_MARKET)] = account(0, built["JobMarket"]["deployedBytecode"])
    w3 = Web3(EthereumTesterProvider(EthereumTester(PyEVMBackend(genesis_state=state))))
    w3.eth.default_account = users["alice"].address  # eth_call's sender, funded
    mock = {n: w3.eth.contract(address=a, abi=mocks[n]["abi"]) for n, a in PRECOMPILES.items()}
    yield Net(
        w3=w3,
        vcoin=w3.eth.contract(address=VCOIN, abi=built["VCoin"]["abi"]),
        market=w3.eth.contract(address=JOB_MARKET, abi=built["JobMarket"]["abi"]),
        bank=mock["MockBank"],
        staking=mock["MockStaking"],
        jobs=mock["MockJobs"],
        alice=users["alice"],
        bob=users["bob"],
        carol=users["carol"],
        platform=users["platform"],
        slasher=users["slasher"],
    )


def account(balance: int, code: str = "") -> dict[str, Any]:
    return {"balance": balance, "nonce": 1 if code else 0, "code": _code(code), "storage": {}}


def _fund(n: Net, acct: LocalAccount, amount: int) -> None:
    n.send(n.vcoin.functions.mint(acct.address, amount), n.platform)


# -- VCoin --


def test_vcoin_reads_are_the_banks_figures(net: Net) -> None:
    n = net
    v = n.vcoin.functions
    assert (v.name().call(), v.symbol().call(), v.decimals().call()) == ("VCoin", "VCN", 18)
    _fund(n, n.alice, 1_000)
    assert v.totalSupply().call() == n.bank.functions.supply().call() > 0
    assert n.balance(n.alice.address) >= 1_000
    # nothing of the balance lives in VCoin's storage: the bank's figure changes under it
    n.send(n.bank.functions.credit(n.carol.address, 7), n.carol)
    assert n.balance(n.carol.address) == 7


def test_vcoin_mint_goes_to_the_mint_module_as_the_caller(net: Net) -> None:
    n = net
    before = n.balance(n.bob.address)
    r = n.send(n.vcoin.functions.mint(n.bob.address, 500), n.platform)
    assert _events(n.vcoin, "Transfer", r) == [{"from": ZERO, "to": n.bob.address, "value": 500}]
    assert n.balance(n.bob.address) == before + 500
    # anyone else is refused by the mint module, and the reason reaches the caller
    n.refused(n.vcoin.functions.mint(n.bob.address, 1), n.bob, "mint: only the platform authority")
    n.refused(n.vcoin.functions.mint(ZERO, 1), n.platform, "VCoin: mint to the zero address")


def test_vcoin_transfer_moves_the_callers_coins(net: Net) -> None:
    n = net
    _fund(n, n.alice, 1_000)
    a, b = n.balance(n.alice.address), n.balance(n.bob.address)
    r = n.send(n.vcoin.functions.transfer(n.bob.address, 300), n.alice)
    assert _events(n.vcoin, "Transfer", r) == [
        {"from": n.alice.address, "to": n.bob.address, "value": 300}
    ]
    assert (n.balance(n.alice.address), n.balance(n.bob.address)) == (a - 300, b + 300)
    n.refused(n.vcoin.functions.transfer(n.bob.address, a * 10), n.alice, "bank: insufficient")
    n.refused(n.vcoin.functions.transfer(ZERO, 1), n.alice, "use consume(amount) to burn")
    # a transfer of 0 is a normal transfer, with its event
    r = n.send(n.vcoin.functions.transfer(n.bob.address, 0), n.carol)
    assert _events(n.vcoin, "Transfer", r) == [
        {"from": n.carol.address, "to": n.bob.address, "value": 0}
    ]


def test_vcoin_allowances(net: Net) -> None:
    n = net
    v = n.vcoin.functions
    _fund(n, n.alice, 1_000)
    r = n.send(v.approve(n.carol.address, 100), n.alice)
    assert _events(n.vcoin, "Approval", r) == [
        {"owner": n.alice.address, "spender": n.carol.address, "value": 100}
    ]
    assert v.allowance(n.alice.address, n.carol.address).call() == 100
    a, b = n.balance(n.alice.address), n.balance(n.bob.address)
    r = n.send(v.transferFrom(n.alice.address, n.bob.address, 60), n.carol)
    assert _events(n.vcoin, "Transfer", r) == [
        {"from": n.alice.address, "to": n.bob.address, "value": 60}
    ]
    assert _events(n.vcoin, "Approval", r) == []
    assert (n.balance(n.alice.address), n.balance(n.bob.address)) == (a - 60, b + 60)
    assert v.allowance(n.alice.address, n.carol.address).call() == 40
    n.refused(
        v.transferFrom(n.alice.address, n.bob.address, 41),
        n.carol,
        "exceeds allowance; the owner must approve(spender, amount) first",
    )
    # the allowance is the caller's, from that owner only
    n.refused(v.transferFrom(n.alice.address, n.bob.address, 1), n.bob, "exceeds allowance")
    n.refused(v.transferFrom(n.bob.address, n.alice.address, 1), n.carol, "exceeds allowance")
    # an infinite allowance is never spent down
    n.send(v.approve(n.carol.address, MAX), n.alice)
    n.send(v.transferFrom(n.alice.address, n.carol.address, 10), n.carol)
    assert v.allowance(n.alice.address, n.carol.address).call() == MAX
    n.refused(v.transferFrom(n.alice.address, ZERO, 1), n.carol, "transfer to the zero address")
    n.refused(v.transferFrom(ZERO, n.bob.address, 0), n.carol, "transfer from the zero address")
    n.refused(v.approve(ZERO, 1), n.alice, "approve to the zero address")
    n.send(v.approve(n.carol.address, 0), n.alice)
    assert v.allowance(n.alice.address, n.carol.address).call() == 0


def test_vcoin_consume_splits_10_90_with_events(net: Net) -> None:
    n = net
    _fund(n, n.alice, 1_000)
    a, t = n.balance(n.alice.address), n.balance(TREASURY)
    supply = n.vcoin.functions.totalSupply().call()
    assert n.vcoin.functions.consume(1_000).call({"from": n.alice.address}) == [100, 900]
    r = n.send(n.vcoin.functions.consume(1_000), n.alice)
    assert _events(n.vcoin, "Transfer", r) == [
        {"from": n.alice.address, "to": ZERO, "value": 100},
        {"from": n.alice.address, "to": TREASURY, "value": 900},
    ]
    assert _events(n.vcoin, "Consumed", r) == [
        {"account": n.alice.address, "burned": 100, "toTreasury": 900}
    ]
    assert (n.balance(n.alice.address), n.balance(TREASURY)) == (a - 1_000, t + 900)
    assert n.vcoin.functions.totalSupply().call() == supply - 100


def test_vcoin_stake_unstake_and_slash(net: Net) -> None:
    n = net
    bonded = n.staking.functions.bonded
    start = bonded(n.bob.address, "worker").call()
    r = n.send(n.vcoin.functions.stake(1_000), n.bob)
    assert _events(n.vcoin, "Staked", r) == [{"account": n.bob.address, "amount": 1_000}]
    assert bonded(n.bob.address, "worker").call() == start + 1_000
    r = n.send(n.vcoin.functions.unstake(400), n.bob)
    assert _events(n.vcoin, "Unstaked", r) == [{"account": n.bob.address, "amount": 400}]
    assert bonded(n.bob.address, "worker").call() == start + 600
    n.refused(n.vcoin.functions.unstake(10**9), n.bob, "staking: unbond exceeds the bond")
    want = (start + 600) * 500 // 10_000
    r = n.send(n.vcoin.functions.slash(n.bob.address, 500), n.slasher)
    assert _events(n.vcoin, "Slashed", r) == [
        {"node": n.bob.address, "penaltyBps": 500, "slashed": want}
    ]
    n.refused(n.vcoin.functions.slash(n.bob.address, 1), n.bob, "only the slashing authority")


# -- JobMarket --

REQUEST = ("text-generation", "tiny-lm", "ab" * 32, b"hello", "{}", 77, 1, 10, 20)


def test_job_market_post_claim_submit(net: Net) -> None:
    n = net
    m = n.market.functions
    job_id = m.post(REQUEST).call({"from": n.alice.address})
    r = n.send(m.post(REQUEST), n.alice)
    assert _events(n.market, "JobPosted", r) == [
        {
            "jobId": job_id,
            "poster": n.alice.address,
            "taskType": "text-generation",
            "model": "tiny-lm",
            "maxPrice": 77,
        }
    ]
    r = n.send(m.claim(job_id), n.bob)
    assert _events(n.market, "JobClaimed", r) == [{"jobId": job_id, "worker": n.bob.address}]
    n.refused(m.submit(job_id, "cd" * 32, "ref", 3, b"\x01"), n.carol, "jobs: not your claim")
    r = n.send(m.submit(job_id, "cd" * 32, "ref", 3, b"\x01\x02"), n.bob)
    assert _events(n.market, "ResultSubmitted", r) == [
        {"jobId": job_id, "worker": n.bob.address, "outputHash": "cd" * 32}
    ]
    assert n.jobs.functions.receipts(job_id).call() == b"\x01\x02"
    job = m.getJob(job_id).call()
    assert tuple(job) == (
        job_id,
        n.alice.address,
        n.bob.address,
        "submitted",
        "text-generation",
        "tiny-lm",
        77,
        3,
        "cd" * 32,
    )


def test_job_market_cancel_is_the_posters_only(net: Net) -> None:
    n = net
    m = n.market.functions
    job_id = m.post(REQUEST).call({"from": n.carol.address})
    n.send(m.post(REQUEST), n.carol)
    n.refused(m.cancel(job_id), n.alice, "jobs: not your job")
    r = n.send(m.cancel(job_id), n.carol)
    assert _events(n.market, "JobCancelled", r) == [{"jobId": job_id, "poster": n.carol.address}]
    assert m.getJob(job_id).call()[3] == "cancelled"
    n.refused(m.getJob(10**6), n.alice, "jobs: no such job")


# -- a contract we did not write --


def test_web3_deploys_and_uses_the_openzeppelin_erc20(net: Net) -> None:
    n = net
    art = json.loads((BUILD / "OZToken.json").read_text())
    factory = n.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    r = n.send(factory.constructor(10**24), n.alice)
    token = n.w3.eth.contract(address=r.contractAddress, abi=art["abi"])
    assert token.functions.symbol().call() == "OZT"
    assert token.functions.balanceOf(n.alice.address).call() == 10**24
    r = n.send(token.functions.transfer(n.bob.address, 5), n.alice)
    assert _events(token, "Transfer", r) == [
        {"from": n.alice.address, "to": n.bob.address, "value": 5}
    ]
    assert token.functions.balanceOf(n.bob.address).call() == 5
    assert n.w3.eth.get_code(r.contractAddress or token.address) == _code(art["deployedBytecode"])
