"""Ethereum JSON-RPC methods: ``debug_traceTransaction``, ``debug_traceBlockByNumber``,
``debug_traceBlockByHash``, with geth's ``callTracer`` (the one tracer served).

The node keeps only its latest state, so it cannot run an old tx again: the call
frames are recorded while each block runs (modules/evm/tracing.py) and kept
off consensus in ``data/evm_traces`` for the last ``jsonrpc_trace_blocks``
blocks. ``tracerConfig``: ``onlyTopCall`` (the top call only) and ``withLog``
(each frame's logs, with their ``position`` among its calls).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.ethrpc import hexio
from app.ethrpc.hexio import RpcError, hexdata, invalid

if TYPE_CHECKING:
    from app.ethrpc.blocks import EthBlock, EthTx
    from app.ethrpc.methods import EthApi, Method
    from modules.evm.tracing import TraceStore

TRACER = "callTracer"


def options(v: Any) -> tuple[bool, bool]:
    """(onlyTopCall, withLog) of a trace options object; -32602 for any tracer but
    callTracer."""
    if v is None:
        v = {}
    if not isinstance(v, dict):
        raise invalid("trace options: expected an object")
    tracer = v.get("tracer")
    if tracer != TRACER:
        what = "no tracer (the opcode logger)" if tracer is None else f"tracer {str(tracer)[:60]!r}"
        raise invalid(
            f"{what} is not supported: this node serves callTracer only "
            '(pass {"tracer": "callTracer"})'
        )
    cfg = v.get("tracerConfig") or {}
    if not isinstance(cfg, dict):
        raise invalid("tracerConfig: expected an object")
    only_top, with_log = cfg.get("onlyTopCall", False), cfg.get("withLog", False)
    if not isinstance(only_top, bool) or not isinstance(with_log, bool):
        raise invalid("tracerConfig.onlyTopCall and withLog: expected true or false")
    return only_top, with_log


class Traces:
    """The kept call frames, as the RPC methods read them."""

    def __init__(self, api: EthApi) -> None:
        self.api = api

    @property
    def store(self) -> TraceStore:
        store = self.api.keeper.traces
        if store is None:
            raise RpcError(hexio.SERVER_ERROR, "this node records no call traces")
        return store

    def _missing(self, what: str) -> RpcError:
        keep = self.store.keep_blocks
        oldest = self.store.oldest()
        since = f"; the oldest kept is block {oldest}" if oldest is not None else ""
        return RpcError(
            hexio.SERVER_ERROR,
            f"no trace kept for {what}: this node keeps the call traces of its last {keep} "
            f"blocks (jsonrpc_trace_blocks){since}",
        )

    def tx_frame(self, tx_hash: bytes) -> dict[str, Any]:
        """The full frame of a committed tx (logs and calls); -32000 when unknown."""
        found = self.api.chain.find_tx(tx_hash)
        if found is None:
            raise RpcError(hexio.SERVER_ERROR, "transaction not found")
        blk, t = found
        frame = self.store.tx(tx_hash, blk.height, t.index)
        if frame is None:
            raise self._missing(f"transaction {hexdata(tx_hash)}")
        return _json(frame, t)

    def block_frames(self, blk: EthBlock) -> list[dict[str, Any]]:
        """``{"txHash", "result"}`` of each Ethereum tx of ``blk``, in block order."""
        kept = {hexdata(h): f for h, f in self.store.frames(blk.height)}
        out = []
        for t in blk.txs:
            frame = kept.get(t.hash)
            if frame is None:
                raise self._missing(f"block {blk.height}")
            out.append({"txHash": t.hash, "result": _json(frame, t)})
        return out


def _json(frame: list[Any], t: EthTx) -> dict[str, Any]:
    """geth's shape of a recorded frame, its logs filled in from the tx's receipt."""
    from modules.evm.tracing import to_json

    logs = [
        (
            log.get("address", ""),
            [x for x in log.get("topics", "").split(",") if x],
            log.get("data", "0x"),
        )
        for log in t.logs
    ]
    return to_json(frame, logs)


def _shape(frame: dict[str, Any], only_top: bool, with_log: bool) -> dict[str, Any]:
    from modules.evm.tracing import strip

    return strip(frame, with_log, only_top)


def methods(api: EthApi) -> dict[str, Method]:
    """debug_traceTransaction, debug_traceBlockByNumber, debug_traceBlockByHash."""
    from app.ethrpc.methods import Method

    traces = Traces(api)

    def trace_tx(p: list[Any]) -> dict[str, Any]:
        tx_hash = hexio.hash32(p[0], "transaction hash")
        only_top, with_log = options(p[1] if len(p) > 1 else None)
        return _shape(traces.tx_frame(tx_hash), only_top, with_log)

    def trace_block(blk: EthBlock | None, opts: Any) -> list[dict[str, Any]]:
        only_top, with_log = options(opts)
        if blk is None:
            raise RpcError(hexio.SERVER_ERROR, "block not found")
        return [
            {"txHash": t["txHash"], "result": _shape(t["result"], only_top, with_log)}
            for t in traces.block_frames(blk)
        ]

    def by_number(p: list[Any]) -> list[dict[str, Any]]:
        return trace_block(api._block(p[0]), p[1] if len(p) > 1 else None)

    def by_hash(p: list[Any]) -> list[dict[str, Any]]:
        tag = hexdata(hexio.hash32(p[0], "block hash"))
        return trace_block(api._block(tag), p[1] if len(p) > 1 else None)

    return {
        "debug_traceTransaction": Method(trace_tx, 1, 2),
        "debug_traceBlockByNumber": Method(by_number, 1, 2),
        "debug_traceBlockByHash": Method(by_hash, 1, 2),
    }
