"""Alert rules as written: parsed, defaulted, refused with the rule and key named; judged on
query outcomes; their messages (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from metronome.alerts.conditions import judge, rule_window
from metronome.alerts.evaluate import check_alert_rules
from metronome.alerts.machine import AlertState, Transition
from metronome.alerts.messages import alert_message
from metronome.alerts.rules import (
    Rule,
    RuleError,
    check_fields,
    format_duration,
    parse_rule,
    rule_to_json,
)
from metronome.config import ConfigError, parse_duration, settings_from_mapping
from metronome.query.runner import Outcome, Row

NOW = datetime(2026, 3, 2, 10, 30, 42, tzinfo=UTC)
SITES = ("shop", "default")


def rule(**raw: Any) -> Rule:
    body = {"site": "shop", "condition": {"above": 100}, **raw}
    return parse_rule(body, name="r", sites=SITES, channels=("ops", "chat"))


def refusal(raw: Any, **options: Any) -> RuleError:
    with pytest.raises(RuleError) as caught:
        parse_rule(raw, name="checkout", sites=SITES, channels=("ops",), **options)
    return caught.value


def test_defaults_users_would_expect() -> None:
    parsed = rule()
    assert (parsed.stream, parsed.metric, parsed.window) == ("hits", "count", 3600.0)
    assert (parsed.for_, parsed.repeat, parsed.cooldown) == (300.0, 14_400.0, 900.0)
    assert parsed.severity == "warning" and parsed.tz == "UTC" and parsed.enabled
    assert rule(condition={"no_data": "30m"}).for_ == 0  # the duration is the wait already
    assert rule(condition={"no_data": "30m"}).window == 1800


def test_a_rule_survives_json() -> None:
    parsed = rule(
        metric="sum:price",
        filters=[["is", "event", ["checkout"]]],
        window="15m",
        condition={"change": {"percent": 50, "against": "last_week", "direction": "down"}},
        channels=["ops"],
        tz="Europe/Warsaw",
        description="Checkouts dropped",
        **{"for": "2m", "repeat": 0, "cooldown": "1h"},
    )
    again = parse_rule(rule_to_json(parsed), sites=SITES, channels=("ops",))
    assert again == parsed
    assert rule_to_json(parsed)["repeat"] == "0s"


@pytest.mark.parametrize(
    ("raw", "key", "words"),
    [
        ({"site": "shop"}, "condition", "One of"),
        ({"site": "shop", "condition": {"above": "x"}}, "condition.above", "A number"),
        ({"site": "shop", "condition": {"above": 1, "below": 2}}, "condition", "One of"),
        ({"site": "shop", "condition": {"sideways": 1}}, "condition", "Unknown condition"),
        ({"site": "shop", "condition": {"change": {}}}, "condition.change.percent", "percent"),
        (
            {"site": "shop", "condition": {"change": {"percent": 5, "against": "yesterday"}}},
            "condition.change.against",
            "previous, last_week",
        ),
        ({"site": "shop", "condition": {"no_data": "soon"}}, "condition.no_data", "duration"),
        ({"site": "shop", "condition": {"above": 1}, "window": "10"}, "window", "1m and 31d"),
        ({"site": "shop", "condition": {"above": 1}, "for": "-5m"}, "for", "duration"),
        ({"site": "shop", "condition": {"above": 1}, "channels": ["pager"]}, "channels", "pager"),
        ({"site": "nowhere", "condition": {"above": 1}}, "site", "not one of the sites"),
        ({"site": "shop", "condition": {"above": 1}, "tz": "Mars/Olympus"}, "tz", "IANA"),
        ({"site": "shop", "condition": {"above": 1}, "metric": "median"}, "metric", "metric"),
        ({"site": "shop", "condition": {"above": 1}, "colour": "red"}, "colour", "Unknown key"),
        (
            {"site": "shop", "condition": {"anomaly": {}}, "window": "90m"},
            "window",
            "whole hours",
        ),
        (
            {"site": "shop", "condition": {"above": 1}, "filters": [["near", "event", ["x"]]]},
            "filters",
            "operator",
        ),
    ],
)
def test_bad_rules_are_refused_naming_the_rule_and_key(
    raw: dict[str, Any], key: str, words: str
) -> None:
    error = refusal(raw)
    assert (error.rule, error.key) == ("checkout", key)
    assert words in error.message
    api = error.api_error()
    assert (api.status, api.code, api.field) == (422, "invalid_rule", key)
    assert "checkout" in api.message


def test_fields_are_checked_through_the_query_parser() -> None:
    known = {"event": "keyword", "price": "number", "url.path": "keyword"}
    check_fields(rule(metric="sum:price", filters=[["contains", "url.path", ["/x"]]]), known)  # type: ignore[arg-type]
    with pytest.raises(RuleError) as caught:
        check_fields(rule(metric="sum:weight"), known)  # type: ignore[arg-type]
    assert caught.value.key == "metric" and "weight" in caught.value.message
    with pytest.raises(RuleError) as caught:
        check_fields(rule(filters=[["is", "colour", ["red"]]]), known)  # type: ignore[arg-type]
    assert caught.value.key == "filters" and "colour" in caught.value.message
    with pytest.raises(RuleError) as caught:
        check_fields(rule(metric="sum:event"), known)  # type: ignore[arg-type]
    assert caught.value.key == "metric" and "numeric" in caught.value.message


def test_the_config_files_rules_are_checked_at_load_naming_the_setting() -> None:
    settings = settings_from_mapping(
        {
            "alerts": {
                "rules": {"slow": {"site": "default", "condition": {"above": 1}, "window": "40d"}}
            }
        }
    )
    with pytest.raises(ConfigError, match=r"alerts\.rules\.slow\.window: Between 1m and 31d"):
        check_alert_rules(settings, ())
    unknown_site = {"alerts": {"rules": {"x": {"site": "elsewhere", "condition": {"above": 1}}}}}
    with pytest.raises(ConfigError, match=r"alerts\.rules\.x\.site"):
        settings_from_mapping(unknown_site)
    with pytest.raises(ConfigError, match="rule name"):
        settings_from_mapping({"alerts": {"rules": {"Bad Name": {}}}})
    health = settings_from_mapping({"alerts": {"health": {"channels": ["pager"]}}})
    with pytest.raises(ConfigError, match=r"alerts\.health\.channels: unknown channel 'pager'"):
        check_alert_rules(health, ("ops",))


def test_health_settings_take_durations() -> None:
    settings = settings_from_mapping(
        {"alerts": {"every": "2m", "health": {"spool_filling": {"percent": 90, "for": "10m"}}}}
    )
    assert settings.alerts.every == 120
    assert settings.alerts.health.spool_filling.for_ == 600
    assert settings.alerts.health.spool_filling.percent == 90
    with pytest.raises(ConfigError, match=r"alerts\.health\.source_stale\.for"):
        settings_from_mapping({"alerts": {"health": {"source_stale": {"for": "often"}}}})


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("1h", 3600), ("1d", 86_400), (30, 30)]
)
def test_durations(text: Any, seconds: float) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


def outcome(value: float | None, compare: float | None = None) -> Outcome:
    row = Row(key=(), metrics=[value], compare=None if compare is None else [compare])
    return Outcome(rows=[row], latest_received=None)


def test_windows_end_at_the_evaluations_minute() -> None:
    window = rule_window(rule(window="1h"), NOW)
    assert window.start == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert window.end == datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    change = rule_window(rule(condition={"change": {"percent": 5, "against": "last_week"}}), NOW)
    assert change.compare == (
        datetime(2026, 2, 23, 9, 30, tzinfo=UTC),
        datetime(2026, 2, 23, 10, 30, tzinfo=UTC),
    )


def test_thresholds_and_changes() -> None:
    assert judge(rule(condition={"above": 100}), outcome(101), NOW).holds is True
    assert judge(rule(condition={"above": 100}), outcome(100), NOW).holds is False
    assert judge(rule(condition={"below": 5}), outcome(4), NOW).holds is True
    drop = rule(condition={"change": {"percent": 50, "direction": "down"}})
    verdict = judge(drop, outcome(40, 100), NOW)
    assert verdict.holds is True and verdict.details["change_percent"] == -60.0
    assert judge(drop, outcome(160, 100), NOW).holds is False
    assert judge(drop, outcome(40, 0), NOW).holds is False  # nothing to compare with
    assert judge(rule(condition={"no_data": "10m"}), outcome(0), NOW).holds is True
    assert judge(rule(condition={"no_data": "10m"}), outcome(3), NOW).holds is False
    assert judge(rule(metric="avg:price"), outcome(None), NOW).holds is None


def test_a_message_carries_the_numbers_the_window_and_a_link() -> None:
    parsed = rule(channels=["ops"], description="Too many refunds")
    verdict = judge(parsed, outcome(150), NOW)
    state = AlertState(rule="r", state="firing", value=150.0, reference=100.0,
                       summary=verdict.summary)  # fmt: skip
    transition = Transition("e.1.firing", "firing", NOW, True, NOW)
    message = alert_message(
        parsed, state, transition, verdict, public_url="https://metronome.example.org/"
    )
    assert message.subject.startswith("[FIRING] [shop] r: count 150")
    assert "Threshold: 100" in message.text and "Value: 150" in message.text
    assert "Window: 2026-03-02T09:30:00Z to 2026-03-02T10:30:00Z" in message.text
    link = "https://metronome.example.org/?site=shop&view=alerts&rule=r"
    assert f"Open: {link}" in message.text
    assert message.html is not None and "Too many refunds" in message.html
    assert message.fields["value"] == 150.0 and message.fields["threshold"] == 100.0
    assert message.fields["query"]["date_range"] == [
        "2026-03-02T09:30:00+00:00",
        "2026-03-02T10:30:00+00:00",
    ]
    escaped = alert_message(
        rule(description="<script>x</script>"), state, transition, verdict, public_url=None
    )
    assert escaped.html is not None and "<script>" not in escaped.html
    assert "Open:" not in escaped.text
