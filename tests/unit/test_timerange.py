from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from metronome.errors import ApiError
from metronome.query.timerange import parse_instant, parse_tz, time_zone_names

NOW = datetime(2026, 3, 31, 10, 15, 30, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")
WARSAW = ZoneInfo("Europe/Warsaw")


def test_a_date_is_midnight_in_the_requested_zone() -> None:
    moment = parse_instant("2015-01-22", WARSAW, NOW, "from")
    assert moment.isoformat() == "2015-01-22T00:00:00+01:00"


def test_an_explicit_offset_wins_over_the_zone() -> None:
    moment = parse_instant("2015-01-22T10:00:00Z", WARSAW, NOW, "from")
    assert moment == datetime(2015, 1, 22, 10, tzinfo=UTC)


def test_epoch_milliseconds() -> None:
    assert parse_instant("1421884800000", UTC_ZONE, NOW, "to") == datetime(2015, 1, 22, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", datetime(2026, 3, 31, 10, 15, 30, tzinfo=UTC)),
        ("now-30d", datetime(2026, 3, 1, 10, 15, 30, tzinfo=UTC)),
        ("now-2h", datetime(2026, 3, 31, 8, 15, 30, tzinfo=UTC)),
        ("now-1M", datetime(2026, 2, 28, 10, 15, 30, tzinfo=UTC)),
        ("now-1y/y", datetime(2025, 1, 1, tzinfo=UTC)),
        ("now/d", datetime(2026, 3, 31, tzinfo=UTC)),
    ],
)
def test_relative_expressions(text: str, expected: datetime) -> None:
    assert parse_instant(text, UTC_ZONE, NOW, "from") == expected


def test_relative_days_keep_wall_clock_time_across_dst() -> None:
    # 2026-03-29 is Warsaw's spring-forward day: 7 calendar days back is 10:15 local as well.
    moment = parse_instant("now-7d", WARSAW, NOW, "from")
    assert moment.replace(tzinfo=None) == datetime(2026, 3, 24, 12, 15, 30)


@pytest.mark.parametrize("text", ["yesterday", "2015-13-01", "now-5q", "", "12"])
def test_bad_dates_name_the_parameter(text: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_instant(text, UTC_ZONE, NOW, "from")
    assert caught.value.status == 400
    assert caught.value.field == "from"


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "x" * 100])
def test_unknown_time_zones_are_refused(name: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_tz(name)
    assert caught.value.code == "invalid_tz"


def test_default_zone_is_utc() -> None:
    assert parse_tz(None).key == "UTC"


@pytest.mark.parametrize(
    "text", [" now", "now\n", "20150122", "2015-W04-1", "2015-01-22 13:05", "1" * 15, "\u0661" * 9]
)
def test_only_the_documented_grammar_is_read(text: str) -> None:
    # /openapi.json states the grammar (INSTANT_SCHEMA): nothing outside it is taken
    with pytest.raises(ApiError) as caught:
        parse_instant(text, UTC_ZONE, NOW, "from")
    assert (caught.value.status, caught.value.code) == (400, "invalid_date")


def test_lower_case_t_and_z_of_rfc_3339_are_read() -> None:
    moment = parse_instant("2015-01-22t10:00:00z", WARSAW, NOW, "from")
    assert moment == datetime(2015, 1, 22, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["now-999999y", "now+999999M", "0001-01-01T00:00:00+23:59", "9999-06-01"]
)
def test_instants_outside_the_calendar_are_a_422(text: str) -> None:
    # in the grammar, so not a 400; they used to escape as an OverflowError (a 500)
    with pytest.raises(ApiError) as caught:
        parse_instant(text, UTC_ZONE, NOW, "to")
    assert (caught.value.status, caught.value.code, caught.value.field) == (
        422,
        "impossible_date",
        "to",
    )


def test_an_empty_zone_is_refused_rather_than_read_as_utc() -> None:
    with pytest.raises(ApiError) as caught:
        parse_tz("")
    assert caught.value.code == "invalid_tz"


def test_every_documented_zone_is_accepted() -> None:
    assert "Europe/Warsaw" in time_zone_names()
    assert all(parse_tz(name).key == name for name in time_zone_names())


def test_zone_names_elasticsearch_refuses_are_not_offered() -> None:
    # java.time (Elasticsearch's date_histogram) knows none of these; a query naming one would
    # be refused by Elasticsearch as a whole, however it is written.
    for name in ("Factory", "localtime", "EST", "ROC"):
        assert name not in time_zone_names()
        with pytest.raises(ApiError):
            parse_tz(name)
