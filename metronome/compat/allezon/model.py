"""The two queries as typed values, between parsing (``parse``) and building (``builder``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

AGGREGATES = {"COUNT": "count", "SUM_PRICE": "sum_price"}  # the name asked -> its column
# Filters in the order of their columns, and the field each one matches.
FILTERS = {
    "origin": "origin",
    "brand_id": "product_info.brand_id",
    "category_id": "product_info.category_id",
}
DEFAULT_LIMIT = 200
MAX_LIMIT = 10_000  # Elasticsearch's index.max_result_window
MAX_AGGREGATE_RANGE = timedelta(minutes=10)
MINUTE = timedelta(minutes=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ProfileQuery:
    cookie: str
    start: datetime
    end: datetime
    limit: int


@dataclass(frozen=True)
class AggregatesQuery:
    start: datetime
    end: datetime
    action: str
    filters: tuple[tuple[str, str], ...]  # (name, value) in the order of FILTERS
    aggregates: tuple[str, ...]  # COUNT / SUM_PRICE, in query order

    @property
    def columns(self) -> list[str]:
        return [
            "1m_bucket",
            "action",
            *(name for name, _ in self.filters),
            *(AGGREGATES[name] for name in self.aggregates),
        ]


def millis(moment: datetime) -> int:
    """Milliseconds since 1970: the range bounds sent and the histogram's bucket keys."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)
