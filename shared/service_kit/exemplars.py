"""Exemplars: a latency histogram's bucket names the trace of a request that fell in it, so a
Grafana panel jumps from a slow bucket to that trace (OpenMetrics exposition only: the classic text
format has no exemplars; :func:`encode` serves either, as the scraper's ``Accept`` asks).

:class:`Histogram` is prometheus_client's, its ``observe`` attaching ``trace_id`` and ``span_id``
of the current span when tracing is on and the span is sampled (an unsampled trace is never
exported: its id would lead nowhere).

Multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, every process of ours) keeps no exemplars:
prometheus_client's mmap'd value drops them (``MmapedValue.set_exemplar`` is a no-op) and its
``MultiProcessCollector`` rebuilds every sample without one. So each process keeps the newest
exemplar of each bucket it observed in a dict (one assignment on the request's path) and writes
that dict, when it changed, at most every :data:`FLUSH_SECONDS`, to its own file
``exemplars_<pid>.json`` beside its ``.db`` files (a timer thread, write-then-rename: a reader
never sees half a file; no file is shared, so no lock between processes). A scrape, whichever
process serves it, reads every process's file and gives each bucket the newest exemplar any
process recorded for it (:class:`MultiProcessExemplarCollector`). An exemplar is a sample, not a
count: one lost with a process that died before its flush costs nothing but that example.
"""

from __future__ import annotations

import atexit
import glob
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import prometheus_client
from prometheus_client import multiprocess
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.samples import Exemplar
from prometheus_client.utils import floatToGoString

from service_kit import tracing

_go_float: Callable[[float], str] = floatToGoString  # the ``le`` label's spelling (untyped)
#: How long an exemplar may wait in its process before a scrape can see it.
FLUSH_SECONDS = 0.25
FILE_PATTERN = "exemplars_*.json"


def current() -> dict[str, str] | None:
    """The exemplar labels of the current span (``trace_id``, ``span_id``) when it is sampled."""
    if not tracing.ON:
        return None
    from opentelemetry import trace

    return of_span(trace.get_current_span())


def of_span(span: Any) -> dict[str, str] | None:
    """A span's exemplar labels (None for no span, or one not sampled)."""
    if span is None:
        return None
    context = span.get_span_context()
    if not (context.is_valid and context.trace_flags.sampled):
        return None
    return {
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
    }


class _Store:
    """This process's newest exemplar per bucket, written to its own file in the metrics folder."""

    def __init__(self, folder: str):
        self.folder = folder
        self.lock = threading.Lock()
        self.pid = -1
        self.newest: dict[str, list[Any]] = {}
        self.pending = False

    def record(self, key: str, labels: dict[str, str], value: float) -> None:
        with self.lock:
            if self.pid != os.getpid():  # forked: the parent's exemplars and timer are not ours
                self.pid, self.newest, self.pending = os.getpid(), {}, False
            self.newest[key] = [labels, value, time.time()]
            if self.pending:
                return
            self.pending = True
        timer = threading.Timer(FLUSH_SECONDS, self.flush)
        timer.daemon = True
        timer.start()

    def flush(self) -> None:
        with self.lock:
            if self.pid != os.getpid() or not self.newest:
                return
            self.pending = False
            body = json.dumps(self.newest)
        path = os.path.join(self.folder, f"exemplars_{self.pid}.json")
        temporary = f"{path}.tmp"
        try:
            with open(temporary, "w", encoding="utf-8") as file:
                file.write(body)
            os.replace(temporary, path)
        except OSError:  # the folder went away (a test's teardown): an example lost, nothing else
            pass


_store: _Store | None = None
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _store = _Store(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    atexit.register(_store.flush)


def _key(name: str, labels: Iterable[tuple[str, str]]) -> str:
    return json.dumps([name, sorted(labels)])


class Histogram(prometheus_client.Histogram):
    """prometheus_client's Histogram whose observations carry the current trace as exemplar."""

    def observe(self, amount: float, exemplar: dict[str, str] | None = None) -> None:
        exemplar = exemplar or current()
        super().observe(amount, exemplar)  # one process (no folder): kept by the value itself
        if exemplar is None or _store is None:
            return
        bound = next((b for b in self._upper_bounds if amount <= b), None)
        if bound is None:  # NaN: in no bucket
            return
        labels = [*zip(self._labelnames, self._labelvalues, strict=True)]
        labels.append(("le", _go_float(bound)))
        _store.record(_key(f"{self._name}_bucket", labels), exemplar, amount)


def _read_exemplars(folder: str) -> dict[str, Exemplar]:
    newest: dict[str, Exemplar] = {}
    for path in glob.glob(os.path.join(folder, FILE_PATTERN)):
        try:
            with open(path, encoding="utf-8") as file:
                entries = json.load(file)
        except (OSError, ValueError):  # gone since the glob (a dead process cleaned up)
            continue
        for key, (labels, value, timestamp) in entries.items():
            if key not in newest or newest[key].timestamp < timestamp:
                newest[key] = Exemplar(labels, value, timestamp)
    return newest


class MultiProcessExemplarCollector(multiprocess.MultiProcessCollector):
    """prometheus_client's multiprocess collector, each histogram bucket given the newest
    exemplar any process of the folder recorded for it."""

    def collect(self) -> Iterable[Metric]:
        metrics: list[Metric] = list(super().collect())  # type: ignore[no-untyped-call]
        exemplars = _read_exemplars(self._path)
        if not exemplars:
            return metrics
        for metric in metrics:
            if metric.type != "histogram":
                continue
            metric.samples = [
                sample._replace(exemplar=exemplars.get(_key(sample.name, sample.labels.items())))
                if sample.name.endswith("_bucket")
                else sample
                for sample in metric.samples
            ]
        return metrics


class Combined:
    """Several collectors scraped as one (OpenMetrics has one ``# EOF``, so one encoding)."""

    def __init__(self, *collectors: Collector):
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def process_registry() -> Collector:
    """What this service's processes have counted: every process's files in multiprocess mode
    (exemplars included), else this process's registry."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return prometheus_client.REGISTRY
    registry = CollectorRegistry()
    MultiProcessExemplarCollector(registry, path=folder)  # type: ignore[no-untyped-call]
    return registry


def encode(collector: Collector, accept: str | None) -> tuple[bytes, str]:
    """The exposition the scraper asked for: OpenMetrics (with exemplars) when its ``Accept``
    names ``application/openmetrics-text``, else the classic text format."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(collector), content_type
