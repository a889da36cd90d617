"""A large block's Ethereum senders recovered ahead on the signature helper process
(chain/sigverify.py's pre-pass, modules/evm/txs.py's ``recover_senders``).

What a user would notice: a node with the helper gives the same results and app
hash as one that recovers every sender itself, bad signatures are still refused
with the same errors, and a helper that dies costs nothing but speed.
"""

from __future__ import annotations

import pickle
import time
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from chain.crypto import to_bech32
from chain.errors import ChainError
from chain.sigverify import SigVerifier
from genesis.devnet import CHAIN_ID, genesis_doc
from modules.evm import txs as evm_txs
from modules.evm.params import DEFAULT_CHAIN_ID
from tests.support.chain import Chain, new_app
from tests.support.evm import VCOIN, Evm, addr20, contract, eth_key

N = 70  # above the 64 txs from which a block uses the helper
SECP256K1_N = evm_txs.SECP256K1_N
FUNDS = 10**24


def _high_s(raw: bytes) -> bytes:
    """``raw`` (an EIP-1559 tx) with s replaced by n - s: the same signature's twin,
    which EIP-2 refuses."""
    import rlp

    fields: list[bytes] = list(rlp.decode(raw[1:]))
    s = int.from_bytes(fields[-1], "big")
    fields[-1] = (SECP256K1_N - s).to_bytes(32, "big")
    fields[-3] = b"" if fields[-3] == b"\x01" else b"\x01"  # the twin recovers with the other y
    return raw[:1] + bytes(rlp.encode(fields))


def _keys() -> list[LocalAccount]:
    return [eth_key(500 + i) for i in range(N + 4)]


def _apps(tmp_path: Path) -> tuple[Evm, Evm]:
    doc = genesis_doc(
        chain_id=CHAIN_ID, extra_balances={to_bech32(addr20(k)): FUNDS for k in _keys()}
    )
    inline = Evm(Chain(new_app(tmp_path / "inline", doc)))
    helped = Evm(Chain(new_app(tmp_path / "helped", doc, sig_verify_workers=1)))
    v = helped.app.sigverify
    v.start()
    # the helper's first answer is to the warm-up call that loads py-evm (about a second)
    deadline = time.monotonic() + 60
    while v.answers(0) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return inline, helped


KINDS = 6  # tx i of the first N is of kind i % KINDS (see _good)
REVERTS = 5


def _good(evm: Evm, i: int, key: LocalAccount) -> bytes:
    """Every shape the executor reads: value transfers (EIP-1559 and legacy), an
    EIP-2930 call with an access list, VCoin.sol over the bank precompile, a
    contract creation, and a call that reverts."""
    sink = Web3.to_checksum_address("0x" + "ab" * 20)
    vcoin = contract("VCoin", VCOIN)
    kind = i % KINDS
    if kind == 0:
        return evm.tx(key, sink, value=1 + i, gas=21_000)
    if kind == 1:
        return evm.tx(key, sink, value=1 + i, gas=21_000, type=0)
    if kind == 2:
        access = [{"address": VCOIN, "storageKeys": ["0x" + "00" * 31 + "07"]}]
        data = vcoin.encode_abi("transfer", [sink, 2 + i])
        return evm.tx(key, VCOIN, data, gas=200_000, type=1, accessList=access)
    if kind == 3:
        return evm.invoke(key, vcoin, "transfer", sink, 3 + i)
    if kind == 4:
        return evm.tx(key, None, bytes.fromhex("6000600af3") + bytes(10), gas=100_000)
    zero = Web3.to_checksum_address("0x" + "00" * 20)
    return evm.invoke(key, vcoin, "transfer", zero, 1)  # the facade refuses


def _block_txs(evm: Evm) -> list[bytes]:
    """N good txs of every kind, then a high-s twin, a wrong chain id, undecodable
    bytes and a signature over other bytes (it recovers someone with no funds)."""
    keys = _keys()
    sink = "0x" + "ab" * 20
    txs = [_good(evm, i, k) for i, k in enumerate(keys[:N])]
    txs.append(_high_s(evm.tx(keys[N], sink, value=5, gas=21_000)))
    txs.append(evm.tx(keys[N + 1], sink, value=5, gas=21_000, chainId=DEFAULT_CHAIN_ID + 1))
    txs.append(b"\x02" + b"\xc3\x01\x02\x03")
    good = evm.tx(keys[N + 2], sink, value=5, gas=21_000)
    txs.append(good[:-40] + bytes([good[-40] ^ 1]) + good[-39:])  # another r: another signer
    return txs


def _raws(tmp_path: Path) -> list[bytes]:
    inline, helped = _apps(tmp_path)
    try:
        return _block_txs(inline)
    finally:
        inline.app.close()
        helped.app.close()


def _same_block(inline: Evm, helped: Evm) -> list[tuple[int, str, str]]:
    txs = _block_txs(inline)
    assert txs == _block_txs(helped)
    a = inline.block(txs)
    b = helped.block(txs)
    got = [(r.code, r.codespace, r.log) for r in a.tx_results]
    assert got == [(r.code, r.codespace, r.log) for r in b.tx_results]
    assert [r.events for r in a.tx_results] == [r.events for r in b.tx_results]
    assert inline.chain.app_hash == helped.chain.app_hash
    return got


def test_large_block_gives_the_same_results_and_app_hash(tmp_path: Path) -> None:
    inline, helped = _apps(tmp_path)
    try:
        hints = 0
        for _ in range(3):
            got = _same_block(inline, helped)
            assert [c == 0 for c, _, _ in got[:N]] == [i % KINDS != REVERTS for i in range(N)]
            assert all(c != 0 for c, _, _ in got[N:]), got[N:]
            assert "lower half" in got[N][2] and "chain id" in got[N + 1][2]
            last = helped.app.sigverify.last
            assert len(last.foreign_slots) == N + 4, "every Ethereum tx went to the helper"
            hints += last.hints_used
        # whether an answer had arrived when its tx ran is the machine's business, but
        # over three blocks of 70 the helper, started before them, is not always late
        assert hints > 0
    finally:
        inline.app.close()
        helped.app.close()


def test_a_dead_helper_costs_only_speed(tmp_path: Path) -> None:
    inline, helped = _apps(tmp_path)
    try:
        v = helped.app.sigverify
        first = v.helper_pids()
        assert first
        v._proc.kill()  # type: ignore[union-attr]  # as the OOM killer would
        _same_block(inline, helped)
        assert v.helper_pids() and v.helper_pids() != first, "a new helper took over"
        _same_block(inline, helped)
    finally:
        inline.app.close()
        helped.app.close()


def test_the_helper_answers_each_sender_or_none(tmp_path: Path) -> None:
    keys = _keys()
    raws = _raws(tmp_path)
    v = SigVerifier(1, min_txs=2, chunk=4)
    v.warm.append("modules.evm.txs:decode_ahead")
    try:
        checks = v.begin_block(CHAIN_ID, len(raws))
        for i, raw in enumerate(raws):
            checks.add_foreign(i, raw, "modules.evm.txs:decode_ahead")
        checks.flush()
        deadline = time.monotonic() + 60
        while checks.hint(len(raws) - 5) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        want = evm_txs.decode_ahead(raws)
        before = checks.hints_used
        assert [checks.hint(i) for i in range(len(raws))] == want
        senders = [None if w is None else pickle.loads(w)[0] for w in want]
        assert senders[:N] == [addr20(k) for k in keys[:N]]
        high_s, wrong_chain, garbage, other = senders[N:]
        assert high_s is None and garbage is None  # refused: the block says why itself
        assert wrong_chain == addr20(keys[N + 1])  # the chain id is the block's check
        assert other != addr20(keys[N + 2])  # someone else, or no one
        assert checks.hints_used - before == sum(w is not None for w in want)
    finally:
        v.close()


def test_a_tx_decoded_ahead_has_the_fields_py_evm_decodes(tmp_path: Path) -> None:
    raws = _raws(tmp_path)
    ahead = evm_txs.decode_ahead(raws)
    for i in range(N):
        here = evm_txs.decode(raws[i], DEFAULT_CHAIN_ID)
        there = evm_txs.decode(raws[i], DEFAULT_CHAIN_ID, ahead[i])
        assert isinstance(there.tx, evm_txs.LightTx)
        assert not isinstance(here.tx, evm_txs.LightTx)
        assert (there.raw, there.hash, there.sender, there.type_id) == (
            here.raw,
            here.hash,
            here.sender,
            here.type_id,
        )
        assert pickle.loads(ahead[i]) == evm_txs.light_fields(here.tx, here.sender)
    kinds = {evm_txs.decode(raws[i], DEFAULT_CHAIN_ID).type_id for i in range(N)}
    assert kinds == {0, 1, 2}
    with_access = evm_txs.decode(raws[2], DEFAULT_CHAIN_ID, ahead[2]).tx
    assert with_access.access_list == ((addr20(VCOIN), (7,)),)
    assert with_access.intrinsic_gas > 21_000 + 2_400  # the list's address and key are paid
    # the checks that depend on the chain run on a tx decoded ahead too
    assert ahead[N + 1] is not None
    with pytest.raises(ChainError, match="chain id"):
        evm_txs.decode(raws[N + 1], DEFAULT_CHAIN_ID, ahead[N + 1])
    # a garbled answer is decoded here instead
    assert evm_txs.decode(raws[0], DEFAULT_CHAIN_ID, b"junk").sender == addr20(_keys()[0])
    assert not isinstance(evm_txs.decode(raws[0], DEFAULT_CHAIN_ID, b"junk").tx, evm_txs.LightTx)


def test_every_tx_run_from_fields_decoded_ahead_gives_what_decoding_here_gives(
    tmp_path: Path,
) -> None:
    """The light path on every tx of the block, whatever the helper's timing: one
    App's keeper is handed ``decode_ahead``'s answer for each tx, the other's none."""
    inline, helped = _apps(tmp_path)
    keeper = helped.app.wiring.keepers["evm"]
    apply = keeper.apply
    light = 0

    def apply_ahead(ctx: Any, raw: bytes, hint: bytes | None = None) -> Any:
        nonlocal light
        (ahead,) = evm_txs.decode_ahead([raw])
        light += ahead is not None
        return apply(ctx, raw, ahead)

    keeper.apply = apply_ahead  # type: ignore[method-assign]
    helped.app.sigverify.close()
    helped.app.sigverify.workers = 0  # no helper: the only answers are the ones above
    try:
        for _ in range(2):
            got = _same_block(inline, helped)
            assert [c == 0 for c, _, _ in got[:N]] == [i % KINDS != REVERTS for i in range(N)]
        assert light == 2 * (N + 2)  # every tx but the high-s twin and the garbage
    finally:
        inline.app.close()
        helped.app.close()
