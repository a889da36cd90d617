"""Prometheus metrics of the worker agent (``vcoin_worker_*``), served at /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.height = Gauge("vcoin_worker_height", "Last block height handled", registry=r)
        self.running = Gauge("vcoin_worker_jobs_running", "Jobs held and running", registry=r)
        self.claims = Counter(
            "vcoin_worker_claims_total",
            "Claims by outcome (won, lost: another worker was first, refused, error)",
            ["outcome"],
            registry=r,
        )
        self.jobs = Counter(
            "vcoin_worker_jobs_total",
            "Finished jobs by result (submitted, failed, given_back, lost)",
            ["result"],
            registry=r,
        )
        self.failures = Counter(
            "vcoin_worker_job_failures_total", "Job failures by code", ["code"], registry=r
        )
        self.event_to_claim = Histogram(
            "vcoin_worker_event_to_claim_seconds",
            "From reading a JobPosted event to the claim accepted into the mempool",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        self.job_seconds = Histogram(
            "vcoin_worker_job_seconds",
            "Claim won to result or failure on chain",
            buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
            registry=r,
        )
        self.heartbeats = Counter(
            "vcoin_worker_heartbeats_total", "Heartbeats sent", ["result"], registry=r
        )
        self.reconnects = Counter(
            "vcoin_worker_stream_reconnects_total", "Event stream reconnects", registry=r
        )

    def serve(self, laddr: str) -> None:
        host, _, port = laddr.rpartition(":")
        start_http_server(int(port), addr=host, registry=self.registry)
