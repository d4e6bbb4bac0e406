"""Index periods: naming, what a read names, the shard budget and the layout estimate."""

from __future__ import annotations

import fnmatch
import random
from datetime import UTC, date, datetime, timedelta

import pytest

from metronome.config import (
    ConfigError,
    Period,
    RollupSettings,
    StorageSettings,
    settings_from_mapping,
)
from metronome.es.doctor import Check, exit_code
from metronome.es.layout import TARGET_SHARDS, indices_over, layout_estimate, rollup_streams
from metronome.es.migrate import plan_moves
from metronome.es.naming import (
    MAX_NAMED_CHARS,
    PERIODS,
    day_label_in,
    index_for,
    index_for_day,
    indices_for_range,
    parse_index,
)
from metronome.es.shards import ShardBudget, budget_from, max_shards_per_node, shard_limit_refusal
from metronome.query.rollup_schema import GRAINS

MOMENT = datetime(2026, 3, 9, 23, 30, tzinfo=UTC)

# A bulk item's error as Elasticsearch answers it when the index cannot be created.
REFUSED = {
    "type": "validation_exception",
    "reason": "Validation Failed: 1: this action would add [1] shards, but this cluster "
    "currently has [12]/[12] maximum normal shards open;",
}


def test_each_period_names_its_index_from_the_utc_time() -> None:
    assert [index_for("m", "hits", MOMENT, period) for period in PERIODS] == [
        "m-hits-2026.03.09",
        "m-hits-2026.03",
        "m-hits-2026",
    ]
    assert index_for("m", "hits", MOMENT) == "m-hits-2026.03.09"  # the layout before periods


@pytest.mark.parametrize("period", PERIODS)
def test_a_spooled_day_label_names_the_same_index_as_the_timestamp(period: Period) -> None:
    assert index_for("m", "s", MOMENT, period).endswith(day_label_in("2026.03.09", period))
    assert index_for_day("m", "s", "2026.03.09", period) == index_for("m", "s", MOMENT, period)


def test_an_index_name_gives_its_period_and_span() -> None:
    day = parse_index("m", "hits", "m-hits-2024.02.29")
    month = parse_index("m", "hits", "m-hits-2024.12")
    year = parse_index("m", "hits", "m-hits-2024")
    assert day is not None and (day.period, day.start.date(), day.end.date()) == (
        "day",
        date(2024, 2, 29),
        date(2024, 3, 1),
    )
    assert month is not None and (month.period, month.end.date()) == ("month", date(2025, 1, 1))
    assert year is not None and (year.first_day, year.last_day) == (
        date(2024, 1, 1),
        date(2024, 12, 31),
    )
    for other in ("m-hits-2024.13", "m-hits-2024.02.30", "m-logs-2024", "m-hits-2024.1", "m-hits"):
        assert parse_index("m", "hits", other) is None


def test_a_range_of_centuries_reads_the_stream_wildcard_within_a_request_line() -> None:
    start, end = datetime(84, 2, 22, tzinfo=UTC), datetime(2376, 11, 30, tzinfo=UTC)
    assert indices_for_range("m", "hits", start, end) == "m-hits-*"
    decade = indices_for_range("m", "hits", datetime(2016, 3, 5, tzinfo=UTC), start.replace(2026))
    assert decade.startswith("m-hits-2016,") and len(decade) < MAX_NAMED_CHARS


def test_a_read_names_every_index_of_any_period_that_holds_part_of_its_range() -> None:
    rng = random.Random(20)
    base = datetime(2023, 11, 1, tzinfo=UTC)
    for _ in range(300):
        start = base + timedelta(hours=rng.randrange(0, 24 * 500))
        end = start + timedelta(hours=rng.randrange(1, 24 * 400))
        names = indices_for_range("m", "hits", start, end).split(",")
        if names == ["m-hits-*"]:
            continue

        def named(index: str, names: list[str] = names) -> bool:
            return any(fnmatch.fnmatchcase(index, name) for name in names)

        moment = start
        while moment < end:  # every index a document of the range can be in is named
            for period in PERIODS:
                assert named(index_for("m", "hits", moment, period)), (start, end, period)
            moment += timedelta(hours=6)
        last = end - timedelta(milliseconds=1)
        for outside in (start - timedelta(days=1), last + timedelta(days=1)):  # days outside
            assert not named(index_for("m", "hits", outside, "day")), (start, end, outside)
        assert not named("m-logs-2024") and not named("m-rollup.day.hits-2024")


def test_storage_settings_merge_over_the_defaults() -> None:
    settings = settings_from_mapping({"storage": {"index_periods": {"hits": "day"}}})
    assert settings.storage.period_of("hits") == "day"
    assert settings.storage.period_of("github") == "year"  # the default, kept
    assert settings.storage.period_of("my_stream") == "month"  # default_period
    with pytest.raises(ConfigError, match="index_periods"):
        settings_from_mapping({"storage": {"index_periods": {"hits": "week"}}})
    with pytest.raises(ConfigError, match="index_periods"):
        settings_from_mapping({"storage": {"index_periods": {"Hits!": "day"}}})


def test_ten_years_of_the_default_layout_stay_under_the_target() -> None:
    estimate = layout_estimate(StorageSettings(), single=7)
    assert estimate.within_target and estimate.total < TARGET_SHARDS
    daily = StorageSettings(index_periods=dict.fromkeys(("hits", "github"), "day"))
    assert layout_estimate(daily, streams=("hits", "github")).total == 2 * 3652
    assert (indices_over("month", 10), indices_over("year", 10)) == (120, 10)


def test_rollups_are_counted_beside_the_raw_target() -> None:
    streams = rollup_streams(RollupSettings())
    assert "hits" in streams and "ga4" not in streams  # ga4 has no default groups
    estimate = layout_estimate(StorageSettings(), single=7, rollup_streams=streams)
    assert estimate.rollups == len(streams) * len(GRAINS) * 10
    assert estimate.lines()[-1].endswith(f"{estimate.total + estimate.rollups} in all")
    assert rollup_streams(RollupSettings(enabled=False)) == ()


def test_a_refusal_for_want_of_shards_is_told_as_exactly_that() -> None:
    refusal = shard_limit_refusal(REFUSED, "m-github-2016")
    assert refusal is not None
    assert (refusal.adding, refusal.open, refusal.limit) == (1, 12, 12)
    message = refusal.message()
    assert "m-github-2016" in message and "[12]/[12] maximum normal shards open" in message
    assert "cluster.max_shards_per_node" in message and "Nothing is lost" in message
    nested = {"type": "x", "reason": "failed", "caused_by": REFUSED}
    assert shard_limit_refusal(nested, "i") is not None
    mapping_conflict = {"type": "document_parsing_exception", "reason": "failed to parse [n]"}
    assert shard_limit_refusal(mapping_conflict, "i") is None


def test_the_budget_warns_long_before_the_limit() -> None:
    settings = {"defaults": {"cluster.max_shards_per_node": "1000"}}
    assert max_shards_per_node(settings) == 1000
    assert (
        max_shards_per_node({**settings, "persistent": {"cluster.max_shards_per_node": "50"}}) == 50
    )
    assert max_shards_per_node({"transient": {"cluster.max_shards_per_node": "9"}, **settings}) == 9
    assert max_shards_per_node({"persistent": {"cluster": {"max_shards_per_node": "7"}}}) == 7
    assert max_shards_per_node({}) == 1000
    health = {"active_shards": 790, "unassigned_shards": 10, "number_of_data_nodes": 1}
    budget = budget_from(health, settings)
    assert (budget.used, budget.limit, budget.status) == (800, 1000, "WARN")
    assert ShardBudget(used=799, per_node=1000, data_nodes=1).status == "OK"
    assert ShardBudget(used=1000, per_node=500, data_nodes=2).status == "FAIL"
    assert "1000 of 1000 shards" in ShardBudget(used=1000, per_node=500, data_nodes=2).describe()


def test_only_indices_at_another_period_than_their_streams_are_moved() -> None:
    spans = {
        stream: [span for name in names if (span := parse_index("m", stream, name)) is not None]
        for stream, names in {
            "github": ["m-github-2016.03.02", "m-github-2016", "m-github-2016.03.01"],
            "hits": ["m-hits-2026.01", "m-hits-2026.02.01"],
        }.items()
    }
    moves = plan_moves(spans, StorageSettings())
    assert [(m.source.name, m.period) for m in moves] == [
        ("m-github-2016.03.01", "year"),
        ("m-github-2016.03.02", "year"),
        ("m-hits-2026.02.01", "month"),
    ]
    assert [m.source.name for m in plan_moves(spans, StorageSettings(), ["hits"])] == [
        "m-hits-2026.02.01"
    ]


def test_the_doctors_exit_code_is_the_worst_check() -> None:
    assert exit_code([Check("a", "OK", "")]) == 0
    assert exit_code([Check("a", "OK", ""), Check("b", "WARN", "")]) == 1
    assert exit_code([Check("a", "FAIL", ""), Check("b", "WARN", "")]) == 2
