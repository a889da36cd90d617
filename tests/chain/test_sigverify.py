"""Signature checks of a large block on the helper process (chain/sigverify.py).

What a user would notice: the same results and app hash as a node that checks
every signature itself, bad signatures still refused, and a helper that dies
costs nothing but speed.
"""

from __future__ import annotations

import time
from pathlib import Path

from chain.crypto import PrivateKey
from chain.execute import decode_tx
from chain.results import BlockResult
from chain.sigverify import SigVerifier
from chain.tx.sign import sign_tx
from genesis.devnet import CHAIN_ID
from modules.auth.msgs import MsgUpdateParams
from tests.support.chain import BOB, PLATFORM, Chain, make_genesis, msg_send, new_app, test_key

N = 90  # above the 64 txs from which a block uses the helper


def _block_txs(chain: Chain) -> list[bytes]:
    """N good sends, then a bad signature, a wrong sequence and garbage bytes."""
    txs = [chain.send(test_key(i), BOB, 1 + i) for i in range(N)]
    k = test_key(N)
    wrong_number = chain.account_number(k) + 7  # signs another SignDoc: signature fails
    txs.append(chain.send(k, BOB, 5, account_number=wrong_number, count=False))
    txs.append(chain.send(test_key(N + 1), BOB, 5, sequence=9, count=False))
    txs.append(b"\x0a\x03not a tx")
    # a key that is not the signer's signs in the signer's name
    other = PrivateKey.from_seed(b"someone else")
    acc = chain.account(test_key(N + 2))
    assert acc is not None
    txs.append(
        sign_tx(
            other,
            [msg_send(test_key(N + 2), BOB, 3)],
            chain_id=CHAIN_ID,
            account_number=acc.number,
            sequence=acc.sequence,
        )
    )
    return txs


def _apps(tmp_path: Path) -> tuple[Chain, Chain]:
    genesis = make_genesis(extra_accounts=N + 3)
    inline = Chain(new_app(tmp_path / "inline", genesis))
    helped = Chain(new_app(tmp_path / "helped", genesis, sig_verify_workers=1))
    helped.app.sigverify.start()
    return inline, helped


def _same_block(inline: Chain, helped: Chain, txs: list[bytes]) -> BlockResult:
    a = inline.block(txs)
    b = helped.block(txs)
    assert [(r.code, r.codespace, r.log, r.gas_used) for r in a.tx_results] == [
        (r.code, r.codespace, r.log, r.gas_used) for r in b.tx_results
    ]
    assert [r.events for r in a.tx_results] == [r.events for r in b.tx_results]
    assert inline.app_hash == helped.app_hash
    return a


def test_large_block_gives_the_same_results_and_app_hash(tmp_path: Path) -> None:
    inline, helped = _apps(tmp_path)
    try:
        for _ in range(3):
            txs = _block_txs(inline)
            _same_block(inline, helped, txs)
            last = helped.app.sigverify.last
            # each tx that reached its signature check asked once (the wrong sequence
            # fails before it, the foreign key and the garbage at decoding); whether
            # the answer had arrived by then is the machine's business
            assert last.used + last.inline == N + 1
            assert len(last.slots) == N + 2
        codes = [r.code for r in inline.block(_block_txs(inline)).tx_results]
        assert codes[:N] == [0] * N and all(c != 0 for c in codes[N:])
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
        _same_block(inline, helped, _block_txs(inline))
        assert v.helper_pids() and v.helper_pids() != first, "a new helper took over"
        _same_block(inline, helped, _block_txs(inline))
    finally:
        inline.app.close()
        helped.app.close()


def test_helper_answers_only_for_the_key_and_account_number_it_checked(tmp_path: Path) -> None:
    chain = Chain(new_app(tmp_path / "a", make_genesis(extra_accounts=8)))
    rules = chain.app.ante.rules(chain.app.query_ctx())
    v = SigVerifier(1, min_txs=2, chunk=4)
    try:
        checks = v.begin_block(CHAIN_ID, 10)
        keys = [test_key(i) for i in range(6)]
        numbers = [chain.account_number(k) for k in keys]
        numbers[3] += 1  # tx 3 is signed (and checked) for another account number
        for i, k in enumerate(keys):
            raw = chain.sign(k, [msg_send(k, BOB, 1)], account_number=numbers[i])
            tx = decode_tx(raw, chain.app.routes, rules)
            assert tx.pubkey is not None
            sig = tx.signature if i != 4 else bytes([tx.signature[0] ^ 1]) + tx.signature[1:]
            checks.add(i, (tx.pubkey, sig, tx.body_bytes, tx.auth_info_bytes, numbers[i]))
        checks.flush()
        assert len({s.chunk for s in checks.slots.values()}) == 2, "chunks of 4 and 2"
        last_chunk = checks.slots[5].chunk
        deadline = time.monotonic() + 30
        while v.answers(last_chunk) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        pks = [k.public_key for k in keys]
        got = [checks.verdict(i, pks[i], numbers[i]) for i in range(6)]
        assert got == [True, True, True, True, False, True]
        assert checks.used == 6
        # asked for another key or account number than was checked: no answer
        assert checks.verdict(0, pks[1], numbers[0]) is None
        assert checks.verdict(0, pks[0], numbers[0] + 1) is None
        assert checks.verdict(99, pks[0], numbers[0]) is None
        # a dead helper: lookups answer None (check inline) and nothing raises;
        # the next block starts a new one
        first = v.helper_pids()
        v._proc.kill()  # type: ignore[union-attr]
        v._proc.wait()  # type: ignore[union-attr]
        checks.add(7, (pks[0], b"", b"", b"", 0))
        checks.flush()
        assert checks.verdict(7, pks[0], 0) is None
        again = v.begin_block(CHAIN_ID, 10)
        assert again.verifier is not None and v.helper_pids() != first
    finally:
        v.close()
        chain.app.close()
    assert v.helper_pids() == []


def test_a_params_change_inside_a_large_block_applies_to_the_txs_after_it(tmp_path: Path) -> None:
    """The block's txs are decoded ahead under the params of its start; a tx that
    changes auth params makes the node decode the later ones again."""
    inline, helped = _apps(tmp_path)
    try:
        txs = [inline.send(test_key(i), BOB, 1) for i in range(70)]
        shrink = MsgUpdateParams(
            authority=PLATFORM.bech32, module="auth", params_json='{"max_memo_characters": 100}'
        )
        txs.append(inline.sign(PLATFORM, [shrink]))
        txs.append(inline.send(test_key(70), BOB, 1, memo="m" * 200))  # fine before, not after
        txs.append(inline.send(test_key(71), BOB, 1, memo="m" * 50))
        res = _same_block(inline, helped, txs)
        codes = [r.code for r in res.tx_results]
        assert codes[:71] == [0] * 71 and codes[72] == 0
        assert codes[71] != 0 and "memo" in res.tx_results[71].log
    finally:
        inline.app.close()
        helped.app.close()


def test_a_tx_from_an_account_that_does_not_exist_fails_alone_in_a_large_block(
    tmp_path: Path,
) -> None:
    """The pre-pass has no key to send for a signer with no account: that tx is refused
    by the ante handler as on a node without the helper, and the block goes on."""
    inline, helped = _apps(tmp_path)
    try:
        txs = [inline.send(test_key(i), BOB, 1 + i) for i in range(N)]
        stranger = PrivateKey.from_seed(b"no account on this chain")
        txs.append(
            sign_tx(
                stranger, [msg_send(stranger, BOB, 1)], chain_id=CHAIN_ID,
                account_number=0, sequence=0,
            )
        )  # fmt: skip
        result = _same_block(inline, helped, txs)
        codes = [r.code for r in result.tx_results]
        assert codes[:N] == [0] * N and codes[N] != 0
        assert len(helped.app.sigverify.last.slots) == N  # every tx but the stranger's
    finally:
        inline.app.close()
        helped.app.close()


def _hints(fn: str, items: list[bytes]) -> list[bytes | None]:
    """What the helper answers for ``items`` through the app pre-pass ``fn``."""
    v = SigVerifier(1, min_txs=2, chunk=2)
    try:
        checks = v.begin_block(CHAIN_ID, len(items))
        for i, raw in enumerate(items):
            checks.add_foreign(i, raw, fn)
        checks.flush()
        assert len({cid for cid, _ in checks.foreign_slots.values()}) == 2, "chunks of 2 and 1"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            got = [checks.hint(i) for i in range(len(items))]
            if all(cid in checks.foreign_answers for cid, _ in checks.foreign_slots.values()):
                return got
            time.sleep(0.02)
        raise AssertionError("the helper never answered")
    finally:
        v.close()


def test_the_app_pre_pass_runs_on_the_helper_and_answers_each_tx() -> None:
    assert _hints("tests.support.prepass:reverse", [b"abc", b"", b"xy"]) == [b"cba", None, b"yx"]


def test_a_pre_pass_that_fails_or_answers_wrongly_gives_no_hints() -> None:
    # the block then works each tx out itself: only speed is lost
    assert _hints("tests.support.prepass:broken", [b"abc", b"d", b"e"]) == [None, None, None]
    assert _hints("tests.support.prepass:short", [b"abc", b"d", b"e"]) == [None, None, None]
    assert _hints("tests.support.no_such_module:f", [b"abc", b"d", b"e"]) == [None, None, None]
