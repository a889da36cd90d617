"""Prometheus metrics of the oracle daemon, served at ``http://<metrics>/metrics``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class OracleMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.height = Gauge("vcoin_oracle_height", "Last block height fully handled", registry=r)
        self.chain_height = Gauge("vcoin_oracle_chain_height", "Latest height seen", registry=r)
        self.pending = Gauge("vcoin_oracle_pending_checks", "Checks owed", registry=r)
        self.checks = Counter(
            "vcoin_oracle_checks_total", "Finished checks by outcome", ["outcome"], registry=r
        )
        self.attestations = Counter(
            "vcoin_oracle_attestations_total",
            "Attestation txs by result (ok, refused, skipped)",
            ["result"],
            registry=r,
        )
        self.check_seconds = Histogram(
            "vcoin_oracle_check_seconds",
            "Re-execution plus comparison time",
            buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
            registry=r,
        )
        self.similarity = Histogram(
            "vcoin_oracle_similarity_bps",
            "Similarity of checked outputs (basis points)",
            buckets=(0, 5000, 8000, 9000, 9500, 9900, 9990, 10000),
            registry=r,
        )
        self.canaries = Counter(
            "vcoin_oracle_canaries_total",
            "Canary steps (posted, committed, spoiled, matched, mismatched, failed)",
            ["event"],
            registry=r,
        )
        self.plants_passed = Counter(
            "vcoin_oracle_plants_passed_total",
            "Planted wrong results this oracle attested as a pass (each one punished it)",
            registry=r,
        )
        self.plants = Counter(
            "vcoin_oracle_plants_total",
            "Plants this oracle made (a wrong result submitted) and revealed",
            ["event"],
            registry=r,
        )
        self.plant_oracles_caught = Counter(
            "vcoin_oracle_plant_oracles_caught_total",
            "Oracles this oracle's plant reveals caught passing a wrong result",
            registry=r,
        )
        self.errors = Counter(
            "vcoin_oracle_errors_total", "Errors by where they happened", ["where"], registry=r
        )

    def serve(self, laddr: str) -> None:
        from prometheus_client import start_http_server

        host, _, port = laddr.rpartition(":")
        start_http_server(int(port), addr=host or "127.0.0.1", registry=self.registry)
