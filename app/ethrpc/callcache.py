"""``eth_call`` answers at the latest block, kept until the next block commits.

Wallets and dapps ask the same read many times a block (every open page polls its
token balances, allowances, ``totalSupply``), and a call's answer is a function of
the committed state and the call alone: the sender, the target, the data, the value
and the gas it runs with (the block's context, its number, time and base fee, is
that of the committed block too). So the node keeps the answers of successful calls
made at the latest block, keyed by exactly those, and forgets them all when a new
block commits: an answer is never older than the block it says it is for. Blocks
are what change state; between two commits nothing else does (``pending`` is the
mempool's state, which changes with every transaction, and is never cached).

Bounds: at most ``jsonrpc_call_cache`` answers (4,096 by default, least recently
used dropped first; 0 turns the cache off), each from calldata of at most
``MAX_DATA`` bytes and at most ``MAX_ANSWER`` characters long, so the cache holds
at most about 4,096 × 5 KiB = 20 MiB. A call with an access list is not cached.

Used only under the node lock (``EthApi._state``), the lock that commits take, so
a lookup and the state it stands for are always of the same block.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

MAX_DATA = 1024  # calldata bytes of a cached call
MAX_ANSWER = 4096  # characters of a cached answer ("0x" + hex)

Key = tuple[bytes, bytes | None, bytes, int, int]


class CallCache:
    def __init__(self, max_entries: int, metrics: Any = None) -> None:
        self.max_entries = max_entries
        self.height = -1
        self._answers: OrderedDict[Key, str] = OrderedDict()
        counter = getattr(metrics, "call_cache", None)
        self._hit = counter.labels("hit") if counter is not None else None
        self._miss = counter.labels("miss") if counter is not None else None

    def __len__(self) -> int:
        return len(self._answers)

    def key(
        self,
        sender: bytes,
        to: bytes | None,
        data: bytes,
        value: int,
        gas: int,
        access_list: list[Any],
    ) -> Key | None:
        """The key of a call, or None for one that is not cached."""
        if self.max_entries == 0 or access_list or len(data) > MAX_DATA:
            return None
        return (sender, to, data, value, gas)

    def get(self, height: int, key: Key) -> str | None:
        """The answer of ``key`` at ``height``, if this block asked it before."""
        if height != self.height:  # a new block: every kept answer is of an older one
            self._answers.clear()
            self.height = height
            answer = None
        else:
            answer = self._answers.get(key)
        if answer is None:
            if self._miss is not None:
                self._miss.inc()
            return None
        self._answers.move_to_end(key)
        if self._hit is not None:
            self._hit.inc()
        return answer

    def put(self, height: int, key: Key, answer: str) -> None:
        if height != self.height or len(answer) > MAX_ANSWER:
            return
        self._answers[key] = answer
        self._answers.move_to_end(key)
        while len(self._answers) > self.max_entries:
            self._answers.popitem(last=False)
