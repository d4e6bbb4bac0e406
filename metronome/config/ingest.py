"""``ingest:`` (what one request may hold), ``spool:`` (the durable log between the web process
and Elasticsearch) and ``shipper:`` (what moves it there)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from marshmallow.validate import Length, Range

MIB = 1024 * 1024


@dataclass(frozen=True)
class IngestSettings:
    max_body_bytes: Annotated[int, Range(min=1024, max=100 * MIB)] = 1_048_576  # as sent
    # a gzip body may not inflate beyond this...
    max_decompressed_bytes: Annotated[int, Range(min=1024, max=1024 * MIB)] = 4_194_304
    # ... nor, past 1 MiB, beyond this many times its own size
    max_inflate_ratio: Annotated[int, Range(min=2, max=100_000)] = 100
    max_batch: Annotated[int, Range(min=1, max=100_000)] = 500
    # records in one POST /ingest/logs body
    max_log_records: Annotated[int, Range(min=1, max=1_000_000)] = 20_000
    # points in one POST /api/v1/metrics body
    max_metric_points: Annotated[int, Range(min=1, max=1_000_000)] = 10_000


@dataclass(frozen=True)
class SpoolSettings:
    """The local durable log between the web process and Elasticsearch."""

    dir: Annotated[Path, Length(min=1)] = Path("var/spool")
    # when full, ingest answers 503 instead of filling the disk
    max_bytes: Annotated[int, Range(min=65_536)] = 1_073_741_824
    segment_bytes: Annotated[int, Range(min=4096)] = 16_777_216


@dataclass(frozen=True)
class ShipperSettings:
    batch_docs: Annotated[int, Range(min=1, max=100_000)] = 1000
    batch_bytes: Annotated[int, Range(min=1024, max=100 * MIB)] = 8_388_608
    # seconds between looks at an idle spool
    poll_interval: Annotated[float, Range(min=0.001, max=60)] = 0.2
    # After a pass that found less than a full batch, wait this long for the next: fewer, larger
    # _bulk requests (75 hits in one cost Elasticsearch a third of the CPU of five of 15).
    linger: Annotated[float, Range(min=0, max=5)] = 0.25
    max_backoff: Annotated[float, Range(min=0.01, max=3600)] = 30.0  # seconds, the retry cap
    # _bulk requests in flight at once (each for its own spool segment)
    concurrency: Annotated[int, Range(min=1, max=32)] = 2
