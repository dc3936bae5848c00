"""Prometheus metrics, shared by every process of one deployment.

`siyu serve` (with its HTTP processes) and `siyu worker` point PROMETHEUS_MULTIPROC_DIR at one directory before
anything imports prometheus-client; each process then writes its counters to its own memory-mapped file there, and
a scrape of `/metrics` adds them all up. Without that variable (tests, a plain `uvicorn siyu.main:app`) the
counters live in this process only.

Per request the cost is a dict lookup and two in-memory increments: the labelled children are cached here, so
the hot path never builds a label tuple or takes the registry's lock.
"""

from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# One histogram, not a counter beside it: its _count is the number of requests by route and status class, and
# each request then costs one observation (two increments of the mapped file) instead of three increments.
LATENCY = Histogram(
    "siyu_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and status class (its _count counts the requests)",
    ["route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
IMPORTS = Counter("siyu_order_imports_total", "Order imports finished, by outcome", ["outcome"])
CLAIMS = Counter("siyu_claims_total", "Fan claim attempts recorded, by outcome", ["outcome"])
DB_BUSY = Counter(
    "siyu_db_unavailable_total",
    "Requests answered 503 because the database was saturated or unreachable, by cause",
    ["cause"],
)

UNMATCHED = "unmatched"  # requests that matched no route (404s, scanners): one label, not one per path
STATUS_CLASSES = ("0xx", "1xx", "2xx", "3xx", "4xx", "5xx")

_request_children: dict[tuple[str, int], Callable[[float], None]] = {}
_outcome_children: dict[tuple[int, str], Callable[[], None]] = {}


def observe_request(route: str, status: int, seconds: float) -> None:
    """Count one answered request (route is the template, such as /api/v1/members/{member_id})."""
    key = (route, status // 100)
    observe = _request_children.get(key)
    if observe is None:
        status_class = STATUS_CLASSES[key[1]] if 0 <= key[1] < len(STATUS_CLASSES) else "other"
        observe = _request_children[key] = LATENCY.labels(route, status_class).observe
    observe(seconds)


def _count(counter: Counter, label: str) -> None:
    key = (id(counter), label)
    inc = _outcome_children.get(key)
    if inc is None:
        inc = _outcome_children[key] = counter.labels(label).inc
    inc()


def count_claim(outcome: str) -> None:
    _count(CLAIMS, outcome)


def count_import(outcome: str) -> None:
    _count(IMPORTS, outcome)


def count_db_unavailable(cause: str) -> None:
    _count(DB_BUSY, cause)


def prepare_multiprocess_dir(directory: Path) -> Path:
    """Use `directory` for the counters of this process and of those it starts (set before they import us).

    Files left by processes that are no longer running are removed first: their counts would otherwise be added
    to every scrape forever, and a process id reused later would carry on from them. Files of live processes (the
    other `siyu worker`s sharing the directory) stay.
    """
    directory = directory.resolve()  # the processes it starts may run elsewhere
    directory.mkdir(parents=True, exist_ok=True)
    for path in glob.glob(str(directory / "*.db")):
        pid = _pid_of(Path(path))
        if pid is not None and pid != os.getpid() and not _alive(pid):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
    os.environ[MULTIPROC_ENV] = str(directory)
    # prometheus-client picks its value store when first imported; make the choice again now the variable is set.
    values.ValueClass = values.get_value_class()
    return directory


def _pid_of(path: Path) -> int | None:
    tail = path.stem.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_process_dead(pid: int) -> None:
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)


class _Gauges(Collector):
    """Gauges read at scrape time (from the database, say), handed in as (name, help, value)."""

    def __init__(self, gauges: Iterable[tuple[str, str, float]]) -> None:
        self.gauges = list(gauges)

    def collect(self) -> Iterable[GaugeMetricFamily]:
        for name, help_text, value in self.gauges:
            yield GaugeMetricFamily(name, help_text, value=value)


def render(gauges: Iterable[tuple[str, str, float]] = ()) -> bytes:
    """The text exposition: every process's counters when PROMETHEUS_MULTIPROC_DIR is set, then `gauges`."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory and os.path.isdir(directory):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
    else:
        registry = CollectorRegistry()
        for collector in (LATENCY, IMPORTS, CLAIMS, DB_BUSY):
            registry.register(collector)
    registry.register(_Gauges(gauges))
    return prometheus_client.generate_latest(registry)


CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST
