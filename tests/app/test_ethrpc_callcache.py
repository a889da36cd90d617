"""``eth_call`` answers kept for the latest block (``app/ethrpc/callcache.py``).

What a wallet notices: a repeated read answers from memory, yet never an answer
older than the block it is asked at; a commit makes the next call see the new state
at once, and ``pending`` always runs on the mempool's state.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.ethrpc import callcache
from app.ethrpc.callcache import CallCache
from app.ethrpc.methods import EthApi, EthRpcLimits
from app.node import Node
from chain.config import NodeConfig
from chain.crypto import to_eth_address
from genesis.devnet import genesis_doc
from modules.auth import state as auth_state
from modules.evm.genesis import VCOIN_ADDRESS
from tests.support.chain import ALICE, BOB, msg_send, sign
from tests.support.nodes import write_genesis

VCOIN = to_eth_address(VCOIN_ADDRESS)
BALANCE_OF = "0x70a08231"  # balanceOf(address)


def balance_of(addr: bytes) -> dict[str, Any]:
    return {"to": VCOIN, "data": BALANCE_OF + addr.rjust(32, b"\0").hex()}


class Chain:
    """A node whose blocks this test makes (no driver thread), and its JSON-RPC."""

    def __init__(self, home: Path, cache: int) -> None:
        write_genesis(home, genesis_doc())
        self.node = Node(NodeConfig(home=str(home), jsonrpc_laddr="", log_level="warning"))
        self.node.init_or_resume()
        self.api = EthApi(self.node, EthRpcLimits(call_cache=cache))

    def call(self, params: dict[str, Any], tag: str = "latest") -> int:
        return int(self.api.call("eth_call", [params, tag]), 16)

    def send(self, amount: int) -> None:
        """Alice sends Bob ``amount`` avcn: into the mempool, not yet in a block."""
        with self.node.lock:
            acc = auth_state.get_account(self.node.app.check_ctx(), ALICE.address)
        assert acc is not None
        raw = sign(
            ALICE,
            [msg_send(ALICE, BOB, amount)],
            account_number=acc.number,
            sequence=acc.sequence,
        )
        res = self.node.mempool.check_and_add(raw)
        assert res.ok, res.log

    def commit(self) -> None:
        assert self.node.driver is not None
        self.node.driver.produce_block()

    def hits(self) -> float:
        return self.node.metrics.call_cache.labels("hit")._value.get()  # type: ignore[no-any-return]


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    c = Chain(tmp_path, cache=4096)
    try:
        c.send(1)  # a first block, and Alice's balance no longer Bob's
        c.commit()
        yield c
    finally:
        c.node.stop()


def test_a_commit_shows_at_once_and_pending_is_never_cached(chain: Chain) -> None:
    bob = balance_of(BOB.address)
    before = chain.call(bob)
    assert before > 0
    assert chain.call(bob) == before and chain.hits() == 1  # the second answered from memory
    height = hex(chain.node.app.store.height())
    assert chain.call(bob, height) == before and chain.hits() == 2  # the same block by number

    assert chain.call(bob, "pending") == before
    chain.send(7)
    assert chain.call(bob, "pending") == before + 7  # the mempool's state, run afresh
    assert chain.call(bob) == before  # not committed yet: latest is still the block's
    chain.commit()
    assert chain.call(bob) == before + 7  # the new block's state, not the kept answer
    assert chain.call(bob, "pending") == before + 7


def test_an_old_block_is_refused_not_answered_from_memory(chain: Chain) -> None:
    from app.ethrpc.hexio import RpcError

    bob = balance_of(BOB.address)
    old = hex(chain.node.app.store.height())
    chain.call(bob, old)
    chain.commit()
    with pytest.raises(RpcError, match="is not kept"):
        chain.call(bob, old)


def test_other_args_are_other_answers(chain: Chain) -> None:
    """The key is the whole call: another holder, sender or gas runs afresh."""
    bob, alice = balance_of(BOB.address), balance_of(ALICE.address)
    b, a = chain.call(bob), chain.call(alice)
    assert a != b and chain.hits() == 0
    assert chain.call({**bob, "gas": hex(200_000)}) == b and chain.hits() == 0
    assert chain.call({**bob, "from": to_eth_address(ALICE.address)}) == b and chain.hits() == 0
    assert chain.call(bob) == b and chain.hits() == 1


def test_off_at_zero(tmp_path: Path) -> None:
    c = Chain(tmp_path, cache=0)
    try:
        bob = balance_of(BOB.address)
        assert c.call(bob) == c.call(bob)
        assert c.hits() == 0 and len(c.api.call_cache) == 0
    finally:
        c.node.stop()


# -- the bounds ----------------------------------------------------------------------------
def key(cache: CallCache, i: int, data: bytes = b"") -> Any:
    return cache.key(b"\0" * 20, b"\1" * 20, data or i.to_bytes(4, "big"), 0, 21_000, [])


def test_at_most_max_entries_least_recent_dropped_first() -> None:
    cache = CallCache(3)
    assert cache.get(5, key(cache, 0)) is None
    for i in range(3):
        cache.put(5, key(cache, i), f"0x{i:02x}")
    assert len(cache) == 3  # at the bound: all kept
    assert cache.get(5, key(cache, 0)) == "0x00"  # 0 is now the most recent
    cache.put(5, key(cache, 3), "0x03")  # over it: the least recent (1) goes
    assert len(cache) == 3
    assert cache.get(5, key(cache, 1)) is None
    assert [cache.get(5, key(cache, i)) for i in (0, 2, 3)] == ["0x00", "0x02", "0x03"]


def test_a_new_height_forgets_everything_and_a_late_put_is_dropped() -> None:
    cache = CallCache(10)
    cache.get(5, key(cache, 0))
    cache.put(5, key(cache, 0), "0x01")
    assert cache.get(6, key(cache, 0)) is None and len(cache) == 0
    cache.put(5, key(cache, 0), "0x01")  # an answer of the block before: not kept
    assert cache.get(6, key(cache, 0)) is None


def test_size_limits_of_data_and_answer() -> None:
    cache = CallCache(10)
    at = b"\2" * callcache.MAX_DATA
    assert key(cache, 0, at) is not None
    assert key(cache, 0, at + b"\2") is None  # calldata over the limit: not cached
    assert cache.key(b"\0" * 20, None, b"", 0, 1, [{"address": "0x" + "00" * 20}]) is None
    cache.get(1, key(cache, 1))
    cache.put(1, key(cache, 1), "0x" + "a" * (callcache.MAX_ANSWER - 2))  # at the limit
    cache.put(1, key(cache, 2), "0x" + "a" * (callcache.MAX_ANSWER - 1))  # one over
    assert cache.get(1, key(cache, 1)) is not None
    assert cache.get(1, key(cache, 2)) is None
