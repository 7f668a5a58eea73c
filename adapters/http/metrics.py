"""``GET /metrics``: Prometheus metrics, kept and written out by ``prometheus_client`` in
a registry of each app's own (never the library's global one: tests and several apps in
one process do not mix their numbers).

* **The store's health**, read from the read model at each scrape (``ReadModel.health``):
  ``relengotron_log_position``, ``relengotron_follower_lag_events{follower}``,
  ``relengotron_outbox_pending``, ``relengotron_outbox_oldest_pending_seconds``,
  ``relengotron_messages_total``.
* **Requests**, counted by the ASGI front (``adapters.http.front``) around every answer,
  the decision fast path included: ``relengotron_http_requests_total{method,route,status}``
  and ``relengotron_http_request_duration_seconds{method,route}`` (a histogram, from the
  request's start to its last body byte). ``route`` is the route's template
  (``/api/v1/builds/{nvr}``), ``unmatched`` for a path no route serves: the label's values
  stay few whatever is asked.
* **The process**: ``process_*`` (CPU seconds, resident and virtual memory, open and
  maximum file descriptors, start time: ``ProcessCollector``, read from ``/proc``),
  ``python_info`` and ``python_gc_*`` (the latter with one worker only).

**Several workers** (``serve --workers N``): a scrape reaches one worker, chosen by the
kernel. So that its answer is the server's and not one worker's, ``serve`` runs the
workers in prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``: a fresh
directory of ``serve``'s, removed when it stops; an operator's own is used as given and
must be emptied before each start): each worker writes its request counts to its own
memory-mapped file and any worker sums them all when scraped; a worker that stops leaves
its counts in (they are counts of requests answered). The process metrics are then those
of every running worker (a child of the same supervisor) that has answered a request, each
labelled ``pid``; the health metrics are the store's, the same whichever worker answers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["MULTIPROC_ENV", "UNMATCHED", "Metrics", "health_metrics", "multiprocess_dir"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "unmatched"
#: Seconds; the decision fast path answers in about a millisecond, large requests in
#: tens to hundreds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_PID_FILE = re.compile(r"_(\d+)\.db$")


def multiprocess_dir() -> str | None:
    """The multiprocess directory this process writes its counts to, if any."""
    return os.environ.get(MULTIPROC_ENV) or None


def health_metrics(health: dict[str, Any], now: datetime) -> Iterator[Metric]:
    """The store's health (``ReadModel.health()``) as metric families."""
    yield GaugeMetricFamily(
        "relengotron_log_position", "Position of the last event in the log.", health["head"]
    )
    lag = GaugeMetricFamily(
        "relengotron_follower_lag_events",
        "Log events after a follower's position.",
        labels=["follower"],
    )
    for name, f in health["followers"].items():
        lag.add_metric([name], f["lag"])
    yield lag
    outbox = health["outbox"]
    yield GaugeMetricFamily(
        "relengotron_outbox_pending",
        "Outbox actions (koji moves, messages) not done yet.",
        outbox["pending"],
    )
    yield GaugeMetricFamily(
        "relengotron_outbox_oldest_pending_seconds",
        "Age of the oldest pending action.",
        round(_age(outbox["oldest_requested_at"], now), 1),
    )
    yield CounterMetricFamily(
        "relengotron_messages", "Input messages recorded.", health["messages"]
    )


def _age(oldest_requested_at: str | None, now: datetime) -> float:
    if not oldest_requested_at:
        return 0.0
    try:
        oldest = datetime.fromisoformat(oldest_requested_at)
    except ValueError:
        return 0.0
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return max(0.0, (now - oldest).total_seconds())


class _Health:
    def __init__(self, health: Callable[[], dict[str, Any]], now: Callable[[], datetime]):
        self.health, self.now = health, now

    def collect(self) -> Iterable[Metric]:
        return list(health_metrics(self.health(), self.now()))


def _parent(pid: int) -> int | None:
    """The parent of a running process (``/proc/PID/stat``), None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[1])  # after "(comm)": state, ppid


class _Workers:
    """``process_*`` of every worker that wrote to the multiprocess directory, by pid:
    the running processes with this worker's parent (the server's supervisor)."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)

    def collect(self) -> Iterable[Metric]:
        pids = sorted({int(m[1]) for p in self.directory.glob("*.db")
                       if (m := _PID_FILE.search(p.name))})  # fmt: skip
        merged: dict[str, Metric] = {}
        for pid in pids:
            if _parent(pid) != os.getppid():
                continue  # a worker that stopped (its pid maybe another's since)
            collector = ProcessCollector(pid=partial(int, pid), registry=None)
            for family in collector.collect():
                into = merged.setdefault(
                    family.name, Metric(family.name, family.documentation, family.type)
                )
                for s in family.samples:
                    into.add_sample(s.name, {**s.labels, "pid": str(pid)}, s.value)
        return list(merged.values())


class Metrics:
    """One app's metrics: its registry, the request metrics, and the scrape."""

    def __init__(self, health: Callable[[], dict[str, Any]], now: Callable[[], datetime]) -> None:
        self.registry = CollectorRegistry()
        self.health = _Health(health, now)
        self.directory = multiprocess_dir()
        self.requests = Counter(
            "relengotron_http_requests",
            "HTTP requests answered, by method, route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "relengotron_http_request_duration_seconds",
            "Time from a request's start to its answer's last byte, by method and route.",
            ["method", "route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        if self.directory is None:
            self.registry.register(self.health)
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """One answered request."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(method, route, str(status)),
                self.duration.labels(method, route),
            )
        children[0].inc()
        children[1].observe(seconds)

    def scrape(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition (text 0.0.4, or what ``Accept`` asks for) and its media type."""
        try:
            encode, media_type = choose_encoder(accept or "")
        except (TypeError, ValueError):  # a version it cannot read ("version=x.y")
            encode, media_type = choose_encoder("")
        if self.directory is None:
            return encode(self.registry), media_type
        # Multiprocess mode: every worker's counts, from their files.
        registry = CollectorRegistry()
        registry.register(self.health)
        MultiProcessCollector(registry, path=self.directory)
        registry.register(_Workers(self.directory))
        PlatformCollector(registry=registry)
        return encode(registry), media_type
