"""The spool's depth as Prometheus gauges, measured on the disk at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from metronome.spool.writer import spool_bytes


class SpoolCollector(Collector):
    """Bytes waiting in the spool and its limit (the same for every process: it is the disk)."""

    def __init__(self, spool_dir: Path, max_bytes: int) -> None:
        self.spool_dir = spool_dir
        self.max_bytes = max_bytes

    def collect(self) -> Iterator[Metric]:
        used = GaugeMetricFamily("metronome_spool_bytes", "Bytes waiting in the spool")
        used.add_metric([], spool_bytes(self.spool_dir))
        limit = GaugeMetricFamily("metronome_spool_max_bytes", "The spool's configured limit")
        limit.add_metric([], self.max_bytes)
        yield used
        yield limit
