"""Prometheus metrics, shared by the web workers and the shipper.

``metronome serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` so that every process (gunicorn
workers, shipper) writes its counters there and ``GET /metrics`` adds them up. A process
without it (tests, a single ``flask run``) keeps them in memory.
"""

from __future__ import annotations

import os
from functools import cache

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess
from prometheus_client.registry import REGISTRY, Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

ACCEPTED = Counter("metronome_hits_accepted", "Hits accepted (durably spooled)", ["site"])
REJECTED = Counter("metronome_hits_rejected", "Hits rejected, by reason", ["reason"])
SPOOL_FULL = Counter("metronome_spool_full", "Requests answered 503 because the spool was full")
SHIPPED = Counter("metronome_shipped", "Documents confirmed by Elasticsearch", ["stream"])
SHIP_RETRIES = Counter("metronome_ship_retries", "Documents sent again after 429/5xx/errors")
DEAD_LETTERED = Counter("metronome_dead_lettered", "Documents Elasticsearch refused as invalid")
SHIP_SHARD_LIMIT = Counter(
    "metronome_ship_shard_limit",
    "Bulk requests with an index refused for the cluster's shard limit",
)
SPOOL_TORN_BYTES = Counter("metronome_spool_torn_bytes", "Bytes of torn records skipped")
SPOOL_UNREADABLE = Counter("metronome_spool_unreadable", "Checksummed records that were unreadable")
LOG_RECORDS = Counter(
    "metronome_log_records_accepted", "Log records accepted (durably spooled)", ["input"]
)
# The forward listener's totals: connections, messages, events, invalid_events, protocol_errors,
# refused_connections, acks, auth_failures, sink_errors, heartbeats
# (metronome.logs.forward.ForwardCounters).
FORWARD = Counter("metronome_forward", "Forward protocol listener totals", ["what"])
# Scheduled sources (metronome.sources): runs by outcome (ok, failed, busy) and documents by
# what Elasticsearch made of them (created, duplicate, dead_lettered).
SOURCE_RUNS = Counter("metronome_source_runs", "Source runs, by outcome", ["source", "outcome"])
SOURCE_DOCUMENTS = Counter(
    "metronome_source_documents", "Documents read from sources, by result", ["source", "result"]
)
WEBHOOKS = Counter(
    "metronome_webhook_deliveries", "Webhook deliveries stored (durably spooled)", ["event"]
)
BULK_SECONDS = Histogram(
    "metronome_bulk_seconds",
    "Latency of one _bulk request",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


@cache
def accepted_counter(site: str) -> Counter:
    """The site's accepted counter, looked up once per process instead of once per request."""
    return ACCEPTED.labels(site)


def render(*extra: Collector) -> tuple[bytes, str]:
    """The text exposition of every metric, in Prometheus' content type; ``extra`` adds
    gauges measured at scrape time elsewhere (the spool's depth, the sources' state)."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_ENV):
        _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        output = generate_latest(registry)
    else:
        output = generate_latest(REGISTRY)
    registry = CollectorRegistry()
    for collector in extra:
        registry.register(collector)
    return output + generate_latest(registry), CONTENT_TYPE_LATEST
