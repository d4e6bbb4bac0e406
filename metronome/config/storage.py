"""``storage:``: how long a span of time each index of a stream covers (its index period).

Every index is one shard, and a node refuses new shards past ``cluster.max_shards_per_node``:
a stream kept in daily indices costs 365 shards a year. A stream's period is ``day``, ``month``
or ``year``; a document goes to the index of its own ``@timestamp`` (UTC) at its stream's
period (``<prefix>-<stream>-YYYY.MM.DD``, ``-YYYY.MM`` or ``-YYYY``). The defaults give ten
years of every built-in stream fewer than 300 shards; a busy stream is better kept daily, with
retention bounding how many days are kept. ``metronome es migrate-layout`` moves the indices
written under another period into the configured one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Annotated, Any, Literal, get_args

from marshmallow import ValidationError, fields
from marshmallow.validate import OneOf, Range, Regexp

from metronome.config.declare import Loader

Period = Literal["day", "month", "year"]
PERIODS: tuple[Period, ...] = get_args(Period)
STREAM_NAME = r"^[a-z0-9_]{1,32}\Z"

# By volume: page views and server logs are the busiest streams, yet a month of them fits one
# shard for all but very busy sites; the scheduled sources and webhooks add a few documents a
# day (and back-fill years at once), so a year each.
DEFAULT_PERIODS: Mapping[str, Period] = MappingProxyType(
    {
        "hits": "month",
        "logs": "month",
        "github": "year",
        "s3": "year",
        "ga4": "year",
        "prometheus": "year",
        "http_json": "year",
        "metrics": "year",
    }
)


def _periods(**options: Any) -> fields.Field:
    return fields.Dict(
        keys=fields.String(validate=Regexp(STREAM_NAME, error="Not a stream name.")),
        values=fields.String(validate=OneOf(PERIODS)),
        **options,
    )


@dataclass(frozen=True)
class StorageSettings:
    """Index periods: ``index_periods`` names a stream's own (merged over the defaults),
    ``default_period`` is every other stream's."""

    index_periods: Annotated[Mapping[str, Period], Loader(_periods)] = field(
        default_factory=lambda: DEFAULT_PERIODS
    )
    default_period: Period = "month"
    # ``metronome doctor`` and /readyz warn once this share of the cluster's shard limit is used
    shard_warn_ratio: Annotated[float, Range(min=0.1, max=1.0)] = 0.8

    def __post_init__(self) -> None:
        # A stream left out keeps its default: the setting adds to DEFAULT_PERIODS.
        merged = {**DEFAULT_PERIODS, **self.index_periods}
        object.__setattr__(self, "index_periods", MappingProxyType(merged))

    def period_of(self, stream: str) -> Period:
        return self.index_periods.get(stream, self.default_period)

    def check(self) -> None:
        for stream, period in self.index_periods.items():
            if period not in PERIODS:  # only reachable when built by hand
                raise ValidationError(f"{stream}: use one of {', '.join(PERIODS)}.")
