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
    "count", "visitors", "sessions", "sum", "avg", "min", "max", "p50", "p95", "p99", "distinct"
]
FIELD_METRICS = frozenset({"sum", "avg", "min", "max", "p50", "p95", "p99"})
PERCENTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0}
# Cardinality (HyperLogLog++) and percentiles (t-digest) are estimates in Elasticsearch.
# "distinct" (a distinct count of any field, as SQL's COUNT(DISTINCT x)) is a cardinality too.
APPROXIMATE = frozenset({"visitors", "sessions", "p50", "p95", "p99", "distinct"})
# is, is_not, contains, matches: the query API's operators. The others come from SQL: like and
# ilike (values are wildcard patterns, ``*`` and ``?``, ``\\`` escaping; ilike ignores case),
# lt/lte/gt/gte (one number, or one ISO instant on a date field), exists (no values), and the
# compound all/any/not, whose conditions are their ``children`` (their ``field`` is empty and
# they have no values).
FilterOp = Literal[
    "is", "is_not", "contains", "matches", "like", "ilike", "lt", "lte", "gt", "gte",
    "exists", "all", "any", "not",
]  # fmt: skip
COMPOUND_OPS = frozenset({"all", "any", "not"})
RANGE_OPS = frozenset({"lt", "lte", "gt", "gte"})
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
    children: tuple[Filter, ...] = ()  # the conditions of all, any and not

    @property
    def fields(self) -> frozenset[str]:
        """Every field this condition reads, its children's included."""
        if self.op in COMPOUND_OPS:
            return frozenset().union(*(child.fields for child in self.children))
        return frozenset({self.field})


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

    @property
    def filter_fields(self) -> frozenset[str]:
        """Every field the filters read (inside compound conditions too)."""
        return frozenset().union(*(item.fields for item in self.filters))
