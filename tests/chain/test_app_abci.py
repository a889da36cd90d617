"""The ABCI method set as CometBFT (or the solo driver) calls it, seen from outside."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cosmpy.protos.tendermint.abci import types_pb2 as abci

from app.app import App
from chain.abci.server import AbciApp
from chain.context import BlockInfo
from genesis.devnet import CHAIN_ID
from modules.bank import keys as bank_keys
from tests.support.chain import (
    ALICE,
    BOB,
    FEE,
    GENESIS_TIME_NS,
    VCN,
    Chain,
    assert_ok,
    block_hash,
    events_of,
    make_genesis,
    msg_send,
    new_app,
    run_block,
    test_key,
)


def _balance_query(app: App, who: str) -> int:
    q = app.query("/custom/bank/balance", json.dumps({"address": who}).encode())
    assert q.code == 0, q.log
    return int(json.loads(q.value)["balance"]["amount"])


def test_check_prepare_process_finalize_commit_info_query(chain: Chain) -> None:
    app = chain.app
    genesis = app.info()
    alice0, bob0 = chain.balance(ALICE), chain.balance(BOB)
    tx = chain.send(ALICE, BOB, 5 * VCN)

    # CheckTx: accepted into the mempool; the pending state sees it, queries do not
    r = assert_ok(app.check_tx(tx))
    assert r.gas_wanted == 200_000 and 0 < r.gas_used <= r.gas_wanted
    assert r.sender == ALICE.address and r.sequence == 0
    assert chain.balance(ALICE, pending=True) == alice0 - 5 * VCN - FEE
    assert chain.sequence(ALICE, pending=True) == 1
    assert _balance_query(app, BOB.bech32) == bob0

    # PrepareProposal keeps what fits and decodes; garbage is dropped
    assert app.prepare_proposal([tx, b"\x0anot a tx"], 1 << 20) == [tx]
    assert app.prepare_proposal([tx], len(tx) - 1) == []
    # ProcessProposal accepts a block within limits, refuses one over them
    assert app.process_proposal([tx], 1 << 20) is True
    assert app.process_proposal([tx], len(tx) - 1) is False

    # FinalizeBlock: the tx's result and events; nothing is persisted yet
    t1 = GENESIS_TIME_NS + 10**9
    res = app.finalize_block(BlockInfo(CHAIN_ID, 1, t1, block_hash(1, [tx])), [tx])
    assert res.height == 1 and len(res.tx_results) == 1
    tr = assert_ok(res.tx_results[0])
    transfers = [e for e in events_of(tr, "transfer") if e.get("recipient") == BOB.bech32]
    assert len(transfers) == 1
    assert transfers[0].get("sender") == ALICE.bech32
    assert transfers[0].get("amount") == f"{5 * VCN}avcn"
    fee_events = [e for e in events_of(tr, "tx") if e.get("fee") is not None]
    assert fee_events and fee_events[0].get("fee") == f"{FEE}avcn"
    assert [e.get("action") for e in events_of(tr, "message")] == ["/cosmos.bank.v1beta1.MsgSend"]
    assert res.app_hash != genesis.last_block_app_hash
    assert app.info() == genesis
    assert _balance_query(app, BOB.bech32) == bob0

    # Commit: Info now reports exactly the committed block
    assert app.commit() == 1
    info = app.info()
    assert info.last_block_height == 1
    assert info.last_block_app_hash == res.app_hash

    # Query reads the new commit, by JSON and by raw store key
    assert _balance_query(app, BOB.bech32) == bob0 + 5 * VCN
    assert _balance_query(app, ALICE.bech32) == alice0 - 5 * VCN - FEE
    raw = app.query("/store/bank/key", bank_keys.balance(BOB.address, "avcn"))
    assert raw.code == 0 and raw.height == 1
    assert int.from_bytes(raw.value, "big") == bob0 + 5 * VCN
    acc = json.loads(
        app.query("/custom/auth/account", json.dumps({"address": ALICE.bech32}).encode()).value
    )
    assert acc["sequence"] == "1" and acc["pub_key"] == ALICE.public_key.hex()

    # the committed tx cannot be replayed
    again = app.check_tx(tx)
    assert (again.codespace, again.code) == ("sdk", 32), again.log
    assert "expected 1, got 0" in again.log


def test_finalize_block_only_stages(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = new_app(tmp_path / "db", make_genesis())
    chain = Chain(app)
    before = app.info()
    tx = chain.send(ALICE, BOB, 1)
    res = app.finalize_block(BlockInfo(CHAIN_ID, 1, GENESIS_TIME_NS + 1, b""), [tx])
    assert_ok(res.tx_results[0])
    app.close()  # a crash between FinalizeBlock and Commit
    app = new_app(tmp_path / "db", make_genesis())
    assert app.info() == before
    # the block replays to the same result
    res2 = app.finalize_block(BlockInfo(CHAIN_ID, 1, GENESIS_TIME_NS + 1, b""), [tx])
    assert res2.app_hash == res.app_hash
    app.commit()
    app.close()
    app = App(tmp_path / "db")
    assert app.info().last_block_height == 1
    assert app.info().last_block_app_hash == res.app_hash
    app.close()


def test_finalize_block_refuses_wrong_height_and_chain(chain: Chain) -> None:
    with pytest.raises(ValueError, match="expected 1"):
        chain.app.finalize_block(BlockInfo(CHAIN_ID, 2, GENESIS_TIME_NS, b""), [])
    with pytest.raises(ValueError, match="chain"):
        chain.app.finalize_block(BlockInfo("other-chain", 1, GENESIS_TIME_NS, b""), [])
    with pytest.raises(ValueError, match="without FinalizeBlock"):
        chain.app.commit()


def test_init_chain_is_idempotent_and_refuses_another_genesis(tmp_path) -> None:  # type: ignore[no-untyped-def]
    g = make_genesis()
    app = new_app(tmp_path / "db", g)
    h = app.info().last_block_app_hash
    assert app.init_chain(g["chain_id"], g["app_state"], GENESIS_TIME_NS) == h
    other = make_genesis(extra_accounts=1)
    with pytest.raises(ValueError, match="another chain"):
        app.init_chain(other["chain_id"], other["app_state"], GENESIS_TIME_NS)
    app.close()


def test_query_errors_are_registered_codes(chain: Chain) -> None:
    app = chain.app
    q = app.query("/custom/bank/nope", b"{}")
    assert (q.codespace, q.code) == ("sdk", 6) and "nope" in q.log
    q = app.query("/nowhere")
    assert (q.codespace, q.code) == ("sdk", 6)
    q = app.query("/store/nomodule/key", b"x")
    assert (q.codespace, q.code) == ("sdk", 38)
    q = app.query("/custom/bank/balance", b"{not json")
    assert (q.codespace, q.code) == ("sdk", 18)
    q = app.query("/custom/bank/balance", json.dumps({"address": "vcoin1bad"}).encode())
    assert (q.codespace, q.code) == ("sdk", 7)
    q = app.query("/custom/bank/balance", json.dumps({"address": ALICE.bech32}).encode(), height=5)
    assert (q.codespace, q.code) == ("sdk", 18) and "latest height" in q.log


def test_genesis_export_import_gives_same_app_hash(
    chain: Chain, make_app: Callable[..., App]
) -> None:
    # some history: new accounts, sequences, public keys, fees in the fee collector
    chain.block([chain.send(ALICE, BOB, 3 * VCN), chain.send(BOB, test_key(99), 7)])
    chain.block([chain.send(test_key(0), ALICE, 11), chain.send(ALICE, test_key(98), 1)])
    exported = chain.app.export_genesis()
    doc = make_genesis()
    doc["app_state"] = json.loads(json.dumps(exported))  # through JSON, as a file would
    fresh = make_app(doc)
    assert fresh.info().last_block_app_hash == chain.app_hash
    assert fresh.export_genesis() == exported
    assert fresh.check_invariants() == []
    # and the imported chain goes on: the accounts keep their numbers and sequences
    c2 = Chain(fresh)
    assert c2.sequence(ALICE) == 2
    assert_ok(c2.deliver_one(c2.send(ALICE, BOB, 1)))


def test_commit_resets_check_state_and_recheck_keeps_what_still_fits(chain: Chain) -> None:
    app = chain.app
    t0, t1 = chain.send(ALICE, BOB, 1), chain.send(ALICE, BOB, 2)
    assert_ok(app.check_tx(t0))
    assert_ok(app.check_tx(t1))
    # a block holding only t0 commits; the mempool rechecks what it still holds
    chain.block([t0])
    assert chain.sequence(ALICE, pending=True) == 1  # the overlay restarted from the commit
    assert_ok(app.check_tx(t1, recheck=True))
    r = app.check_tx(t0, recheck=True)
    assert (r.codespace, r.code) == ("sdk", 32), "a committed tx is dropped on recheck"
    assert chain.sequence(ALICE, pending=True) == 2


def test_simulate_predicts_gas_and_changes_nothing(chain: Chain) -> None:
    app = chain.app
    tx = chain.send(ALICE, BOB, 3)
    before = (chain.sequence(ALICE, pending=True), chain.balance(ALICE, pending=True))
    sim = assert_ok(app.simulate(tx))
    assert (chain.sequence(ALICE, pending=True), chain.balance(ALICE, pending=True)) == before
    q = app.query("/app/simulate", tx)
    assert q.code == 0 and json.loads(q.value) == {"gas_used": sim.gas_used}
    delivered = assert_ok(chain.deliver_one(tx))
    assert sim.gas_used == delivered.gas_used
    # a wallet simulates before it knows the gas: limit 0 and no fee are fine here
    draft = chain.send(ALICE, BOB, 3, gas_limit=0, fee_amount=0, count=False)
    assert_ok(app.simulate(draft))
    # but a simulation still reports what would fail
    r = app.simulate(chain.send(ALICE, BOB, 10**30, count=False))
    assert (r.codespace, r.code) == ("sdk", 5)


def test_a_replaced_proposal_leaves_no_trace(chain: Chain, make_app: Callable[..., App]) -> None:
    # CometBFT may finalize a block, crash or move to another round, and
    # finalize a different block at the same height: only the committed one counts
    app = chain.app
    x = [chain.send(ALICE, BOB, 1, count=False), chain.send(test_key(0), BOB, 2, count=False)]
    y = [chain.send(test_key(1), ALICE, 3, count=False)]
    t = GENESIS_TIME_NS + 10**9
    rx = app.finalize_block(BlockInfo(CHAIN_ID, 1, t, block_hash(1, x)), x)
    ry = app.finalize_block(BlockInfo(CHAIN_ID, 1, t, block_hash(1, y)), y)
    assert rx.app_hash != ry.app_hash
    app.commit()
    assert app.info().last_block_app_hash == ry.app_hash
    twin = make_app()
    run = twin.finalize_block(BlockInfo(CHAIN_ID, 1, t, block_hash(1, y)), y)
    twin.commit()
    assert run.app_hash == ry.app_hash
    # and the next block agrees too (no staged node of x lingers in any cache)
    z = [chain.send(ALICE, BOB, 4, count=False)]
    assert chain.block(z, t + 10**9).app_hash == run_block(twin, z, t + 10**9).app_hash


@pytest.mark.parametrize("slack,accepted", [(1, True), (0, True), (-1, False)])
def test_process_proposal_holds_a_block_to_the_size_limit_genesis_set(
    tmp_path: Path, slack: int, accepted: bool
) -> None:
    """CometBFT's ProcessProposal carries no limit: the app keeps block.max_bytes from
    InitChain in state, so every validator, restarted or not, judges alike."""
    signer = Chain(new_app(tmp_path / "signer"))
    txs = [signer.send(ALICE, BOB, 1), signer.send(ALICE, BOB, 2)]
    signer.app.close()
    limit = sum(len(t) for t in txs) + slack
    doc = make_genesis()
    app = App(tmp_path / "node")
    app.init_chain(doc["chain_id"], doc["app_state"], GENESIS_TIME_NS, 1, max_block_bytes=limit)
    assert app.max_block_bytes() == limit
    assert app.process_proposal(txs) is accepted
    app.close()
    again = App(tmp_path / "node")  # after a restart InitChain does not run again
    try:
        assert again.process_proposal(txs) is accepted
        # the driver's own, smaller limit applies on top
        assert again.process_proposal(txs, sum(len(t) for t in txs) - 1) is False
    finally:
        again.close()


@pytest.mark.parametrize("max_bytes", [None, 0, -1])
def test_a_genesis_without_a_block_limit_gets_cometbfts_ceiling(
    tmp_path: Path, max_bytes: int | None
) -> None:
    from chain.baseapp import MAX_BLOCK_BYTES

    doc = make_genesis()
    app = App(tmp_path / "node")
    try:
        app.init_chain(doc["chain_id"], doc["app_state"], GENESIS_TIME_NS, 1, max_bytes)
        assert app.max_block_bytes() == MAX_BLOCK_BYTES
    finally:
        app.close()


def test_a_cometbft_proposal_leaves_out_txs_that_became_invalid(chain: Chain) -> None:
    """PrepareProposal over ABCI runs the proposal's txs against committed state, in
    order: a tx whose sequence a committed block spent, and a second tx with the
    same sequence as one before it, stay out; the solo driver's call does not."""
    app = chain.app
    first = chain.send(ALICE, BOB, VCN)
    chain.block([first])  # spends ALICE's sequence 0
    stale = chain.sign(ALICE, [msg_send(ALICE, BOB.bech32, 2 * VCN)], sequence=0)
    good = chain.sign(ALICE, [msg_send(ALICE, BOB.bech32, 3 * VCN)], sequence=1)
    twin = chain.sign(ALICE, [msg_send(ALICE, BOB.bech32, 4 * VCN)], sequence=1)
    other = chain.send(BOB, ALICE, VCN)
    handler = AbciApp(app)
    req = abci.Request(
        prepare_proposal=abci.RequestPrepareProposal(
            txs=[stale, good, twin, other], max_tx_bytes=1 << 20
        )
    )
    kept = list(handler.handle(req).prepare_proposal.txs)
    assert kept == [good, other]
    # the byte limit still cuts the proposal first
    small = abci.Request(
        prepare_proposal=abci.RequestPrepareProposal(
            txs=[good, other], max_tx_bytes=len(good) + len(other) - 1
        )
    )
    assert list(handler.handle(small).prepare_proposal.txs) == [good]
    # nothing the check ran on stays: committed and pending state are as before
    assert chain.sequence(ALICE) == 1
    assert app.prepare_proposal([stale, good], 1 << 20) == [stale, good]  # solo: stateless
