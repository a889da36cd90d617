"""Hostile Ethereum txs against a real App, block by block: each refused at CheckTx and
in a block with the evm module's error and words that say why, and NOTHING changed:
no receipt event, the sender's balance and nonce as before, and the app hash equal to
that of a twin App given the same block headers without the tx. Thresholds are tried
at, under and over. A tx that runs and reverts keeps its gas payment and nonce only.

The helpers at the top (``Twins``, ``eth_tx``, hand-made contracts) are shared with
test_determinism.py and test_cli.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import rlp
from cosmpy.protos.cosmos.tx.v1beta1.tx_pb2 import TxBody, TxRaw
from eth_abi.abi import encode as abi_encode
from eth_account import Account

from app.app import App
from chain.coins import DENOM
from chain.context import BlockInfo
from chain.crypto import (
    ETH_SECP256K1,
    PrivateKey,
    keccak256,
    module_address,
    to_bech32,
    to_eth_address,
)
from chain.errors import ChainError, ErrorCode, ErrTxTooLarge
from chain.results import BlockResult, TxResult
from genesis.devnet import CHAIN_ID, genesis_doc
from modules.auth import state as auth_state
from modules.bank import state as bank_state
from modules.evm import genesis as genesis_module
from modules.evm import state as evm_state
from modules.evm.errors import (
    ErrEthChainId,
    ErrEthFee,
    ErrEthFunds,
    ErrEthGas,
    ErrEthInvalid,
    ErrEthNonce,
    ErrEthTxDecode,
    ErrExecutionReverted,
)
from modules.evm.params import DEFAULT_CHAIN_ID
from modules.evm.txs import MAX_ETH_TX_BYTES, MAX_INITCODE_SIZE, decode, wrap
from tests.support.chain import BLOCK_INTERVAL_NS, VCN

ROOT = Path(__file__).resolve().parents[3]
GWEI = 10**9
EVM_CHAIN_ID = DEFAULT_CHAIN_ID
ETH = PrivateKey.from_seed(b"evm-tests-sender", ETH_SECP256K1)
ETH2 = PrivateKey.from_seed(b"evm-tests-sender-2", ETH_SECP256K1)
SINK = PrivateKey.from_seed(b"evm-tests-sink", ETH_SECP256K1).eth_address
FUNDS = 1000 * VCN


def evm_genesis(extra: dict[bytes, int] | None = None) -> dict[str, Any]:
    """The devnet genesis with ETH and ETH2's Ethereum addresses funded."""
    bal = {to_bech32(ETH.eth_address): FUNDS, to_bech32(ETH2.eth_address): FUNDS}
    bal.update({to_bech32(a): n for a, n in (extra or {}).items()})
    return genesis_doc(extra_balances=bal)


def artifact(name: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads((ROOT / "contracts" / "build" / f"{name}.json").read_text())
    return out


def oz_init(supply: int) -> bytes:
    """OZToken's init code with constructor(uint256 initialSupply)."""
    return bytes.fromhex(artifact("OZToken")["bytecode"].removeprefix("0x")) + abi_encode(
        ["uint256"], [supply]
    )


def selector(sig: str) -> bytes:
    return keccak256(sig.encode())[:4]


def erc20_transfer(to: bytes, amount: int) -> bytes:
    return selector("transfer(address,uint256)") + abi_encode(["address", "uint256"], [to, amount])


def deploying(runtime: bytes) -> bytes:
    """Init code that returns ``runtime`` as the contract's code."""
    n = len(runtime)
    assert n < 256
    # PUSH1 n DUP1 PUSH1 off PUSH1 0 CODECOPY PUSH1 0 RETURN
    head = bytes([0x60, n, 0x80, 0x60, 12, 0x60, 0, 0x39, 0x60, 0, 0xF3])
    return head + b"\x00" + runtime  # one pad byte: the runtime starts at 12


def reverter(reason: str) -> bytes:
    """Runtime code that reverts every call with ``Error(reason)``."""
    data = selector("Error(string)") + abi_encode(["string"], [reason])
    n = len(data)
    assert n < 256
    # PUSH1 n PUSH1 off PUSH1 0 CODECOPY PUSH1 n PUSH1 0 REVERT
    return bytes([0x60, n, 0x60, 12, 0x60, 0, 0x39, 0x60, n, 0x60, 0, 0xFD]) + data


def eth_tx(
    key: PrivateKey = ETH,
    *,
    nonce: int,
    to: bytes | None = SINK,
    value: int = 0,
    gas: int = 21_000,
    max_fee: int = GWEI,
    tip: int = 0,
    data: bytes = b"",
    chain_id: int | None = EVM_CHAIN_ID,
    legacy: bool = False,
) -> bytes:
    """A signed Ethereum tx: EIP-1559, or legacy (``chain_id=None``: without EIP-155)."""
    tx: dict[str, Any] = {"nonce": nonce, "gas": gas, "value": value, "data": data}
    if to is not None:
        tx["to"] = to_eth_address(to)
    if legacy:
        tx["gasPrice"] = max_fee
    else:
        tx.update(type=2, maxFeePerGas=max_fee, maxPriorityFeePerGas=tip)
    if chain_id is not None:
        tx["chainId"] = chain_id
    return bytes(Account.sign_transaction(tx, key.secret).raw_transaction)


def ethereum_events(r: TxResult) -> dict[str, str]:
    evs = [dict(e.attributes) for e in r.events if e.type == "ethereum_tx"]
    assert len(evs) == 1, r.events
    return evs[0]


class Twins:
    """Two Apps on one genesis fed the same headers: ``a`` gets the txs under test,
    ``b`` the same blocks without a refused one. Equal app hashes after a refusal
    mean the refused tx changed nothing at all."""

    def __init__(self, make_app: Callable[..., App], genesis: dict[str, Any]) -> None:
        self.a = make_app(genesis)
        self.b = make_app(genesis)

    def _block(self, app: App, txs: Sequence[bytes]) -> BlockResult:
        h = app.info().last_block_height + 1
        t = app.last_block_time_ns + BLOCK_INTERVAL_NS
        hdr = BlockInfo(CHAIN_ID, h, t, keccak256(b"block %d" % h))
        res = app.finalize_block(hdr, list(txs))
        app.commit()
        return res

    def ok(self, *txs: bytes) -> list[TxResult]:
        """Deliver ``txs`` to both in one block; each must succeed."""
        res = self._block(self.a, txs).tx_results
        self._block(self.b, txs)
        for r in res:
            assert r.code == 0, f"{r.codespace}/{r.code}: {r.log}"
        assert self.a.info().last_block_app_hash == self.b.info().last_block_app_hash
        return list(res)

    def deliver(self, raw: bytes) -> TxResult:
        """Deliver to both (whatever the result); returns a's."""
        r = self._block(self.a, [raw]).tx_results[0]
        self._block(self.b, [raw])
        return r

    def refused(self, raw: bytes, err: ErrorCode, *words: str) -> TxResult:
        """``raw`` refused at CheckTx and in a block with ``err`` and ``words`` in the log,
        leaving no receipt and the app hash what a block without it gives."""
        sender_state = self.snapshot(ETH.eth_address), self.snapshot(ETH2.eth_address)
        chk = self.a.check_tx(raw)
        assert (chk.codespace, chk.code) == (err.codespace, err.code), chk.log
        r = self._block(self.a, [raw]).tx_results[0]
        self._block(self.b, [])
        assert (r.codespace, r.code) == (err.codespace, err.code), r.log
        for w in words:
            assert w.lower() in r.log.lower(), (w, r.log)
            assert w.lower() in chk.log.lower(), (w, chk.log)
        assert not [e for e in r.events if e.type in ("ethereum_tx", "tx_log")], r.events
        assert r.gas_used == 0  # no gas charged
        assert self.a.info().last_block_app_hash == self.b.info().last_block_app_hash
        assert (self.snapshot(ETH.eth_address), self.snapshot(ETH2.eth_address)) == sender_state
        return r

    def pair(self, a_txs: list[bytes], b_txs: list[bytes]) -> list[TxResult]:
        """``a_txs`` to a and ``b_txs`` to b in the same header; their app hashes agree."""
        res = self._block(self.a, a_txs).tx_results
        self._block(self.b, b_txs)
        assert self.a.info().last_block_app_hash == self.b.info().last_block_app_hash
        return list(res)

    def snapshot(self, addr: bytes) -> tuple[int, int]:
        ctx = self.a.query_ctx()
        acc = auth_state.get_account(ctx, addr)
        return bank_state.balance(ctx, addr, DENOM), 0 if acc is None else acc.sequence

    def balance(self, addr: bytes) -> int:
        return bank_state.balance(self.a.query_ctx(), addr, DENOM)

    def nonce(self, addr: bytes) -> int:
        return self.snapshot(addr)[1]

    def base_fee(self) -> int:
        return evm_state.base_fee(self.a.query_ctx())

    def block_gas_limit(self) -> int:
        return evm_state.get_params(self.a.query_ctx()).block_gas_limit


# -- the tests ----------------------------------------------------------------------------
@pytest.fixture
def tw(make_app: Callable[..., App]) -> Twins:
    return Twins(make_app, evm_genesis())


def test_a_plain_transfer_runs_and_leaves_a_receipt(tw: Twins) -> None:
    (r,) = tw.ok(eth_tx(nonce=0, value=5))
    ev = ethereum_events(r)
    assert ev["status"] == "1" and ev["from"] == "0x" + ETH.eth_address.hex()
    assert tw.balance(SINK) == 5 and tw.nonce(ETH.eth_address) == 1


def test_malformed_rlp_is_refused(tw: Twins) -> None:
    tw.refused(b"\x02\xc3\x01\x02", ErrEthTxDecode, "malformed")
    tw.refused(b"\xf8\xff" + b"\x01" * 40, ErrEthTxDecode)  # a legacy list cut short
    tw.refused(b"\x02" + b"\xff" * 50, ErrEthTxDecode)


def test_trailing_bytes_are_refused_as_non_canonical(tw: Twins) -> None:
    good = eth_tx(nonce=0)
    tw.refused(good + b"\x00", ErrEthTxDecode)
    legacy = eth_tx(nonce=0, legacy=True)
    tw.refused(legacy + b"\x80", ErrEthTxDecode)
    tw.ok(good)  # the tx itself was fine all along


def test_a_tx_signed_for_another_chain_is_refused(tw: Twins) -> None:
    tw.refused(eth_tx(nonce=0, chain_id=1), ErrEthChainId, "chain id 1", str(EVM_CHAIN_ID))
    tw.refused(eth_tx(nonce=0, chain_id=1, legacy=True), ErrEthChainId, "chain id 1")
    tw.refused(eth_tx(nonce=0, chain_id=EVM_CHAIN_ID + 1), ErrEthChainId)


def test_a_legacy_tx_without_eip155_is_refused(tw: Twins) -> None:
    raw = eth_tx(nonce=0, legacy=True, chain_id=None)
    v = rlp.decode(raw)[6]
    assert int.from_bytes(v, "big") in (27, 28)
    tw.refused(raw, ErrEthChainId, "EIP-155")
    (r,) = tw.ok(eth_tx(nonce=0, legacy=True))  # the same with EIP-155 runs
    assert ethereum_events(r)["type"] == "0"


def test_a_nonce_gap_and_a_reused_nonce_are_refused(tw: Twins) -> None:
    tw.refused(eth_tx(nonce=1), ErrEthNonce, "gap", "next nonce")
    tw.ok(eth_tx(nonce=0))
    tw.refused(eth_tx(nonce=0, value=1), ErrEthNonce, "already used")
    tw.refused(eth_tx(nonce=0), ErrEthNonce)  # the very same bytes again
    tw.refused(eth_tx(nonce=2), ErrEthNonce, "gap")
    tw.ok(eth_tx(nonce=1))


def test_a_fee_below_the_base_fee_is_refused_and_exactly_the_base_fee_runs(tw: Twins) -> None:
    base = tw.base_fee()
    tw.refused(eth_tx(nonce=0, max_fee=base - 1), ErrEthFee, "below the base fee")
    tw.refused(eth_tx(nonce=0, max_fee=base - 1, legacy=True), ErrEthFee)
    before = tw.balance(ETH.eth_address)
    (r,) = tw.ok(eth_tx(nonce=0, max_fee=base, tip=base))  # the tip is capped to 0
    ev = ethereum_events(r)
    assert ev["effective_gas_price"] == str(base) and ev["tip_paid"] == "0"
    assert tw.balance(ETH.eth_address) == before - 21_000 * base


def test_init_code_over_the_eip3860_limit_is_refused_and_at_it_runs(tw: Twins) -> None:
    gas = 300_000
    tw.refused(
        eth_tx(nonce=0, to=None, data=b"\x00" * (MAX_INITCODE_SIZE + 1), gas=gas),
        ErrEthInvalid,
        "EIP-3860",
        str(MAX_INITCODE_SIZE),
    )
    (r,) = tw.ok(eth_tx(nonce=0, to=None, data=b"\x00" * MAX_INITCODE_SIZE, gas=gas))
    assert ethereum_events(r)["contract"]  # all STOPs: an empty contract, created


def test_gas_over_the_block_gas_limit_is_refused_and_exactly_at_it_runs(tw: Twins) -> None:
    limit = tw.block_gas_limit()
    tw.refused(eth_tx(nonce=0, gas=limit + 1), ErrEthGas, "block gas limit", str(limit))
    before = tw.balance(ETH.eth_address)
    (r,) = tw.ok(eth_tx(nonce=0, gas=limit))
    ev = ethereum_events(r)
    assert ev["gas_limit"] == str(limit) and ev["gas_used"] == "21000"
    assert tw.balance(ETH.eth_address) == before - 21_000 * GWEI  # the unused gas came back


def test_a_balance_short_of_value_plus_gas_is_refused_by_one_avcn(tw: Twins) -> None:
    have = tw.balance(ETH.eth_address)
    fee = 21_000 * GWEI
    tw.refused(eth_tx(nonce=0, value=have - fee + 1), ErrEthFunds, str(have))
    # the max fee counts, not what the tx would pay
    tw.refused(eth_tx(nonce=0, value=have - fee, max_fee=2 * GWEI), ErrEthFunds)
    tw.ok(eth_tx(nonce=0, value=have - fee))
    assert tw.balance(ETH.eth_address) == 0 and tw.balance(SINK) == have - fee


def test_a_blob_tx_is_refused(tw: Twins) -> None:
    fields = [EVM_CHAIN_ID, 0, 0, GWEI, 21_000, SINK, 0, b"", [], GWEI, [b"\x01" + b"\x00" * 31]]
    raw = b"\x03" + rlp.encode(fields + [0, 1, 1])
    tw.refused(raw, ErrEthInvalid, "blob")


def test_an_oversized_tx_is_refused(tw: Twins) -> None:
    gas = 21_000 + 16 * (MAX_ETH_TX_BYTES + 1)
    raw = eth_tx(nonce=0, data=b"\x01" * MAX_ETH_TX_BYTES, gas=gas)
    assert len(raw) > MAX_ETH_TX_BYTES
    # the framework's own limit is the same 128 KiB and answers first
    tw.refused(raw, ErrTxTooLarge, str(MAX_ETH_TX_BYTES))
    tw.refused(wrap(raw), ErrTxTooLarge, str(MAX_ETH_TX_BYTES))
    with pytest.raises(ChainError) as e:  # the module's decoder refuses it by itself too
        decode(raw, EVM_CHAIN_ID)
    assert (e.value.codespace, e.value.code) == (ErrEthInvalid.codespace, ErrEthInvalid.code)


def test_a_tx_to_a_module_account_is_refused(tw: Twins) -> None:
    for name in ("escrow", "fee_collector"):
        tw.refused(eth_tx(nonce=0, to=module_address(name), value=1), ErrEthInvalid, "module")
    tw.refused(eth_tx(nonce=0, to=module_address("escrow")), ErrEthInvalid, "module account")


def _envelope(eth_raw: bytes, memo: str = "", signature: bytes = b"") -> bytes:
    txr = TxRaw.FromString(wrap(eth_raw))
    body = TxBody.FromString(txr.body_bytes)
    body.memo = memo
    txr.body_bytes = body.SerializeToString(deterministic=True)
    if signature:
        txr.signatures.append(signature)
        txr.auth_info_bytes = b"\x12\x00"
    return bytes(txr.SerializeToString(deterministic=True))


def test_an_envelope_with_a_cosmos_signature_or_memo_is_refused(tw: Twins) -> None:
    raw = eth_tx(nonce=0)
    assert _envelope(raw) == wrap(raw)
    tw.refused(_envelope(raw, signature=b"\x01" * 64), ErrEthTxDecode, "signature")
    tw.refused(_envelope(raw, memo="hi"), ErrEthTxDecode, "nothing else")
    tw.ok(wrap(raw))  # the bare envelope runs


def test_a_revert_keeps_the_gas_and_nonce_and_nothing_else(tw: Twins) -> None:
    (dep,) = tw.ok(eth_tx(nonce=0, to=None, data=deploying(reverter("no way")), gas=200_000))
    target = bytes.fromhex(ethereum_events(dep)["contract"][2:])
    bal, nonce = tw.snapshot(ETH.eth_address)
    r = tw.deliver(eth_tx(nonce=1, to=target, value=7, gas=100_000, max_fee=3 * GWEI))
    assert (r.codespace, r.code) == (ErrExecutionReverted.codespace, ErrExecutionReverted.code)
    assert "no way" in r.log
    ev = ethereum_events(r)
    assert ev["status"] == "0" and int(ev["gas_used"]) > 21_000
    assert not [e for e in r.events if e.type == "tx_log"]
    price = int(ev["effective_gas_price"])
    assert tw.snapshot(ETH.eth_address) == (bal - int(ev["gas_used"]) * price, nonce + 1)
    assert tw.balance(target) == 0  # the value went back


def test_an_erc20_revert_leaves_the_token_balances(tw: Twins) -> None:
    (dep,) = tw.ok(eth_tx(nonce=0, to=None, data=oz_init(1000), gas=2_000_000))
    token = bytes.fromhex(ethereum_events(dep)["contract"][2:])
    (r,) = tw.ok(eth_tx(nonce=1, to=token, data=erc20_transfer(SINK, 10), gas=100_000))
    assert len([e for e in r.events if e.type == "tx_log"]) == 1
    r = tw.deliver(eth_tx(nonce=2, to=token, data=erc20_transfer(SINK, 991), gas=100_000))
    assert r.code == ErrExecutionReverted.code and r.codespace == "evm", r.log
    assert ethereum_events(r)["status"] == "0"
    bal = token_balance(tw.a, token, SINK)
    assert bal == 10 and token_balance(tw.a, token, ETH.eth_address) == 990
    assert tw.nonce(ETH.eth_address) == 3


def token_balance(app: App, token: bytes, who: bytes) -> int:
    data = selector("balanceOf(address)") + abi_encode(["address"], [who])
    out = app_call(app, token, data)
    return int.from_bytes(out, "big")


def app_call(app: App, to: bytes, data: bytes) -> bytes:
    req = {"to": "0x" + to.hex(), "data": "0x" + data.hex()}
    q = app.query("/custom/evm/call", json.dumps(req).encode())
    assert q.code == 0, q.log
    res = json.loads(q.value)
    assert res["success"], res
    return bytes.fromhex(res["output"][2:])


def test_a_tx_that_will_revert_is_admitted_by_check_tx(tw: Twins) -> None:
    """A valid tx that will revert is admitted to the mempool (it pays its gas and uses
    its nonce in a block, as on Ethereum), and CheckTx says what it will do."""
    (dep,) = tw.ok(eth_tx(nonce=0, to=None, data=deploying(reverter("no way")), gas=200_000))
    target = bytes.fromhex(ethereum_events(dep)["contract"][2:])
    chk = tw.a.check_tx(eth_tx(nonce=1, to=target, gas=100_000))
    assert chk.code == 0 and "no way" in chk.log, chk.log
    assert tw.a.check_tx(eth_tx(nonce=2, to=target, gas=100_000)).code == 0  # nonce used


def _high_s(raw: bytes) -> bytes:
    """The same tx with its signature's other (high) s: the same signer under ECDSA."""
    typed = raw[0] < 0xC0
    f = rlp.decode(raw[1:] if typed else raw)
    s, vi = int.from_bytes(f[-1], "big"), len(f) - 3
    f[-1] = (SECP256K1_N - s).to_bytes(32, "big")
    f[vi] = (int.from_bytes(f[vi], "big") ^ 1).to_bytes(2, "big").lstrip(b"\0")
    return (raw[:1] if typed else b"") + bytes(rlp.encode(f))


SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def test_malleated_signatures_intrinsic_gas_and_nonce_overflow_are_refused(tw: Twins) -> None:
    tw.refused(_high_s(eth_tx(nonce=0)), ErrEthInvalid, "signature")  # EIP-2: low s only
    tw.refused(_high_s(eth_tx(nonce=0, legacy=True)), ErrEthInvalid)
    tw.refused(eth_tx(nonce=0, gas=20_999), ErrEthInvalid)  # below the intrinsic 21,000
    tw.refused(eth_tx(nonce=2**64 - 1), ErrEthInvalid, "2^64-1")  # EIP-2681
    tw.ok(eth_tx(nonce=0, gas=21_000))


def test_two_txs_with_one_nonce_in_a_block_run_once(tw: Twins) -> None:
    first, second = eth_tx(nonce=0, value=1), eth_tx(nonce=0, value=2)
    r1, r2 = tw.pair([first, second], [first])
    assert r1.code == 0 and ethereum_events(r1)["value"] == "1"
    assert (r2.codespace, r2.code) == (ErrEthNonce.codespace, ErrEthNonce.code)
    assert "already used" in r2.log and not [e for e in r2.events if e.type == "ethereum_tx"]
    assert tw.balance(SINK) == 1 and tw.nonce(ETH.eth_address) == 1


LOOP = bytes([0x5B, 0x60, 0x00, 0x56])  # JUMPDEST PUSH1 0 JUMP: burns all its gas


def test_a_block_holds_at_most_the_block_gas_limit_of_evm_gas(
    make_app: Callable[..., App],
) -> None:
    """Each tx's gas limit must fit in what the block's earlier txs left (Ethereum's rule):
    a second tx that does not is refused in FinalizeBlock and changes nothing."""
    genesis = evm_genesis()
    evm = genesis_module.default()
    evm["params"]["block_gas_limit"] = "300000"  # small, so that the loops run quickly
    genesis["app_state"]["evm"] = evm
    tw = Twins(make_app, genesis)
    (dep,) = tw.ok(eth_tx(nonce=0, to=None, data=deploying(LOOP), gas=200_000))
    loop = bytes.fromhex(ethereum_events(dep)["contract"][2:])
    half = tw.block_gas_limit() * 2 // 3
    one, two = (
        eth_tx(nonce=1, to=loop, gas=half, max_fee=2 * GWEI),
        eth_tx(ETH2, nonce=0, to=loop, gas=half, max_fee=2 * GWEI),
    )
    r1, r2 = tw.pair([one, two], [one])
    assert ethereum_events(r1)["gas_used"] == str(half)  # ran out of gas: all of it used
    assert (r2.codespace, r2.code) == (ErrEthGas.codespace, ErrEthGas.code), r2.log
    assert r2.gas_used == 0 and not [e for e in r2.events if e.type == "ethereum_tx"]
    assert tw.nonce(ETH2.eth_address) == 0
    r3 = tw.deliver(two)  # the next block has room for it: it runs (out of gas)
    assert ethereum_events(r3)["gas_used"] == str(half) and tw.nonce(ETH2.eth_address) == 1


def test_the_account_query_refuses_a_wrong_eip55_checksum(tw: Twins) -> None:
    good = to_eth_address(ETH.eth_address)
    bad = good[:2] + good[2:].swapcase()
    assert bad != good and bad.lower() != bad and bad.upper()[2:] != bad[2:]
    q = tw.a.query("/custom/evm/account", json.dumps({"address": bad}).encode())
    assert q.code != 0 and "checksum" in q.log
