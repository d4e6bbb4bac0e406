"""Which indices are past their retention limit (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from metronome.config import RetentionSettings, settings_from_mapping
from metronome.es.naming import IndexSpan, parse_index
from metronome.retention.plan import cutoff, past_limit, rollup_span

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def spans(stream: str, *labels: str) -> list[IndexSpan]:
    found = [parse_index("m", stream, f"m-{stream}-{label}") for label in labels]
    return [span for span in found if span is not None]


def test_an_index_goes_once_everything_it_can_hold_is_older_than_the_limit() -> None:
    assert cutoff(NOW, 10) == datetime(2026, 11, 27, tzinfo=UTC)
    raw = {
        "hits": spans("hits", "2026.11.26", "2026.11.27", "2026.10", "2026.11", "2025", "2026"),
        "logs": spans("logs", "2020"),
    }
    going = past_limit(raw, [], RetentionSettings(raw_days={"hits": 10}), NOW)
    assert [c.index for c in going] == ["m-hits-2025", "m-hits-2026.10", "m-hits-2026.11.26"]
    assert (going[0].first_day.isoformat(), going[0].last_day.isoformat()) == (
        "2025-01-01",
        "2025-12-31",
    )
    assert past_limit(raw, [], RetentionSettings(), NOW) == []  # nothing configured: nothing


def test_rollup_indices_go_by_their_year() -> None:
    rollups = [
        found
        for name in ("m-rollup.day.hits-2024", "m-rollup.hour.github-2026", "m-rollup.week.x-2020")
        if (found := rollup_span("m", name)) is not None
    ]
    assert [(stream, span.name) for stream, span in rollups] == [
        ("hits", "m-rollup.day.hits-2024"),
        ("github", "m-rollup.hour.github-2026"),
    ]
    going = past_limit({}, rollups, RetentionSettings(rollup_days=365), NOW)
    assert [(c.index, c.kind) for c in going] == [("m-rollup.day.hits-2024", "rollup")]
    assert (
        rollup_span("m", "m-hits-2024") is None
        and rollup_span("m", "other-rollup.day.a-2024") is None
    )


def test_retention_settings_are_checked() -> None:
    settings = settings_from_mapping(
        {"retention": {"raw_days": {"hits": 400}, "rollup_days": 3650}}
    )
    assert settings.retention.configured and settings.retention.raw_days["hits"] == 400
    assert not settings_from_mapping({}).retention.configured
