"""The rollup job's bucket arithmetic and its choice of work (metronome.rollups.buckets, .plan,
and the state document's round trip)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from metronome.config.rollups import RollupSettings
from metronome.rollups.backfill import Progress, chunks, format_seconds
from metronome.rollups.buckets import (
    Grain,
    buckets,
    ceil,
    clip,
    floor,
    merge,
    spans_of,
    subtract,
    union,
    window_start,
)
from metronome.rollups.detect import changed_shards
from metronome.rollups.plan import (
    changed_work,
    closing,
    differing,
    merged,
    split_window,
    sweep_due,
    sweep_work,
    watermark,
)
from metronome.rollups.state import (
    GroupState,
    Pending,
    ShardMark,
    StreamState,
    from_document,
    to_document,
)
from metronome.rollups.status import behind, status_lines
from metronome.rollups.store import stream_plans


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def test_floor_and_ceil_are_utc_bucket_edges() -> None:
    moment = datetime(2026, 11, 1, 1, 30, tzinfo=UTC)
    assert floor(moment, "hour") == at(1, 1)
    assert floor(moment, "day") == at(1)
    assert ceil(moment, "hour") == at(1, 2)
    assert ceil(at(1, 2), "hour") == at(1, 2)
    with pytest.raises(ValueError, match="timezone-aware"):
        floor(datetime(2026, 11, 1), "hour")


def test_the_window_starts_on_the_utc_day_its_length_reaches_back_to() -> None:
    assert window_start(at(8, 13, 5), timedelta(days=7)) == at(1)


def test_bucket_starts_merge_into_the_fewest_ranges() -> None:
    hours = [at(1, 3), at(1, 1), at(1, 2), at(1, 2), at(1, 7)]
    assert merge(hours, "hour") == [(at(1, 1), at(1, 4)), (at(1, 7), at(1, 8))]
    assert spans_of(hours, "day") == [(at(1), at(2))]
    assert buckets((at(1, 22), at(2, 1)), "hour") == [at(1, 22), at(1, 23), at(2, 0)]


def test_range_algebra() -> None:
    assert union([(at(3), at(4)), (at(1), at(2)), (at(2), at(3))]) == [(at(1), at(4))]
    assert clip([(at(1), at(5))], at(2), at(3)) == [(at(2), at(3))]
    assert clip([(at(1), at(2))], at(2), at(3)) == []
    assert subtract([(at(1), at(5))], (at(2), at(3))) == [(at(1), at(2)), (at(3), at(5))]
    assert subtract([(at(1), at(2))], (at(1), at(3))) == []


def test_only_ended_buckets_are_closed_and_nothing_twice() -> None:
    since: dict[Grain, datetime] = {"hour": at(1, 10), "day": at(1)}
    until: dict[Grain, datetime] = {"hour": at(1, 12), "day": at(1)}  # the day has not ended
    assert closing(["g"], since, until) == [Pending("g", "hour", at(1, 10), at(1, 12))]
    assert closing(["g"], until, until) == []


def test_changed_documents_recompute_their_ended_buckets_only() -> None:
    closed: dict[Grain, datetime] = {"hour": at(5, 10), "day": at(5)}
    hours = [at(4, 23), at(5, 9), at(5, 10), at(5, 11)]  # 10:00 and 11:00 are still open
    work = changed_work(["g"], hours, closed)
    assert work == [
        Pending("g", "hour", at(4, 23), at(5, 0)),
        Pending("g", "hour", at(5, 9), at(5, 10)),
        Pending("g", "day", at(4), at(5)),
    ]


def test_changed_hours_before_the_window_are_kept_apart() -> None:
    inside, before = split_window([at(1, 5), at(1, 6), at(3, 1)], at(2))
    assert inside == [at(3, 1)]
    assert before == [(at(1, 5), at(1, 7))]


def test_the_sweep_recomputes_the_buckets_whose_counts_differ() -> None:
    raw = {at(2, 1): 3, at(2, 2): 1, at(3, 4): 2}
    rolled: dict[Grain, dict[datetime, int]] = {
        "hour": {at(2, 1): 3, at(2, 2): 0, at(2, 9): 5},
        "day": {at(2): 9},
    }
    # day 3 is not computed yet: not compared
    end: dict[Grain, datetime] = {"hour": at(4), "day": at(3)}
    work = sweep_work("g", raw, rolled, at(1), end)
    assert work == [
        Pending("g", "hour", at(2, 2), at(2, 3)),
        Pending("g", "hour", at(2, 9), at(2, 10)),
        Pending("g", "hour", at(3, 4), at(3, 5)),
        Pending("g", "day", at(2), at(3)),
    ]
    assert differing({at(2): 1}, {at(2): 1}, "day", at(1), at(9)) == []


def test_work_is_merged_per_group_and_grain_hours_before_days() -> None:
    work = [
        Pending("b", "hour", at(1, 1), at(1, 2)),
        Pending("a", "hour", at(1, 2), at(1, 3)),
        Pending("a", "hour", at(1, 1), at(1, 2)),
        Pending("a", "day", at(1), at(2)),
    ]
    assert merged(work) == (  # a group's days are summed from its hours: those come first
        Pending("a", "hour", at(1, 1), at(1, 3)),
        Pending("a", "day", at(1), at(2)),
        Pending("b", "hour", at(1, 1), at(1, 2)),
    )


def test_the_watermark_stops_at_the_frontier_and_before_stale_ranges() -> None:
    frontier = at(8, 13, 40)
    assert watermark(frontier, "hour", []) == at(8, 13)
    assert watermark(frontier, "day", []) == at(8)
    assert watermark(frontier, "hour", [(at(3, 5), at(3, 6))]) == at(3, 5)
    assert watermark(frontier, "day", [(at(3, 5), at(3, 6))]) == at(3)


def test_the_sweep_is_due_after_its_interval() -> None:
    assert sweep_due(None, at(1), 3600)
    assert not sweep_due(at(1, 0), at(1, 0, 59), 3600)
    assert sweep_due(at(1, 0), at(1, 1), 3600)


def test_the_state_document_round_trips() -> None:
    state = StreamState(
        stream="hits",
        checkpoint=at(8, 13, 5),
        last_sweep=at(8, 13),
        complete_from=at(1),
        pending=(Pending("items", "day", at(2), at(3)),),
        stale=((at(1, 1), at(1, 2)),),
        groups={"items": GroupState("abc", at(1))},
        closed={"hour": at(8, 13), "day": at(8)},
        seen={"x-hits-2026.11.08/0": ShardMark("uuid", 41)},
        last_run={"ranges": 2},
    )
    back = from_document("hits", to_document(state), (4, 1))
    assert back == StreamState(**{**state.__dict__, "version": (4, 1)})
    assert from_document("hits", {}, None) == StreamState(stream="hits")


def test_changed_shards_are_those_whose_checkpoint_moved_or_whose_index_is_new() -> None:
    before = {"x-hits-1/0": ShardMark("u1", 10), "x-hits-2/0": ShardMark("u2", 5)}
    now = {
        "x-hits-1/0": ShardMark("u1", 12),  # two writes since
        "x-hits-2/0": ShardMark("u2", 5),  # none
        "x-hits-3/0": ShardMark("u3", 0),  # new: from the start
    }
    assert changed_shards(before, now) == {"x-hits-1/0": (10, 12), "x-hits-3/0": (-1, 0)}
    remade = {"x-hits-1/0": ShardMark("u9", 3)}  # deleted and made again
    assert changed_shards(before, remade) == {"x-hits-1/0": (-1, 3)}


def test_progress_says_days_done_what_was_written_rate_and_time_left() -> None:
    progress = Progress("hits", total=10, done=4, written=1200)
    progress.through = datetime(2026, 3, 4, tzinfo=UTC)
    progress.started -= 2.0  # two seconds in: 2 days/s, 3 s to go
    line = progress.line()
    assert line.startswith(
        "hits: 4/10 days (through 2026-03-04), 40 %, 1,200 rollup documents written, "
        "2.0 days/s, elapsed 0:00:02, about 0:00:03 left"
    )
    assert format_seconds(3725) == "1:02:05"


def test_back_fill_days_go_in_runs_of_consecutive_days() -> None:
    day = datetime(2026, 3, 1, tzinfo=UTC)
    days = [day + timedelta(days=n) for n in (0, 1, 2, 5, 6, 7, 8, 9, 10, 11, 12, 20)]
    assert chunks(days, 7) == [
        (day, day + timedelta(days=2)),
        (day + timedelta(days=5), day + timedelta(days=11)),
        (day + timedelta(days=12), day + timedelta(days=12)),
        (day + timedelta(days=20), day + timedelta(days=20)),
    ]
    assert chunks([], 7) == []


def test_status_says_how_far_behind_the_ended_buckets_are() -> None:
    hour = datetime(2026, 3, 4, 13, tzinfo=UTC)
    assert behind(hour, hour + timedelta(minutes=59), 30, "hour") == 0  # 13:00 not ended
    assert behind(hour, hour + timedelta(hours=1, seconds=20), 30, "hour") == 0  # settling
    assert behind(hour, hour + timedelta(hours=1, seconds=75), 30, "hour") == 45
    assert behind(hour, hour + timedelta(hours=3, seconds=30), 30, "hour") == 7200
    assert behind(None, hour, 30, "hour") is None
    stream = {
        "stream": "hits",
        "late_window_seconds": 7 * 86400.0,
        "groups": ["items"],
        "grains": [
            {"grain": "hour", "complete_from": hour.isoformat(),
             "complete_through": hour.isoformat(), "documents": 1234, "behind_seconds": 7200},
        ],
        "last_run": {"at": hour.isoformat(), "ranges": 2, "written": 5, "deleted": 0,
                     "seconds": 0.4},
        "last_sweep": None,
        "pending": 0,
        "stale": [],
        "backfill": None,
    }  # fmt: skip
    lines = status_lines([stream], hour + timedelta(minutes=5))
    assert "hits       hour   2026-03-04 13:00  2026-03-04 13:00       1,234  2h behind" in lines
    assert lines[-1] == (
        "hits: 1 group, late-data window 7d; last run 5m ago (13:00:00): 2 ranges recomputed, "
        "5 documents written, 0 deleted in 0.4s; last sweep never"
    )


def test_the_late_window_stops_where_retention_deletes_raw_indices() -> None:
    settings = RollupSettings(late_window=7 * 86_400.0)
    plans = {plan.stream: plan for plan in stream_plans(settings, {"hits": 3, "s3": 30}, 400)}
    assert plans["hits"].late_window == timedelta(days=3)
    assert plans["hits"].rollups_kept == timedelta(days=400)
    assert plans["s3"].late_window == timedelta(days=7)
    assert plans["logs"].late_window == timedelta(days=7)
