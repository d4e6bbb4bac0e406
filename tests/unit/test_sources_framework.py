"""Pure parts of the source framework: config, ids, leases, status, registry."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from marshmallow import Schema, fields

from metronome.cli.sources import _status_line
from metronome.config import (
    ConfigError,
    Settings,
    SourceSettings,
    load_settings,
    settings_from_mapping,
)
from metronome.es.bulk import ItemResult
from metronome.sources.base import (
    Document,
    FetchContext,
    Page,
    Refusal,
    Source,
    Window,
    document_id,
    iso,
)
from metronome.sources.lease import Lease, can_take
from metronome.sources.registry import (
    build_source,
    check_source_options,
    register,
    source_type,
    type_names,
)
from metronome.sources.runner import RunReport, build_document, tally
from metronome.sources.scheduler import describe_report
from metronome.sources.status import SourcesCollector, status_of
from metronome.sources.store import LastError, SourceState


class TokenOptions(Schema):
    url = fields.Url(required=True, require_tld=False)
    token = fields.String(required=True, metadata={"secret": True})
    limit = fields.Integer(load_default=10)


@register
class UnitSource(Source):
    type_name = "unit_test_source"
    stream = "unit"
    options_schema = TokenOptions
    natural_key = "n"
    default_interval = 600.0

    def fetch(self, context: FetchContext) -> Iterator[Page]:
        yield Page([], {})


def checked(raw: dict[str, object]) -> Settings:
    """The settings as an entry point has them: loaded, then each source's options checked."""
    settings = settings_from_mapping(raw)
    check_source_options(settings)
    return settings


def test_a_source_is_configured_with_its_own_options_checked() -> None:
    settings = checked(
        {
            "sources": {
                "api": {
                    "type": "unit_test_source",
                    "url": "http://x:1",
                    "token": "t0ps3cret",
                    "interval": "120",
                }
            }
        }
    )
    source = settings.sources["api"]
    assert source.options == {"url": "http://x:1", "token": "t0ps3cret"}  # as configured
    assert source.interval == 120.0 and source.enabled and source.site is None
    built = build_source(source, "default")
    assert built.options == {"url": "http://x:1", "token": "t0ps3cret", "limit": 10}
    assert "t0ps3cret" not in repr(settings)  # options (secrets) stay out of logs
    assert UnitSource.secret_options() == {"token"}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"type": "nope"}, "sources.api.type: Unknown source type 'nope'"),
        ({"type": "unit_test_source", "url": "http://x:1"}, "sources.api.token: Missing data"),
        (
            {"type": "unit_test_source", "url": "http://x:1", "token": "t", "cron": "* *"},
            "sources.api.cron: Not a valid crontab expression",
        ),
        (
            {
                "type": "unit_test_source",
                "url": "http://x:1",
                "token": "t",
                "cron": "0 * * * *",
                "interval": 60,
            },
            "sources.api.cron: Set interval or cron, not both.",
        ),
        (
            {"type": "unit_test_source", "url": "http://x:1", "token": "t", "site": "elsewhere"},
            "sources.api.site: 'elsewhere' is not one of the sites",
        ),
        (
            {"type": "unit_test_source", "url": "http://x:1", "token": "t", "colour": "red"},
            "sources.api.colour: Unknown setting.",
        ),
        ("github", "sources.api: Each source is a mapping"),
    ],
)
def test_a_bad_source_entry_is_named_in_the_error(entry: object, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        checked({"sources": {"api": entry}})
    assert message in str(raised.value)


def test_the_configuration_alone_keeps_a_sources_options_for_its_type_to_check() -> None:
    raw = {"type": "nope", "colour": "red", "interval": 60}
    settings = settings_from_mapping({"sources": {"api": raw, "ok": {"type": "unit_test_source"}}})
    assert settings.sources["api"].options == {"colour": "red"}
    with pytest.raises(ConfigError) as raised:
        check_source_options(settings)
    assert str(raised.value) == (
        "invalid configuration (settings): sources.api.type: Unknown source type 'nope'; "
        f"the known types are {', '.join(type_names())}.; "
        "sources.ok.url: Missing data for required field.; "
        "sources.ok.token: Missing data for required field."
    )


def test_source_names_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"sources\.Bad Name: A source name is lowercase"):
        settings_from_mapping({"sources": {"Bad Name": {"type": "unit_test_source"}}})


def test_sources_come_from_the_environment_too(tmp_path: Path) -> None:
    empty = tmp_path / "metronome.yml"
    empty.write_text("")
    settings = load_settings(
        config_file=empty,
        environ={
            "METRONOME_SOURCES__API__TYPE": "unit_test_source",
            "METRONOME_SOURCES__API__URL": "http://remote:8000",
            "METRONOME_SOURCES__API__TOKEN": "from-env",
            "METRONOME_SOURCES__API__CRON": "*/5 * * * *",
        },
    )
    assert settings.sources["api"].options["token"] == "from-env"
    assert settings.sources["api"].cron == "*/5 * * * *"


def test_a_third_party_type_registers_through_an_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "acme_source.py"
    package.write_text(
        "from metronome.sources.base import Source\n"
        "from marshmallow import Schema\n"
        "class AcmeSource(Source):\n"
        "    type_name = 'acme'\n    stream = 'acme'\n    options_schema = Schema\n"
        "    natural_key = 'id'\n"
        "    def fetch(self, context):\n        return iter(())\n"
    )
    dist = tmp_path / "acme_source-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-source\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[metronome.sources]\nacme = acme_source:AcmeSource\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "acme" in type_names()
    assert source_type("acme").__name__ == "AcmeSource"
    settings = checked({"sources": {"a": {"type": "acme"}}})
    assert settings.sources["a"].type == "acme"
    sys.modules.pop("acme_source", None)


def test_document_ids_are_deterministic_per_source_and_key() -> None:
    assert document_id("gh", "star:a/b:alice") == document_id("gh", "star:a/b:alice")
    assert document_id("gh", "star:a/b:alice") != document_id("gh2", "star:a/b:alice")
    assert len(document_id("gh", "x")) == 40


def test_the_envelope_wins_over_a_source_field_of_the_same_name() -> None:
    source = UnitSource("api", "shop", {})
    moment = datetime(2024, 5, 1, 12, tzinfo=UTC)
    body = build_document(source, Document("1", moment, {"site": "evil", "n": 1}), "R")
    assert body == {
        "n": 1,
        "site": "shop",
        "@timestamp": "2024-05-01T12:00:00.000Z",
        "@version": "1",
        "type": "unit",
        "source": "api",
        "source_type": "unit_test_source",
        "received_at": "R",
    }
    with pytest.raises(ValueError):
        iso(datetime(2024, 5, 1))  # naive times are refused, not guessed


def test_tally_names_what_elasticsearch_made_of_each_document() -> None:
    results = [
        ItemResult(201),
        ItemResult(200),
        ItemResult(409),
        ItemResult(409),
        ItemResult(400, {"type": "mapper_parsing_exception"}),
    ]
    assert tally(results) == {"created": 1, "updated": 1, "duplicate": 2, "dead_lettered": 1}


def test_a_lease_can_be_taken_when_free_expired_or_already_held() -> None:
    held = Lease("scheduler", "a", expires_at=100.0)
    assert can_take(None, "b", 50.0)
    assert can_take(held, "a", 50.0)
    assert not can_take(held, "b", 99.9)
    assert can_take(held, "b", 100.0)


def test_windows_list_their_days_and_refuse_backwards_ranges() -> None:
    assert list(Window(date(2024, 2, 28), date(2024, 3, 1)).days()) == [
        date(2024, 2, 28),
        date(2024, 2, 29),
        date(2024, 3, 1),
    ]
    with pytest.raises(ValueError, match="starts"):
        Window(date(2024, 3, 2), date(2024, 3, 1))


def test_status_reports_lag_staleness_and_failures() -> None:
    now = datetime(2024, 5, 1, 12, tzinfo=UTC)
    settings = SourceSettings(name="api", type="unit_test_source", interval=600)
    fresh = SourceState("api", last_success_at=iso(now - timedelta(seconds=300)))
    row = status_of(settings, fresh, now, default_interval=3600)
    assert row["lag_seconds"] == 300 and not row["stale"] and not row["failing"]
    failing = SourceState(
        "api",
        last_success_at=iso(now - timedelta(seconds=1300)),
        last_error=LastError(at=iso(now), message="503 from http://x", kind="RemoteError"),
        consecutive_failures=3,
    )
    row = status_of(settings, failing, now, default_interval=3600)
    assert row["stale"] and row["failing"] and row["last_error"]["kind"] == "RemoteError"
    never = status_of(settings, SourceState("api"), now, default_interval=3600)
    assert never["lag_seconds"] is None and never["stale"]
    by_default = status_of(SourceSettings(name="api", type="t"), fresh, now, default_interval=100)
    assert by_default["schedule"] == {"interval_seconds": 100} and by_default["stale"]
    cron = status_of(SourceSettings(name="api", type="t", cron="0 3 * * *"), fresh, now, 60)
    assert cron["schedule"] == {"cron": "0 3 * * *"} and not cron["stale"]


def test_a_partial_run_is_healthy_and_its_refusals_are_shown() -> None:
    now = datetime(2024, 5, 1, 12, tzinfo=UTC)
    settings = SourceSettings(name="gh", type="github", interval=3600)
    reason = "acme/up: traffic views: forbidden. (403 ...: Must have push access to repository)"
    report = RunReport(source="gh", started_at=iso(now))
    context = FetchContext(cursor={}, http=None, now=now)  # type: ignore[arg-type]
    context.part("acme/app").stored["traffic"] = 9
    context.part("acme/up").refused["traffic"] = Refusal(reason, permanent=True)
    report.parts = {name: asdict(part) for name, part in context.parts.items()}
    state = SourceState("gh", last_success_at=iso(now), last_run=report.to_json())
    row = status_of(settings, state, now, default_interval=3600)
    assert (row["failing"], row["stale"], row["partial"]) == (False, False, True)
    assert row["refused"] == [
        {"part": "acme/up", "reading": "traffic", "reason": reason, "permanent": True}
    ]
    assert _status_line(row).endswith(f"\n    partial: acme/up traffic refused, lasting: {reason}")
    assert describe_report(report).endswith(f"; partial: acme/up traffic refused ({reason})")
    assert status_of(settings, SourceState("gh"), now, 3600)["refused"] == []


def test_the_gauges_give_each_source_its_figures_and_no_lag_before_a_first_success() -> None:
    now = datetime(2024, 5, 1, 12, tzinfo=UTC)
    succeeded = now - timedelta(seconds=300)
    every_ten_minutes = SourceSettings(name="api", type="unit_test_source", interval=600)
    never_succeeded = SourceState("new", consecutive_failures=2)
    rows = [
        status_of(every_ten_minutes, SourceState("api", last_success_at=iso(succeeded)), now, 3600),
        status_of(SourceSettings(name="new", type="t"), never_succeeded, now, 60),
    ]
    gauges = {
        family.name: {tuple(sample.labels.values()): sample.value for sample in family.samples}
        for family in SourcesCollector(rows).collect()
    }
    api, new = ("api", "unit_test_source"), ("new", "t")
    assert list(gauges) == [
        "metronome_source_last_success_timestamp_seconds",
        "metronome_source_lag_seconds",
        "metronome_source_consecutive_failures",
        "metronome_source_stale",
    ]
    assert gauges["metronome_source_last_success_timestamp_seconds"] == {
        api: succeeded.timestamp(),
        new: 0.0,
    }
    assert gauges["metronome_source_lag_seconds"] == {api: 300.0}  # absent: never succeeded
    assert gauges["metronome_source_consecutive_failures"] == {api: 0.0, new: 2.0}
    assert gauges["metronome_source_stale"] == {api: 0.0, new: 1.0}
