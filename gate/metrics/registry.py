"""What every process's metrics share: a registry of our own, values sampled at scrape time, disk space.

Each process keeps its metrics in a `CollectorRegistry` of its own, never prometheus_client's
global default one (which a library could fill behind our back). Counters and histograms are
moved as things happen; states (a reader up, the outbox's depth) are sampled just before a
scrape is answered (`Sampled`), so nothing polls between scrapes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry, ProcessCollector, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric


def new_registry() -> CollectorRegistry:
    """A registry of ours, with the process's own figures (resident memory, CPU, open files)."""
    disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` series: half the lines
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    return registry


class Sampled:
    """A collector whose families are replaced whole at each refresh, and yielded as they are."""

    def __init__(self) -> None:
        self.families: Sequence[Metric] = ()

    def collect(self) -> Iterable[Metric]:
        return list(self.families)


def gauge(name: str, doc: str, labels: Sequence[str], rows: Iterable[tuple[Sequence[str], float]]) -> Metric:
    family = GaugeMetricFamily(name, doc, labels=labels)
    for values, value in rows:
        family.add_metric(values, value)
    return family


def counter(name: str, doc: str, labels: Sequence[str], rows: Iterable[tuple[Sequence[str], float]]) -> Metric:
    family = CounterMetricFamily(name, doc, labels=labels)
    for values, value in rows:
        family.add_metric(values, value)
    return family


def free_bytes(path: Path) -> Iterator[tuple[Sequence[str], float]]:
    """The bytes an unprivileged writer may still use on the file system holding `path` (none if
    its folder is not there): the ledger's, which a full disk turns into an out-of-order lane."""
    try:
        info = os.statvfs(path.parent)
    except OSError:
        return
    yield (), float(info.f_bavail * info.f_frsize)
