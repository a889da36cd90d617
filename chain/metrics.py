"""Prometheus metrics of a node, served at the RPC server's /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from chain.results import BlockResult


class NodeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.height = Gauge("vcoin_block_height", "Latest committed height", registry=r)
        self.txs = Counter("vcoin_txs_total", "Txs executed in blocks", ["result"], registry=r)
        self.block_seconds = Histogram(
            "vcoin_block_seconds",
            "Time to finalize and commit a block",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.mempool_txs = Gauge("vcoin_mempool_txs", "Txs waiting in the mempool", registry=r)
        self.mempool_bytes = Gauge(
            "vcoin_mempool_bytes", "Bytes waiting in the mempool", registry=r
        )
        self.checktx = Counter("vcoin_checktx_total", "CheckTx calls", ["result"], registry=r)
        self.call_cache = Counter(
            "vcoin_jsonrpc_call_cache_total",
            "eth_call lookups of the latest block's answers (app/ethrpc/callcache.py)",
            ["result"],
            registry=r,
        )

    def block(self, res: BlockResult, seconds: float) -> None:
        self.height.set(res.height)
        ok = sum(1 for t in res.tx_results if t.ok)
        self.txs.labels("ok").inc(ok)
        self.txs.labels("failed").inc(len(res.tx_results) - ok)
        self.block_seconds.observe(seconds)

    def render(self) -> bytes:
        out: bytes = generate_latest(self.registry)
        return out
