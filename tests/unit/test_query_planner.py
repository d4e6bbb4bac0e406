"""The query planner's choices (pure): which group, which pieces of the range from which grain."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from metronome.config import RollupGroup
from metronome.query.calendar import UTC_NAMES, is_utc, iter_buckets
from metronome.query.model import Compare, Dimension, Filter, Metric, Query, TimeRange
from metronome.query.planner import (
    SERVES,
    Piece,
    Plan,
    aligned,
    choose_group,
    finish,
    merge,
    piece_body,
    plan_range,
    source_of,
)
from metronome.query.rollup_schema import Grain, Watermark, group_signature, is_aligned

SMALL = RollupGroup(name="small", dimensions=("event",))
LARGE = RollupGroup(name="large", dimensions=("event", "id", "format"), measures=("price",))
GROUPS = (LARGE, SMALL)


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


FIRST, LAST = at(1), at(8)


def make(
    *,
    metrics: tuple[str, ...] = ("count",),
    dimensions: tuple[str, ...] = (),
    filters: tuple[tuple[str, str], ...] = (),
    tz: str = "UTC",
    start: datetime = FIRST,
    end: datetime = LAST,
) -> Query:
    def metric(text: str) -> Metric:
        kind, _, field = text.partition(":")
        return Metric(kind=kind, field=field or None)  # type: ignore[arg-type]

    def dimension(text: str) -> Dimension:
        return Dimension(interval=text[5:]) if text.startswith("time:") else Dimension(field=text)  # type: ignore[arg-type]

    return Query(
        site="shop",
        stream="hits",
        metrics=tuple(metric(m) for m in metrics),
        dimensions=tuple(dimension(d) for d in dimensions),
        filters=tuple(Filter(op=op, field=field, values=("x",)) for op, field in filters),  # type: ignore[arg-type]
        range=TimeRange(start, end),
        tz=ZoneInfo(tz),
        compare=None,
        order_by=(),
        limit=100,
        page=1,
        exact=True,
    )


def marks(
    day: datetime | None, hour: datetime | None, group: RollupGroup = LARGE, **extra: Any
) -> dict[Grain, Watermark]:
    found: dict[Grain, Watermark] = {}
    ends: tuple[tuple[Grain, datetime | None], ...] = (("day", day), ("hour", hour))
    for grain, through in ends:
        if through is not None:
            found[grain] = Watermark(
                "hits", grain, through, groups={group.name: group_signature(group)}, **extra
            )
    return found


def pieces(plan: Plan) -> list[tuple[str, str, str | None]]:
    return [(p.start.isoformat()[5:16], p.end.isoformat()[5:16], p.grain) for p in plan.pieces]


def test_the_smallest_group_holding_every_field_answers() -> None:
    assert choose_group(make(dimensions=("event",)), GROUPS) == SMALL
    assert choose_group(make(filters=(("is", "format"),)), GROUPS) == LARGE
    assert (
        choose_group(make(metrics=("count", "avg:price"), dimensions=("time:day",)), GROUPS)
        == LARGE
    )
    assert choose_group(make(filters=(("is_not", "site"),)), GROUPS) == SMALL  # always kept


def test_unique_counts_percentiles_and_fields_outside_every_group_read_raw_events() -> None:
    assert choose_group(make(metrics=("count", "visitors")), GROUPS) is None
    assert choose_group(make(metrics=("p95:price",)), GROUPS) is None
    assert choose_group(make(metrics=("sum:other",)), GROUPS) is None
    assert choose_group(make(dimensions=("referrer.host",)), GROUPS) is None
    assert choose_group(make(filters=(("contains", "id"), ("is", "bot"))), GROUPS) is None


def test_the_fields_inside_compound_sql_conditions_must_be_dimensions_too() -> None:
    def either(*fields: str) -> Query:
        children = tuple(Filter(op="is", field=f, values=("x",)) for f in fields)
        return replace(make(), filters=(Filter(op="any", field="", values=(), children=children),))

    assert choose_group(either("event"), GROUPS) == SMALL
    assert choose_group(either("event", "format"), GROUPS) == LARGE
    assert choose_group(either("event", "referrer.host"), GROUPS) is None
    assert choose_group(make(metrics=("count", "distinct:id")), GROUPS) is None


def test_whole_utc_days_come_from_daily_rollups_whole_hours_from_hourly_and_the_rest_raw() -> None:
    query = make(dimensions=("time:day",), start=at(1, 10, 15), end=at(5, 17, 45))
    plan = plan_range(query, query.range, LARGE, marks(day=at(4), hour=at(5, 7)))
    assert pieces(plan) == [
        ("11-01T10:15", "11-01T11:00", None),
        ("11-01T11:00", "11-02T00:00", "hour"),
        ("11-02T00:00", "11-04T00:00", "day"),
        ("11-04T00:00", "11-05T07:00", "hour"),
        ("11-05T07:00", "11-05T17:45", None),
    ]
    assert source_of([plan]) == "rollup+raw"
    whole = make(dimensions=("time:week",), start=at(2), end=at(4))
    assert source_of([plan_range(whole, whole.range, LARGE, marks(at(4), at(5)))]) == "rollup"


def test_hourly_rollups_serve_a_zone_with_whole_hour_offsets_across_its_dst_change() -> None:
    # New York falls back on 2026-11-01: its days start at 04:00Z, then 05:00Z.
    query = make(dimensions=("time:day",), tz="America/New_York", start=at(1, 4), end=at(4, 5))
    plan = plan_range(query, query.range, LARGE, marks(day=at(4), hour=at(5)))
    assert pieces(plan) == [("11-01T04:00", "11-04T05:00", "hour")]
    hours = replace(query, dimensions=(Dimension(interval="hour"),))
    assert source_of([plan_range(hours, hours.range, LARGE, marks(at(4), at(5)))]) == "rollup"


def test_a_half_hour_zone_is_served_only_without_time_buckets() -> None:
    query = make(dimensions=("time:day",), tz="Asia/Kolkata", start=at(1), end=at(4))
    assert source_of([plan_range(query, query.range, LARGE, marks(at(4), at(5)))]) == "raw"
    totals = replace(query, dimensions=(Dimension(field="event"),))
    assert source_of([plan_range(totals, totals.range, LARGE, marks(at(4), at(5)))]) == "rollup"


def test_minutes_read_raw_events_and_hours_never_come_from_daily_rollups() -> None:
    minutes = make(dimensions=("time:minute",), start=at(1), end=at(2))
    assert source_of([plan_range(minutes, minutes.range, LARGE, marks(at(4), at(5)))]) == "raw"
    hours = make(dimensions=("time:hour",), start=at(1), end=at(3))
    assert pieces(plan_range(hours, hours.range, LARGE, marks(at(4), None))) == [
        ("11-01T00:00", "11-03T00:00", None)
    ]


def test_rollups_of_another_group_definition_or_before_they_begin_are_not_used() -> None:
    query = make(start=at(1), end=at(3))
    other = replace(LARGE, dimensions=("event", "id"))
    assert source_of([plan_range(query, query.range, LARGE, marks(at(4), at(5), other))]) == "raw"
    late_start = marks(None, at(5), complete_from=at(2, 3))
    assert pieces(plan_range(query, query.range, LARGE, late_start)) == [
        ("11-01T00:00", "11-02T03:00", None),
        ("11-02T03:00", "11-03T00:00", "hour"),
    ]


def test_pieces_add_up_and_an_average_is_the_sum_over_all_values() -> None:
    metrics = make(metrics=("count", "sum:price", "min:price", "max:price", "avg:price")).metrics
    one = [2, 3.5, 1.0, 2.5, (3.5, 2)]
    other = [1, 0.0, None, None, (0.0, 0)]
    merged = merge(metrics, one, other)
    assert merged == [3, 3.5, 1.0, 2.5, (3.5, 2)]
    assert finish(metrics, merge(metrics, merged, [1, 2.5, 0.5, 9.0, (2.5, 1)])) == [
        4, 6, 0.5, 9, 2
    ]  # fmt: skip
    assert finish(metrics, other) == [1, 0, None, None, None]


def test_a_rollup_piece_is_the_raw_search_with_the_group_named_and_measures_read() -> None:
    query = make(metrics=("count", "avg:price"), dimensions=("event",), filters=(("is", "id"),))
    time_range = TimeRange(at(1), at(2))
    raw = piece_body(query, time_range, None)
    rolled = piece_body(query, time_range, LARGE)
    assert rolled["aggs"]["rows"]["composite"] == raw["aggs"]["rows"]["composite"]
    assert rolled["query"]["bool"]["filter"][-1] == {"term": {"rollup.group": "large"}}
    assert raw["query"]["bool"]["filter"][-1] == {"terms": {"id": ["x"]}}
    assert rolled["aggs"]["rows"]["aggs"] == {
        "v1": {"sum": {"field": "rollup.sum.price"}},
        "n1": {"sum": {"field": "rollup.count.price"}},
    }
    assert raw["aggs"]["rows"]["aggs"]["n1"] == {"value_count": {"field": "price"}}


def test_a_comparison_range_is_planned_on_its_own() -> None:
    query = make(start=at(4), end=at(6))
    compared = replace(query, compare=Compare(mode="previous", range=TimeRange(at(2), at(4))))
    assert compared.compare is not None
    watermarks = marks(None, at(5))
    main = plan_range(compared, compared.range, LARGE, watermarks)
    before = plan_range(compared, compared.compare.range, LARGE, watermarks)
    assert pieces(before) == [("11-02T00:00", "11-04T00:00", "hour")]
    assert source_of([main, before]) == "rollup+raw"
    assert Piece(at(1), at(2)).grain is None


def test_the_names_taken_for_utc_are_utc_all_year_and_agree_with_each_bucket() -> None:
    for name in UTC_NAMES:
        zone = ZoneInfo(name)
        assert is_utc(zone)
        for month in range(1, 13):
            assert zone.utcoffset(datetime(2026, month, 15)) == timedelta(0), name
    assert not is_utc(ZoneInfo("Europe/London"))  # UTC in winter only
    rng = random.Random(5)
    for _ in range(200):
        start = at(1) + timedelta(hours=rng.randrange(0, 24 * 30))
        piece = Piece(start, start + timedelta(hours=rng.randrange(1, 24 * 60)), None)
        for grain in ("hour", "day"):
            for interval in ("hour", "day", "week", "month", "quarter", "year"):
                query = make(dimensions=(f"time:{interval}",), tz="Etc/UTC")
                each = all(
                    bucket <= piece.start or is_aligned(bucket, grain)
                    for bucket in iter_buckets(piece.start, piece.end, interval, query.tz)
                )
                assert aligned(grain, interval, query, piece) == (
                    each and interval in SERVES[grain]
                )
