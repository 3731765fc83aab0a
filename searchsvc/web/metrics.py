"""``GET /metrics`` in the Prometheus text format, and the access log (one JSON line a request).

Every app has its own registry (not prometheus-client's global one), so the many apps a test session makes
never share a counter. What a scrape sees:

- ``searchsvc_http_requests_total`` and ``searchsvc_http_request_duration_seconds`` by route (the URL rule,
  ``/api/articles/<article_id>``, never the raw path: one series per route, not per article), method
  and status; requests no route matched count as route ``unmatched``.
- ``searchsvc_answer_cache_hits_total`` / ``_misses_total``: searches answered from this worker's answer
  cache, and computed, since its engine opened (they restart at 0 when a worker opens the index anew, which
  Prometheus' ``rate()`` treats as a counter reset).
- ``searchsvc_index_up`` (1 when this worker can serve), ``searchsvc_generation`` (the number served),
  ``searchsvc_generation_age_seconds`` (since that generation was built, from its meta.json) and
  ``searchsvc_index_documents``.
- ``searchsvc_replica_lag_seconds``: on a replica, seconds since it last found itself serving the primary's
  commit (read from its status file at each scrape); NaN on a primary and until a first round succeeds.
- ``searchsvc_reindex_running`` and, while one runs, ``searchsvc_reindex_articles_read``,
  ``searchsvc_reindex_started_timestamp_seconds`` and ``searchsvc_reindex_stage{stage}``: read from the
  progress file a reindex (a CLI process) leaves in the index home (``store/progress.py``).

Under gunicorn each worker process has its own counters, so a scrape sees the one worker that answered it.
With ``PROMETHEUS_MULTIPROC_DIR`` set (an empty folder, before the server starts; emptied at each restart)
the request counts and latencies are summed over all workers by prometheus-client's multiprocess mode; the
cache counters and the state gauges are still those of the answering worker (every worker serves the same
generation within RELOAD_INTERVAL).
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from searchsvc.errors import IndexUnavailable
from searchsvc.search.engine import Engine
from searchsvc.store import progress
from searchsvc.store.home import IndexHome
from searchsvc.web import replication
from searchsvc.web.slot import get_engine

EXTENSION = "searchsvc.metrics"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_STAGES = ("reading", "vocabulary", "publishing")

bp = Blueprint("metrics", __name__)


class Metrics:
    """One app's metrics: the request counters, the replica lag and the engine state read at scrape time."""

    def __init__(self, index_dir: Path) -> None:
        self.home = IndexHome(index_dir)
        self.registry = CollectorRegistry()
        labels = ("route", "method", "status")
        self.requests = Counter("searchsvc_http_requests", "HTTP requests answered, by route, method and status.",
                                labels, registry=self.registry)
        self.latency = Histogram("searchsvc_http_request_duration_seconds",
                                 "Time from the request's arrival to its response, by route, method and status.",
                                 labels, buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.replica_lag = Gauge("searchsvc_replica_lag_seconds",
                                 "How far this replica's index is behind its primary (NaN: not a replica, or no "
                                 "copy yet).", registry=self.registry, multiprocess_mode="mostrecent")
        self.replica_lag.set(math.nan)
        self.engine: Engine | None = None  # the engine the last scrape saw (None: the index is unavailable)
        self.state = _State(self)
        self.registry.register(self.state)

    def scrape(self, accept: str) -> tuple[bytes, str]:
        """The exposition the scraper asked for (``Accept``: Prometheus' text format, or OpenMetrics)."""
        encode, content_type = choose_encoder(accept)
        registry = self.registry
        if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            registry.register(self.state)
        return bytes(encode(registry)), content_type


class _State(Collector):
    """Gauges read when scraped: the generation this worker serves, its cache, the running reindex."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        engine = self.metrics.engine
        yield GaugeMetricFamily("searchsvc_index_up", "1 when this worker has an index to serve, else 0.",
                                value=0 if engine is None else 1)
        if engine is not None:
            yield CounterMetricFamily("searchsvc_answer_cache_hits", "Searches answered from the answer cache.",
                                      value=engine.cache_hits)
            yield CounterMetricFamily("searchsvc_answer_cache_misses", "Searches computed (not in the cache).",
                                      value=engine.cache_misses)
            gen = engine.snapshot.generation
            yield GaugeMetricFamily("searchsvc_generation", "Number of the index generation served.",
                                    value=gen.number)
            yield GaugeMetricFamily("searchsvc_index_documents", "Live documents in the index served.",
                                    value=engine.snapshot.doc_count)
            created = _built(self.metrics.home, gen)
            if created is not None:
                yield GaugeMetricFamily("searchsvc_generation_age_seconds",
                                        "Seconds since the generation served was built (its meta.json).",
                                        value=max(0.0, time.time() - created))
        running = progress.read(self.metrics.home.path)
        yield GaugeMetricFamily("searchsvc_reindex_running", "1 while a reindex of this index home runs.",
                                value=0 if running is None else 1)
        if running is not None:
            yield GaugeMetricFamily("searchsvc_reindex_articles_read", "Articles the running reindex has read.",
                                    value=float(running.get("read", 0)))
            yield GaugeMetricFamily("searchsvc_reindex_started_timestamp_seconds",
                                    "When the running reindex started (Unix time).",
                                    value=float(running.get("started", 0)))
            stage = GaugeMetricFamily("searchsvc_reindex_stage", "The running reindex's stage (1 for the current).",
                                      labels=["stage"])
            for name in _STAGES:
                stage.add_metric([name], 1 if running.get("stage") == name else 0)
            yield stage


def _built(home: IndexHome, gen: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(home.meta(gen)["created"])).astimezone(UTC).timestamp()
    except (IndexUnavailable, KeyError, ValueError):
        return None


def metrics_of(app: Flask) -> Metrics:
    metrics: Metrics = app.extensions[EXTENSION]
    return metrics


def set_replica_lag(app: Flask, seconds: float) -> None:
    """How far behind its primary a replica's index is (each scrape sets it from the replica's status)."""
    metrics_of(app).replica_lag.set(seconds)


@bp.get("/metrics")
def metrics_view() -> Response:
    metrics = metrics_of(current_app)
    try:
        metrics.engine = get_engine()  # what this worker serves, refreshed as for any request
    except IndexUnavailable:
        metrics.engine = None
    lag = replication.replica_lag(current_app)
    if lag is not None:
        set_replica_lag(current_app, lag)
    body, content_type = metrics.scrape(request.headers.get("Accept", ""))
    return Response(body, content_type=content_type)


# -- per request: counters and the access log ------------------------------------------------------------


class AccessLog:
    """One JSON line per request, to stderr (``-``) or appended to a file.

    The path is logged without its query string (what readers search for stays out of the log) and no header
    is, so an operator's token never lands there. Lines are written whole under a lock; several gunicorn
    workers appending to one file each write a line in one call (O_APPEND).
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._file: TextIO | None = None
        if target != "-":
            self._file = open(target, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (lives with the app)

    def write(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._lock:
            (self._file or sys.stderr).write(line)


def _start() -> None:
    g.searchsvc_started = time.perf_counter()


def _finish(response: Response) -> Response:
    started = g.get("searchsvc_started")
    if started is None:
        return response
    seconds = time.perf_counter() - started
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    status = str(response.status_code)
    metrics = metrics_of(current_app)
    metrics.requests.labels(route, request.method, status).inc()
    metrics.latency.labels(route, request.method, status).observe(seconds)
    log: AccessLog | None = current_app.extensions.get(EXTENSION + ".access")
    if log is not None:
        engine = g.get("searchsvc_engine")  # only what this request used: no index is opened to log it
        log.write({"time": datetime.now(UTC).isoformat(timespec="milliseconds"), "method": request.method,
                   "route": route, "path": request.path, "status": response.status_code,
                   "ms": round(seconds * 1000, 2),
                   "generation": engine.snapshot.generation.number if engine is not None else None})
    return response


def init_app(app: Flask) -> None:
    """Registers /metrics, the request counters and (when ACCESS_LOG is set) the access log.

    Called before the app's other request hooks, so a request they refuse is timed and counted too.
    """
    app.extensions[EXTENSION] = Metrics(Path(app.config["INDEX_DIR"]))
    if app.config.get("ACCESS_LOG"):
        app.extensions[EXTENSION + ".access"] = AccessLog(str(app.config["ACCESS_LOG"]))
    app.register_blueprint(bp)
    app.before_request(_start)
    app.after_request(_finish)
