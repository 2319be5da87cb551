"""Prometheus metrics: requests and latencies by route template, the active model version, and
the database pools' state (service.database.PoolStats, read at each scrape).

A pure ASGI middleware (no BaseHTTPMiddleware: it costs a task per request). Labels use the
route's template (`/movie/{movie_id}`), never the raw path, so cardinality stays bounded.
Each app has its own registry; with several uvicorn workers each worker counts its own share.
"""

import time
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.database import PoolStats

PoolStatsSource = Callable[[], Mapping[str, PoolStats]]
POOL_GAUGES = {
    "size": "Connections the pool may hold.",
    "idle": "Open connections waiting in the pool.",
    "in_use": "Connections lent to requests now.",
}
POOL_COUNTERS = {
    "opened": "New database connections made.",
    "expired": "Connections closed at their maximum lifetime.",
    "discarded": "Connections closed because they broke.",
    "timeouts": "Requests that found every connection busy for the pool timeout (503).",
}

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class PoolCollector(Collector):
    """cinecluster_db_pool_* by pool (sync, async); nothing before the app has started."""

    def __init__(self, source: PoolStatsSource) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        pools = self.source()
        for field, text in POOL_GAUGES.items():
            gauge = GaugeMetricFamily(f"cinecluster_db_pool_{field}", text, labels=["pool"])
            for name, stats in pools.items():
                gauge.add_metric([name], getattr(stats, field))
            yield gauge
        for field, text in POOL_COUNTERS.items():
            counter = CounterMetricFamily(f"cinecluster_db_pool_{field}", text, labels=["pool"])
            for name, stats in pools.items():
                counter.add_metric([name], getattr(stats, field))
            yield counter


class Metrics:
    def __init__(self, pool_stats: PoolStatsSource = dict) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(PoolCollector(pool_stats))
        self.requests = Counter(
            "cinecluster_http_requests",
            "HTTP requests by route template, method and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "cinecluster_http_request_duration_seconds",
            "Request latency by route template.",
            ["method", "route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.active_version = Gauge(
            "cinecluster_active_model_version",
            "Active model version (0: none; last known value if the database is unreachable).",
            registry=self.registry,
        )


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - start)
