"""Which JSON-RPC requests the HTTP server answers on its event loop
(``app/ethrpc/inline.py``): cheap reads always; an ``eth_call`` only once its contract
and function answered quickly the last time, and no longer after a slow run."""

from __future__ import annotations

from typing import Any

from app.ethrpc.inline import CALL_INLINE_S, INLINE, InlinePolicy, call_key

TOKEN = "0x" + "ab" * 20


def call(to: str = TOKEN, data: str = "0x70a08231" + "00" * 32, **extra: Any) -> dict[str, Any]:
    params = [{"to": to, "data": data, **extra}, "latest"]
    return {"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": params}


def test_cheap_reads_go_inline_and_other_methods_do_not() -> None:
    p = InlinePolicy()
    assert "eth_blockNumber" in INLINE and p.inline({"method": "eth_blockNumber"})
    others = ("eth_getLogs", "eth_estimateGas", "eth_sendRawTransaction", "debug_traceCall")
    for method in others:
        assert not p.inline({"method": method, "params": []})
        p.ran({"method": method, "params": []}, 0.0)  # only eth_call's times are kept
        assert not p.inline({"method": method, "params": []})


def test_an_eth_call_goes_inline_after_a_quick_run_and_back_after_a_slow_one() -> None:
    p = InlinePolicy()
    req = call()
    assert not p.inline(req)  # never seen: the worker thread
    p.ran(req, CALL_INLINE_S / 2)
    assert p.inline(req)
    assert p.inline(call(data="0x70a08231" + "11" * 32))  # the same function, other args
    assert p.inline(call(to=TOKEN.upper().replace("0X", "0x")))  # an address's case
    assert not p.inline(call(data="0xa9059cbb"))  # another function of the contract
    assert not p.inline(call(to="0x" + "cd" * 20))  # another contract
    p.ran(req, CALL_INLINE_S)  # at the threshold: slow
    assert not p.inline(req)
    p.ran(req, CALL_INLINE_S - 1e-6)  # just under it
    assert p.inline(req)


def test_the_input_field_and_malformed_calls() -> None:
    assert call_key(call(data="0x12345678ff")) == (TOKEN, "0x12345678")
    inp = {"method": "eth_call", "params": [{"to": TOKEN, "input": "0xDEADBEEF00"}]}
    assert call_key(inp) == (TOKEN, "0xdeadbeef")
    for bad in (
        {"method": "eth_call"},
        {"method": "eth_call", "params": "x"},
        {"method": "eth_call", "params": []},
        {"method": "eth_call", "params": [5]},
        {"method": "eth_call", "params": [{"data": "0x"}]},  # no to: a contract creation
        {"method": "eth_call", "params": [{"to": 5, "data": "0x"}]},
        {"method": ["eth_call"], "params": []},  # not a string: -32600 from the handler
        {"method": {"a": 1}},
        {"params": []},
    ):
        assert call_key(bad) is None
        p = InlinePolicy()
        p.ran(bad, 0.0)
        assert not p.inline(bad)


def test_the_remembered_pairs_are_bounded_least_recent_first() -> None:
    p = InlinePolicy(max_keys=3)
    reqs = [call(to="0x" + f"{i:040x}") for i in range(4)]
    for r in reqs[:3]:
        p.ran(r, 0.0)
    p.ran(reqs[0], 0.0)  # used again: now the most recent
    p.ran(reqs[3], 0.0)  # over the bound: reqs[1], the least recent, goes
    assert [p.inline(r) for r in reqs] == [True, False, True, True]
