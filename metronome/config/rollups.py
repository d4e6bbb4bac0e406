"""``rollups:``: which pre-aggregated counts are kept per stream (hourly and daily), and how far
back late data is re-read.

    rollups:
      enabled: true             # false: no rollups are kept and every answer reads raw events
      late_window: 7d           # data arriving up to this late is still counted in the rollups
      late_windows: {github: 30d}   # per-stream override of late_window
      groups:                   # stream -> its groups; a stream named here replaces its defaults
        hits:
          - name: pages
            dimensions: [event, id, format]
          - name: shop
            dimensions: [action, origin]
            measures: [product_info.price]
        logs: []                # no rollups for this stream

A group is one breakdown kept per hour and per day: every combination of its dimensions'
values (and the site, always) with its count and, per measure, the sum, minimum, maximum and
number of values. A query is answered from a group when every field it groups or filters by
is one of the group's dimensions and every field it sums, averages or takes the minimum or
maximum of is one of its measures (``metronome.query.planner``).

The defaults hold one group per common dashboard breakdown rather than one cube of every
field: a cube's rows per hour are as many as the distinct combinations of all its fields,
which approaches the raw events themselves; a small group per breakdown stays a few rows per
hour and is what that breakdown's question needs. A dimension must hold one value per
document (a list field would count a document once per value).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from marshmallow import ValidationError, fields
from marshmallow.validate import Length, Range, Regexp

from metronome.config.alerts import duration, parse_duration
from metronome.config.declare import Each, Loader, load_section

STREAM_NAME = r"^[a-z0-9_]{1,32}\Z"
GROUP_NAME = r"^[a-z0-9_]{1,32}\Z"
FIELD_NAME = r"^[A-Za-z@_][A-Za-z0-9_.@-]{0,127}\Z"
MAX_DIMENSIONS = 8
MAX_MEASURES = 8
DEFAULT_LATE_WINDOW = 7 * 86_400.0
# Fields every rollup document has or that name its own parts: never a dimension or measure.
RESERVED = frozenset({"@timestamp", "site", "_doc_count", "rollup"})


def _not_reserved(name: str) -> None:
    if name in RESERVED or name.startswith("rollup.") or name.startswith("_"):
        raise ValidationError(
            f"{name!r} is reserved in rollup documents (the site and the time are always kept)."
        )


FIELD = Each(Regexp(FIELD_NAME, error="Not a field name."), _not_reserved)


@dataclass(frozen=True)
class RollupGroup:
    """One breakdown kept per hour and per day: its dimensions (fields grouped by, besides the
    site and time) and measures (numeric fields summed, with their minimum, maximum and
    number of values)."""

    name: Annotated[str, Regexp(GROUP_NAME, error="Use 1 to 32 lowercase letters, digits, _.")]
    dimensions: Annotated[tuple[str, ...], FIELD, Length(max=MAX_DIMENSIONS)] = ()
    measures: Annotated[tuple[str, ...], FIELD, Length(max=MAX_MEASURES)] = ()

    def check(self) -> None:
        for key, names in (("dimensions", self.dimensions), ("measures", self.measures)):
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                raise ValidationError(f"{', '.join(repeated)} named twice.", key)
        both = sorted(set(self.dimensions) & set(self.measures))
        if both:
            raise ValidationError(
                f"{', '.join(both)} cannot be a dimension and a measure.", "measures"
            )


def _group(name: str, dimensions: tuple[str, ...], measures: tuple[str, ...] = ()) -> RollupGroup:
    return RollupGroup(name=name, dimensions=dimensions, measures=measures)


# One group per breakdown the built-in dashboards and /tock ask for (see the module's text).
DEFAULT_GROUPS: Mapping[str, tuple[RollupGroup, ...]] = {
    "hits": (
        # /tock views and downloads per item and format; counts by event, id or format
        _group("items", ("event", "id", "format")),
        _group("referrers", ("event", "id", "referrer.host")),
        _group(
            "clients", ("event", "bot", "user_agent.name", "user_agent.os", "user_agent.device")
        ),
        _group("countries", ("event", "geo.country_name")),
        # Allezon user tags (stored in hits): actions by origin, device and country; revenue
        _group("allezon", ("action", "origin", "device", "country"), ("product_info.price",)),
        _group(
            "allezon_products",
            ("action", "product_info.brand_id", "product_info.category_id"),
            ("product_info.price",),
        ),
    ),
    "logs": (
        _group(
            "requests",
            ("event", "id", "format", "bot", "http.method", "http.status"),
            ("http.bytes",),
        ),
        _group("paths", ("url.path", "http.status"), ("http.bytes",)),
        _group("referrers", ("event", "referrer.host")),
        _group("clients", ("event", "bot", "user_agent.name")),
    ),
    "github": (
        _group("events", ("kind", "event", "action", "repo"), ("push.commits",)),
        _group("senders", ("kind", "event", "sender")),
        _group("states", ("kind", "event", "pull_request.state", "issue.state")),
    ),
    "s3": (
        _group(
            "requests",
            ("kind", "event", "format", "operation", "http.status", "bucket"),
            ("bytes_sent", "object_size", "total_time_ms"),
        ),
        _group("objects", ("kind", "event", "bucket", "key"), ("bytes_sent",)),
        _group("errors", ("kind", "error_code", "http.status")),
    ),
    # metric points (POST /api/v1/metrics): each metric's values per hour and day; a breakdown
    # by dimensions.<name> reads the raw points (their names are the sender's own)
    "metrics": (_group("metrics", ("metric",), ("value",)),),
}


class StreamGroups(fields.Field):
    """Stream -> its groups, over the defaults: a stream named replaces its default groups
    (``[]``: none), the others keep theirs. Errors under the stream and the group's place."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> dict[str, tuple[RollupGroup, ...]]:
        if value is None:
            return dict(DEFAULT_GROUPS)
        if not isinstance(value, Mapping):
            raise ValidationError("A mapping of stream names to their lists of groups.")
        errors: dict[str, Any] = {}
        loaded = dict(DEFAULT_GROUPS)
        for stream, entries in value.items():
            if not isinstance(stream, str) or not re.match(STREAM_NAME, stream):
                errors[str(stream)] = ["A stream name is 1 to 32 lowercase letters, digits, _."]
                continue
            listed = [] if entries is None else entries
            if not isinstance(listed, list):
                errors[stream] = ["A list of groups (name, dimensions, measures)."]
                continue
            groups, problems = _groups(listed)
            if problems:
                errors[stream] = problems
            else:
                loaded[stream] = groups
        if errors:
            raise ValidationError(errors)
        return loaded


def _groups(entries: list[Any]) -> tuple[tuple[RollupGroup, ...], dict[int, Any]]:
    groups: list[RollupGroup] = []
    problems: dict[int, Any] = {}
    for position, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            problems[position] = ["A group is a mapping: name, dimensions, measures."]
            continue
        try:
            group = load_section(RollupGroup, entry)
        except ValidationError as error:
            problems[position] = error.messages
            continue
        if any(group.name == other.name for other in groups):
            problems[position] = {"name": [f"{group.name!r} names two groups of this stream."]}
            continue
        groups.append(group)
    return tuple(groups), problems


class LateWindows(fields.Field):
    """Stream -> its late window (a duration)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ValidationError("A mapping of stream names to durations (e.g. hits: 2d).")
        errors: dict[str, Any] = {}
        windows: dict[str, float] = {}
        for stream, raw in value.items():
            if not isinstance(stream, str) or not re.match(STREAM_NAME, stream):
                errors[str(stream)] = ["A stream name is 1 to 32 lowercase letters, digits, _."]
                continue
            try:
                windows[stream] = parse_duration(raw)
            except ValueError as error:
                errors[stream] = [str(error)]
        if errors:
            raise ValidationError(errors)
        return windows


@dataclass(frozen=True)
class RollupSettings:
    """Rollups: hourly and daily pre-aggregated counts per stream, and the planner that
    answers from them."""

    enabled: bool = True
    # seconds (or 7d, 12h...): data arriving up to this late is still counted
    late_window: Annotated[float, duration()] = DEFAULT_LATE_WINDOW
    late_windows: Annotated[Mapping[str, float], Loader(LateWindows)] = field(default_factory=dict)
    groups: Annotated[Mapping[str, tuple[RollupGroup, ...]], Loader(StreamGroups)] = field(
        default_factory=lambda: dict(DEFAULT_GROUPS)
    )
    # The rollup job (metronome.rollups.job, run by the scheduler under its lease).
    # seconds between two runs: a bucket's rollup is made (and the watermark passes it) at
    # most settle + interval after the bucket ends (a minute by default)
    interval: Annotated[float, duration(), Range(min=1)] = 30.0
    # seconds a document may take from being received to being searchable: a bucket is
    # computed (and the watermark passes it) this long after it ends
    settle: Annotated[float, duration(), Range(min=0)] = 30.0
    # seconds between two sweeps comparing raw and rollup counts over the late-data window
    # (a run that sees raw documents deleted sweeps at once: the sweep is the safety net)
    sweep_interval: Annotated[float, duration(), Range(min=60)] = 86_400.0

    def late_window_of(self, stream: str) -> float:
        """Seconds of the late-data window of ``stream``."""
        return self.late_windows.get(stream, self.late_window)

    def groups_of(self, stream: str) -> tuple[RollupGroup, ...]:
        """The groups kept for ``stream`` (none: the stream has no rollups)."""
        return self.groups.get(stream, ()) if self.enabled else ()
