"""Which JSON-RPC requests the HTTP server answers on its event loop (``fasthttp``).

A request answered inline skips the hop to a worker thread (about 30 CPU-µs of the
45 an ``eth_blockNumber`` costs all in), but holds the loop while it runs, so only
what is known to be quick goes inline, and only when the node lock is free:

- the read methods in ``INLINE``: a read or two of the committed state;
- ``eth_call`` to a contract and function (``to`` and the data's 4-byte selector)
  whose last call here took under ``CALL_INLINE_S``. A pair not seen yet, or slow
  the last time, runs in a worker thread, and every run's time is recorded, so a
  call that turns slow goes back to the thread from its next request on. At worst
  one slow call holds the loop once: as long as it would hold the node lock in a
  thread, which stops every other state read as well.

Where a request runs changes nothing in its answer.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

# handlers that take the node lock only for a read or two and answer in microseconds
INLINE = frozenset(
    "eth_blockNumber eth_chainId net_version net_listening web3_clientVersion eth_syncing "
    "eth_accounts eth_gasPrice eth_maxPriorityFeePerGas eth_getBalance eth_getTransactionCount "
    "eth_getCode eth_getStorageAt eth_getBlockByNumber eth_getBlockByHash "
    "eth_getTransactionByHash eth_getTransactionReceipt".split()
)
CALL_INLINE_S = 0.001  # an eth_call this quick last time runs inline the next
MAX_CALL_KEYS = 4096  # (contract, selector) pairs remembered, least recent dropped first


def call_key(req: dict[str, Any]) -> tuple[str, str] | None:
    """``eth_call``'s (to, selector), lowercased; None for another method or a shape
    the handler will refuse anyway."""
    if req.get("method") != "eth_call":
        return None
    params = req.get("params")
    if not isinstance(params, list) or not params or not isinstance(params[0], dict):
        return None
    to = params[0].get("to")
    data = params[0].get("data", params[0].get("input", ""))
    if not isinstance(to, str) or not isinstance(data, str):
        return None
    return to.lower(), data[:10].lower()


class InlinePolicy:
    """What runs inline (see the module doc). Used from the loop's thread and the
    worker threads: a dict's get and set are atomic, and a lost update only sends one
    request the slower way."""

    def __init__(self, call_inline_s: float = CALL_INLINE_S, max_keys: int = MAX_CALL_KEYS):
        self.call_inline_s = call_inline_s
        self.max_keys = max_keys
        self._calls: OrderedDict[tuple[str, str], float] = OrderedDict()

    def inline(self, req: dict[str, Any]) -> bool:
        method = req.get("method")
        if not isinstance(method, str):  # the handler answers it with -32600
            return False
        if method in INLINE:
            return True
        key = call_key(req)
        if key is None:
            return False
        took = self._calls.get(key)
        return took is not None and took < self.call_inline_s

    def ran(self, req: dict[str, Any], seconds: float) -> None:
        """Record how long ``req`` took (only ``eth_call``'s are kept)."""
        key = call_key(req)
        if key is None:
            return
        calls = self._calls
        calls[key] = seconds
        try:
            calls.move_to_end(key)
            while len(calls) > self.max_keys:
                calls.popitem(last=False)
        except KeyError:  # another thread dropped it meanwhile
            pass
