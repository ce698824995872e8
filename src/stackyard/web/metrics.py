"""Prometheus metrics of one web process: requests, latencies, queue depth and runs by state."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stackyard.storage.tables import Delivery, Run

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform


class _StateCollector(Collector):
    """Read at scrape time so every web process reports the shared truth, not its own counters."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def collect(self) -> Iterator[GaugeMetricFamily]:
        runs = GaugeMetricFamily("stackyard_runs", "Runs by state", labels=["state"])
        deliveries = GaugeMetricFamily("stackyard_deliveries", "Deliveries by state", labels=["state"])
        queue = GaugeMetricFamily("stackyard_queue_depth", "Messages waiting in the task queue")
        try:
            with self._platform.sessions() as session:
                for state, count in session.execute(select(Run.state, func.count()).group_by(Run.state)):
                    runs.add_metric([state], count)
                for state, count in session.execute(
                    select(Delivery.state, func.count()).group_by(Delivery.state)
                ):
                    deliveries.add_metric([state], count)
            queue.add_metric([], self._platform.huey.pending_count())
        except Exception:  # a scrape must not fail because a backend is down; /readyz says so
            pass
        yield runs
        yield deliveries
        yield queue


class Metrics:
    def __init__(self, platform: Platform) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "stackyard_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "stackyard_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.registry.register(_StateCollector(platform))


class MetricsMiddleware:
    """Pure ASGI middleware: cheap enough to stay on the webhook hot path."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
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
            label = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(method, label, str(status)).inc()
            self.metrics.latency.labels(method, label).observe(time.perf_counter() - started)
