"""The typed query every read endpoint works from (``POST /api/v1/query``).

parse (JSON -> Query, validated against the stream's fields) -> builder (Query -> search body,
pure) -> runner (pages through Elasticsearch) -> result (rows -> the response; owns the JSON).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from metronome.query.calendar import Interval

MetricKind = Literal[
    "count", "visitors", "sessions", "sum", "avg", "min", "max", "p50", "p95", "p99"
]
FIELD_METRICS = frozenset({"sum", "avg", "min", "max", "p50", "p95", "p99"})
PERCENTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0}
# Cardinality (HyperLogLog++) and percentiles (t-digest) are estimates in Elasticsearch.
APPROXIMATE = frozenset({"visitors", "sessions", "p50", "p95", "p99"})
FilterOp = Literal["is", "is_not", "contains", "matches"]
CompareMode = Literal["previous", "week", "month", "year", "custom"]


@dataclass(frozen=True)
class Metric:
    kind: MetricKind
    field: str | None = None  # for sum/avg/min/max/pNN

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.field}" if self.field else self.kind


@dataclass(frozen=True)
class Dimension:
    field: str | None = None  # a stored field, or None for time
    interval: Interval | None = None  # for time

    @property
    def name(self) -> str:
        return f"time:{self.interval}" if self.interval else str(self.field)

    @property
    def is_time(self) -> bool:
        return self.interval is not None


@dataclass(frozen=True)
class Filter:
    op: FilterOp
    field: str
    values: tuple[str | float | bool, ...]


@dataclass(frozen=True)
class TimeRange:
    start: datetime  # inclusive, aware
    end: datetime  # exclusive


@dataclass(frozen=True)
class Compare:
    mode: CompareMode
    range: TimeRange


@dataclass(frozen=True)
class OrderBy:
    name: str  # a metric or dimension name as written in the query
    descending: bool


@dataclass(frozen=True)
class Query:
    site: str
    stream: str
    metrics: tuple[Metric, ...]
    dimensions: tuple[Dimension, ...]
    filters: tuple[Filter, ...]
    range: TimeRange
    tz: ZoneInfo
    compare: Compare | None
    order_by: tuple[OrderBy, ...]
    limit: int
    page: int
    exact: bool = False  # every bucket read (exact total_rows), never the top-N plan

    @property
    def time_dimension(self) -> Dimension | None:
        return next((d for d in self.dimensions if d.is_time), None)

    @property
    def approximate(self) -> bool:
        return any(metric.kind in APPROXIMATE for metric in self.metrics)
