"""A block the node stored but did not commit is replayed when the node starts again.

The solo driver saves a block and its results to the block store *before* the app's
Commit (``chain/consensus/blockstore.py``), so a node that dies between the two holds
one stored block its state does not have. Here the fault point is exact, not a
random ``kill -9`` (``test_crash.py`` does that): the app's Commit is made to raise
in the middle of ``produce_block``, right after the block was stored. The node is
then closed as it is (the staged block is lost with the process) and a new node is
started on the same home. It must replay the stored block: same height and app hash
as the stored results say, the tx in it applied exactly once, and the chain goes on
from there.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from app.node import Node
from chain.coins import DENOM
from chain.config import NodeConfig
from chain.crypto import PrivateKey
from genesis.devnet import DEV_BALANCE, genesis_doc
from modules.auth import state as auth_state
from modules.bank import state as bank_state
from tests.support.chain import ALICE, FEE, VCN, msg_send, sign
from tests.support.nodes import write_genesis

RECIPIENT = PrivateKey.from_seed(b"vcoin-test-replay-recipient")
AMOUNT = 7 * VCN


class CrashBeforeCommit(Exception):
    """Stands for the process dying after the block was stored and before Commit."""


def balance(node: Node, key: PrivateKey) -> int:
    return bank_state.balance(node.app.query_ctx(), key.address, DENOM)


def sequence(node: Node, key: PrivateKey) -> int:
    acc = auth_state.get_account(node.app.query_ctx(), key.address)
    return 0 if acc is None else acc.sequence


def test_a_stored_but_uncommitted_block_is_replayed_once_at_start(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_genesis(home, genesis_doc())
    cfg = NodeConfig(home=str(home), log_level="warning")

    node = Node(cfg)
    try:
        node.init_or_resume()
        assert node.driver.produce_block().height == 1  # one ordinary block first
        assert balance(node, ALICE) == DEV_BALANCE and balance(node, RECIPIENT) == 0
        acc = auth_state.get_account(node.app.query_ctx(), ALICE.address)
        assert acc is not None
        tx = sign(
            ALICE,
            [msg_send(ALICE, RECIPIENT, AMOUNT)],
            account_number=acc.number,
            sequence=acc.sequence,
        )
        assert node.mempool.check_and_add(tx).code == 0

        def commit() -> int:
            raise CrashBeforeCommit

        node.app.commit = commit  # type: ignore[method-assign]  # the fault point
        with pytest.raises(CrashBeforeCommit):
            node.driver.produce_block()
        # Exactly the state a crash there leaves: block 2 stored, state still at 1.
        assert node.blocks.height() == 2
        assert node.app.info().last_block_height == 1
        stored = node.blocks.block(2)
        results = node.blocks.results(2)
        assert stored is not None and results is not None
        assert stored.txs == [tx] and results["txs_results"][0]["code"] == 0
    finally:
        node.stop()  # closes both databases; the staged, uncommitted block is dropped

    node = Node(cfg)
    try:
        node.init_or_resume()
        info = node.app.info()
        assert info.last_block_height == 2
        assert info.last_block_app_hash.hex() == results["app_hash"]
        # the send took effect exactly once
        assert balance(node, RECIPIENT) == AMOUNT
        assert balance(node, ALICE) == DEV_BALANCE - AMOUNT - FEE
        assert sequence(node, ALICE) == acc.sequence + 1
        assert node.blocks.tx_location(hashlib.sha256(tx).digest()) == (2, 0)
        # ... and cannot take effect again
        again = node.mempool.check_and_add(tx)
        assert again.code != 0 and "sequence" in again.log
        # the chain goes on from the replayed block
        assert node.driver.produce_block().height == 3
        nxt = node.blocks.block(3)
        assert nxt is not None and nxt.header.last_block_hash == stored.hash
        assert nxt.header.app_hash.hex() == results["app_hash"]
        assert balance(node, RECIPIENT) == AMOUNT
    finally:
        node.stop()
