"""Prometheus metrics of the gateway, served by the API itself at ``/metrics``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter(
            "vcoin_gateway_requests_total",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.seconds = Histogram(
            "vcoin_gateway_request_seconds",
            "Time to answer, by route",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.logins = Counter(
            "vcoin_gateway_logins_total",
            "Sign-ins by wallet kind and result",
            ["kind", "result"],
            registry=r,
        )
        self.auth_failures = Counter(
            "vcoin_gateway_auth_failures_total",
            "Refused API keys and tokens by reason",
            ["reason"],
            registry=r,
        )
        self.rate_limited = Counter(
            "vcoin_gateway_rate_limited_total",
            "429 answers by limit (key, client)",
            ["limit"],
            registry=r,
        )
        self.keys = Counter(
            "vcoin_gateway_keys_total", "API keys created and revoked", ["event"], registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
