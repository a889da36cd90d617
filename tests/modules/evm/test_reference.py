"""The EVM over the chain store against py-evm's own state (eth-tester, Cancun): the
same signed transactions, in the same order, give the same status and the same gas to
the unit, and the same results.

The transactions exercise what depends on how state is kept: warm and cold reads,
storage writes with their original values and refunds, code hashes of missing,
plain and contract accounts, transient storage, value to a new account, a contract
made and destroyed in one tx (EIP-6780), SELFDESTRUCT of an older one, a revert
after a call, and an OpenZeppelin ERC-20 (contracts/build)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import rlp
from eth.vm.forks.cancun import CancunVM
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak
from eth_tester import EthereumTester, PyEVMBackend  # type: ignore[import-untyped]
from web3 import EthereumTesterProvider, Web3

from app.app import App
from modules.evm.params import DEFAULT_CHAIN_ID
from tests.support.chain import VCN, Chain
from tests.support.evm import Evm, addr20, contract, eth_event

K: LocalAccount = Account.from_key(b"\x5a" * 32)
FRESH = Web3.to_checksum_address("0x" + keccak(b"fresh")[:20].hex())
FRESH2 = Web3.to_checksum_address("0x" + keccak(b"fresh2")[:20].hex())
GWEI = 10**9
# runtime 6009 6007 5d 6007 5c 6000 52 6020 6000 f3: TSTORE(7, 9); return TLOAD(7)
TRANSIENT = bytes.fromhex("601080600b6000396000f3" + "600960075d60075c60005260206000f3")
# runtime 33 ff: SELFDESTRUCT to the caller, on any call
BOOM = bytes.fromhex("6133ff6000526002601ef3")


def created(sender: str, nonce: int) -> str:
    return Web3.to_checksum_address(keccak(rlp.encode([addr20(sender), nonce]))[12:])


def create2(deployer: str, salt: bytes, init: bytes) -> str:
    raw = keccak(b"\xff" + addr20(deployer) + salt + keccak(init))[12:]
    return Web3.to_checksum_address(raw)


def plan() -> list[dict[str, Any]]:
    """The transactions, without chain id and nonce (each side adds its own)."""
    probe = created(K.address, 0)
    p = contract("EvmProbe", probe)
    transient, boom, oz = created(K.address, 13), created(K.address, 15), created(K.address, 20)
    t = contract("OZToken", oz)
    made = create2(probe, b"\x01" * 32, b"\x33\xff")
    inner = p.encode_abi("storePattern", [3])
    txs: list[dict[str, Any]] = [
        {"data": contract("EvmProbe").bytecode, "gas": 3_000_000},  # 0: probe
        {"to": probe, "data": p.encode_abi("storePattern", [5])},
        {"to": probe, "data": p.encode_abi("storePattern", [7])},
        {"to": probe, "data": p.encode_abi("storePattern", [7])},  # no change to m[7]
        {"to": probe, "data": p.encode_abi("readTwice", [5])},
        {"to": probe, "data": p.encode_abi("codeHashOf", [FRESH])},  # 5: missing account
        {"to": probe, "data": p.encode_abi("codeHashOf", [K.address])},
        {"to": probe, "data": p.encode_abi("codeHashOf", [probe])},
        {"to": probe, "data": p.encode_abi("balanceTwice", [FRESH])},
        {"to": probe, "data": p.encode_abi("pay", [FRESH2]), "value": 1000},  # new account
        {"to": probe, "data": p.encode_abi("pay", [FRESH2]), "value": 1000},  # 10: not new
        {"to": probe, "data": p.encode_abi("createAndDestroy", [b"\x01" * 32]), "value": 500},
        {"to": probe, "data": p.encode_abi("codeHashOf", [made])},
        {"data": TRANSIENT, "gas": 200_000},  # 13: transient
        {"to": transient, "data": b""},
        {"data": BOOM, "gas": 200_000},  # 15: boom
        {"to": boom, "value": 100, "data": b""},
        {"to": boom, "data": b"\x01"},  # SELFDESTRUCT: its 100 go to K, its code stays
        {"to": probe, "data": p.encode_abi("clear", [5])},
        {"to": probe, "data": p.encode_abi("callThenRevert", [probe, inner])},
        {"data": contract("OZToken").constructor(10**24).data_in_transaction, "gas": 3_000_000},
        {"to": oz, "data": t.encode_abi("transfer", [FRESH, 10**20])},  # 21
        {"to": oz, "data": t.encode_abi("transfer", [FRESH, 10**20])},
        {"to": oz, "data": t.encode_abi("approve", [K.address, 5 * 10**19])},
        {"to": oz, "data": t.encode_abi("transferFrom", [K.address, FRESH2, 5 * 10**19])},
        {"to": oz, "data": t.encode_abi("transferFrom", [K.address, FRESH2, 1])},  # no allowance
        {"to": FRESH, "value": 7, "data": b"", "gas": 21_000, "legacy": True},  # 26
    ]
    return txs


def sign(tx: dict[str, Any], chain_id: int, nonce: int) -> bytes:
    t = {k: v for k, v in tx.items() if k != "legacy"}
    t.setdefault("gas", 300_000)
    t.setdefault("value", 0)
    t.update({"chainId": chain_id, "nonce": nonce})
    if tx.get("legacy"):
        t["gasPrice"] = 10 * GWEI
    else:
        t.update({"maxFeePerGas": 10 * GWEI, "maxPriorityFeePerGas": GWEI, "type": 2})
    return bytes(K.sign_transaction(t).raw_transaction)


READS = [
    ("a", []),
    ("b", []),
    ("m", [5]),
    ("m", [7]),
    ("m", [3]),
    ("readTwice", [7]),
    ("codeHashOf", [FRESH]),
    ("codeHashOf", [FRESH2]),
]


@pytest.fixture(scope="module")
def reference() -> tuple[list[tuple[int, int]], dict[str, Any]]:
    """The plan on eth-tester: (status, gas used) per tx, then the reads."""
    state = {addr20(K): {"balance": 1_000 * VCN, "nonce": 0, "code": b"", "storage": {}}}
    backend = PyEVMBackend(genesis_state=state, vm_configuration=((0, CancunVM),))
    w3 = Web3(EthereumTesterProvider(EthereumTester(backend)))
    cid = int(w3.eth.chain_id)
    out = []
    for i, tx in enumerate(plan()):
        r = w3.eth.get_transaction_receipt(w3.eth.send_raw_transaction(sign(tx, cid, i)))
        out.append((int(r["status"]), int(r["gasUsed"])))
    return out, reads(
        lambda to, data: bytes(w3.eth.call({"to": to, "data": data, "from": K.address}))
    )


def reads(call: Callable[[str, bytes], bytes]) -> dict[str, Any]:
    p = contract("EvmProbe", created(K.address, 0))
    got: dict[str, Any] = {}
    for fn, args in READS:
        got[f"{fn}{args}"] = call(p.address, bytes.fromhex(p.encode_abi(fn, args)[2:]))
    t = contract("OZToken", created(K.address, 20))
    for who in (K.address, FRESH, FRESH2):
        got[f"oz {who}"] = call(t.address, bytes.fromhex(t.encode_abi("balanceOf", [who])[2:]))
    got["transient"] = call(created(K.address, 13), b"")
    # code hashes of a contract, an account with no code and a destroyed-in-place one
    for who in (p.address, K.address, created(K.address, 15), created(K.address, 13)):
        got[f"codeHashOf {who}"] = call(
            p.address, bytes.fromhex(p.encode_abi("codeHashOf", [who])[2:])
        )
    return got


def test_every_tx_gives_py_evms_status_and_gas_and_the_same_state(
    make_app: Callable[..., App], reference: tuple[list[tuple[int, int]], dict[str, Any]]
) -> None:
    ref, ref_reads = reference
    evm = Evm(Chain(make_app()))
    evm.fund(K, amount=1_000 * VCN)
    ours = []
    for i, tx in enumerate(plan()):
        r = evm.one(sign(tx, DEFAULT_CHAIN_ID, i))
        ev = eth_event(r, "ethereum_tx")
        ours.append((int(ev["status"]), int(ev["gas_used"])))
    assert len(ours) == len(ref)
    for i, (mine, theirs) in enumerate(zip(ours, ref, strict=True)):
        assert mine == theirs, f"tx {i} {plan()[i].get('to')}: ours {mine}, py-evm {theirs}"
    assert [s for s, _ in ours].count(0) == 2  # the revert after a call, the OZ overdraw

    def call(to: str, data: bytes) -> bytes:
        out = evm.call(to, data)
        assert out["success"], out
        return bytes.fromhex(out["output"][2:])

    assert reads(call) == ref_reads
    # the contract made and destroyed in one tx is gone; the older one kept its code
    assert (
        evm.app.custom_query("evm", "code", {"address": created(K.address, 15)})["code"] == "0x33ff"
    )
    made = create2(created(K.address, 0), b"\x01" * 32, b"\x33\xff")
    assert evm.app.custom_query("evm", "account", {"address": made})["is_contract"] is False
    assert evm.balance(FRESH2) == 2000
