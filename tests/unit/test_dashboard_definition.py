"""Dashboard definitions: what is accepted, and refusals that name the widget and the field."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from metronome.config import ConfigError, settings_from_mapping
from metronome.dashboards.builtins import builtin_dashboards
from metronome.dashboards.data import PageState, parse_page, total_body, widget_body
from metronome.dashboards.definition import (
    MAX_BODY_BYTES,
    Dashboard,
    Defaults,
    parse_dashboard,
    parse_dashboard_json,
    to_json,
)
from metronome.dashboards.shares import share_csp
from metronome.errors import ApiError
from metronome.query.catalog import FieldKind, field_kinds

ROOT = Path(__file__).resolve().parents[2]
HITS: dict[str, FieldKind] = {
    "event": "keyword",
    "format": "keyword",
    "referrer.host": "keyword",
    "bot": "boolean",
    "load_ms": "number",
    "message": "text",
}


def fields_of(stream: str) -> Mapping[str, FieldKind] | None:
    return HITS if stream == "hits" else None


def widget(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "views",
        "title": "Views",
        "type": "line",
        "query": {"metrics": ["count"], "dimensions": ["time"]},
        "layout": {"x": 0, "y": 0, "w": 12, "h": 4},
    }
    return {**base, **overrides}


def dashboard(*widgets: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {"id": "mine", "title": "Mine", "widgets": list(widgets), **overrides}


def refusal(raw: Any, **options: Any) -> str:
    with pytest.raises(ApiError) as caught:
        parse_dashboard(raw, fields_of, **options)
    assert caught.value.status == 422
    assert caught.value.code == "invalid_dashboard"
    return caught.value.message


def test_a_full_definition_reads_back_as_it_was_written() -> None:
    raw = dashboard(
        widget(options={"overlay": False, "range": "30m", "refresh_seconds": 30, "unit": "ms"}),
        widget(id="formats", type="pie", query={"metrics": ["count"], "dimensions": ["format"]},
               layout={"x": 0, "y": 4, "w": 6, "h": 3}),
        description="d",
        defaults={"range": ["2026-01-01", "2026-02-01"], "interval": "week",
                  "tz": "Europe/Warsaw", "compare": None},
    )  # fmt: skip
    parsed = parse_dashboard(raw, fields_of)
    assert parsed.widgets[0].options.range == "30m"
    assert parsed.defaults == Defaults(("2026-01-01", "2026-02-01"), "week", "Europe/Warsaw", None)
    again = parse_dashboard(to_json(parsed), fields_of)
    assert again == parsed
    assert to_json(parsed)["widgets"][1]["options"] == {
        "stacked": False, "overlay": True, "drilldown": True, "range": None,
        "refresh_seconds": None, "unit": None,
    }  # fmt: skip


def test_answer_only_members_are_ignored_and_an_id_can_be_generated() -> None:
    raw = {"title": "T", "widgets": [], "version": "3.1", "source": "stored", "readonly": False}
    parsed = parse_dashboard(raw, fields_of, id_required=False, generated_id="t")
    assert parsed.id == "t"
    assert "missing" in refusal({"title": "T", "widgets": []})


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"type": "radar"}, "widgets[0] (views).type: unknown widget type 'radar'; one of line, "),
        ({"type": 3}, "widgets[0] (views).type: unknown widget type 3"),
        ({"colour": "red"}, "widgets[0] (views).colour: unknown key"),
        ({"id": "Views!"}, "widgets[0].id: an id is"),
        ({"layout": {"x": 8, "y": 0, "w": 6, "h": 4}}, "widgets[0] (views).layout.w: x + w"),
        ({"layout": {"x": 0, "y": 0, "w": 12, "h": 13}}, "widgets[0] (views).layout.h: from 1"),
        ({"layout": {"x": 0, "y": 0, "w": True, "h": 1}}, "widgets[0] (views).layout.w: a whole"),
        ({"layout": {"x": 0, "y": 0, "w": 2}}, "widgets[0] (views).layout.h: missing"),
        ({"options": {"unit": "kg"}}, "widgets[0] (views).options.unit: one of ms"),
        ({"options": {"refresh_seconds": 1}}, "widgets[0] (views).options.refresh_seconds: from"),
        ({"options": {"range": "forever"}}, "widgets[0] (views).options.range: Unknown date_range"),
        ({"options": {"stacked": "yes"}}, "widgets[0] (views).options.stacked: true or false"),
        ({"query": {"metrics": ["bounces"], "dimensions": ["time"]}},
         "widgets[0] (views).query.metrics: Unknown metric 'bounces'"),
        ({"query": {"metrics": ["count"], "dimensions": ["time", "country"]}},
         "widgets[0] (views).query.dimensions: Unknown field 'country'"),
        ({"query": {"metrics": ["sum:format"], "dimensions": ["time"]}},
         "widgets[0] (views).query.metrics: sum needs a numeric field"),
        ({"query": {"metrics": ["count"], "dimensions": ["time"], "date_range": "7d"}},
         "widgets[0] (views).query.date_range: chosen by the page"),
        ({"query": {"metrics": ["count"], "dimensions": ["time"], "colour": 1}},
         "widgets[0] (views).query: colour: Unknown"),
        ({"query": ["count"]}, "widgets[0] (views).query: a query is a JSON object"),
        ({"query": {"metrics": ["count"], "dimensions": ["format", "time"]}},
         "widgets[0] (views).query.dimensions: a line chart has time as its first dimension"),
        ({"type": "number", "query": {"metrics": ["count"], "dimensions": ["time", "format"]}},
         "widgets[0] (views).query.dimensions: a number widget has no dimension but time"),
        ({"type": "donut", "query": {"metrics": ["count"], "dimensions": ["time"]}},
         "widgets[0] (views).query.dimensions: a donut has exactly one dimension"),
        ({"type": "scatter", "query": {"metrics": ["count"], "dimensions": ["format"]}},
         "widgets[0] (views).query.metrics: a scatter plots exactly two metrics"),
        ({"query": {"metrics": ["count"], "dimensions": ["time:minute"]},
          "options": {"range": "90d"}},
         "widgets[0] (views).query.dimensions: That range holds more than 10000 minute"),
    ],
)  # fmt: skip
def test_a_refusal_names_the_widget_and_the_field(change: dict[str, Any], expected: str) -> None:
    good = widget()
    assert refusal(dashboard(widget(id="ok"), {**good, **change})).startswith(
        expected.replace("widgets[0]", "widgets[1]")
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([], "a dashboard is a JSON object"),
        ({"id": "x", "widgets": []}, "title: missing"),
        (dashboard(title=""), "title: 1 to 200 characters (0 given)"),
        (dashboard(title="t" * 201), "title: 1 to 200 characters"),
        (dashboard(owner="me"), "owner: unknown key"),
        (dashboard(id="import"), "id: 'import' is reserved"),
        (dashboard(readonly="no"), "readonly: true or false"),
        (dashboard(version=3), "version: text"),
        (dashboard(id="-x"), "id: an id is"),
        (dashboard(stream="Hits!"), "stream: a stream name"),
        (dashboard(widgets={}), "widgets: a list of widgets"),
        (dashboard(defaults={"interval": "fortnight"}), "defaults.interval: one of minute"),
        (dashboard(defaults={"compare": "custom"}), "defaults.compare: null or one of"),
        (dashboard(defaults={"tz": "Mars/Olympus"}), "defaults.tz: 'Mars/Olympus' is not"),
        (dashboard(defaults={"range": ["2026-02-01", "2026-01-01"]}), "defaults.range: "),
        (dashboard(widget(), widget()), "widgets[1] (views).id: another widget has this id"),
        (dashboard(*[widget(id=f"w{i}") for i in range(51)]), "widgets: at most 50 widgets"),
        (dashboard("views"), "widgets[0]: a widget is a JSON object"),  # type: ignore[arg-type]
    ],
)
def test_a_refusal_names_the_dashboards_field(raw: Any, expected: str) -> None:
    assert refusal(raw).startswith(expected)


def test_a_stream_without_fields_is_checked_for_its_grammar_only() -> None:
    query = {"stream": "newsletter", "metrics": ["sum:opens"], "dimensions": ["time", "campaign"],
             "filters": [["contains", "list", ["a"]]]}  # fmt: skip
    unknown = widget(query=query)
    parse_dashboard(dashboard(unknown), fields_of)
    bad = widget(query={"stream": "newsletter", "metrics": ["sum"], "dimensions": ["time"]})
    assert "query.metrics: sum needs a field" in refusal(dashboard(bad))


def test_the_body_is_json_of_bounded_size() -> None:
    with pytest.raises(ApiError) as caught:
        parse_dashboard_json(b"{" + b" " * MAX_BODY_BYTES + b"}", fields_of)
    assert (caught.value.status, caught.value.code) == (413, "body_too_large")
    with pytest.raises(ApiError) as caught:
        parse_dashboard_json(b'{"id": "x", ', fields_of)
    assert (caught.value.status, caught.value.code) == (400, "malformed_json")


def template_fields(stream: str) -> dict[str, FieldKind]:
    common = json.loads((ROOT / "es_templates/component/logstash-mappings.json").read_text())
    own = json.loads((ROOT / f"es_templates/index/{stream}.json").read_text())
    return {
        **field_kinds(common["template"]["mappings"]["properties"]),
        **field_kinds(own["template"]["mappings"]["properties"]),
    }


# Fields another part of Metronome adds to documents without a template entry of their own.
NOT_IN_TEMPLATES = {"geo.country_name"}


def test_every_builtin_dashboard_uses_fields_of_the_shipped_templates() -> None:
    dashboards = builtin_dashboards()
    assert dashboards[0].id == "web"
    assert {d.id for d in dashboards} == {"web", "logs", "github", "s3", "allezon", "health"}
    for built in dashboards:
        for item in built.widgets:
            stream = built.stream_of(item)
            known = {**template_fields(stream), **dict.fromkeys(NOT_IN_TEMPLATES, "keyword")}
            parse_dashboard({**to_json(built), "widgets": [to_json(built)["widgets"][
                built.widgets.index(item)]]}, lambda s, known=known: known)  # type: ignore[misc]  # fmt: skip


def test_the_site_dashboard_has_what_a_site_owner_looks_for() -> None:
    web = next(d for d in builtin_dashboards() if d.id == "web")
    types = {w.id: w.type for w in web.widgets}
    assert [types[name] for name in ("views", "visitors", "downloads")] == ["number"] * 3
    realtime = web.widget("realtime")
    assert realtime is not None
    assert (realtime.options.range, realtime.options.refresh_seconds) == ("30m", 30)
    dimensions = {d for w in web.widgets for d in w.query.get("dimensions", [])}
    assert {"referrer.host", "format", "event", "geo.country_name", "user_agent.name",
            "user_agent.os", "user_agent.device", "bot"} <= dimensions  # fmt: skip


# --- the data request ---------------------------------------------------------------------


def site_dashboard() -> Dashboard:
    return next(d for d in builtin_dashboards() if d.id == "web")


def test_a_widget_body_is_the_query_of_the_page() -> None:
    web = site_dashboard()
    page = PageState("7d", "week", "Europe/Warsaw", "previous", (["is", "format", ["pdf"]],))
    views = web.widget("views-over-time")
    assert views is not None
    body = widget_body(web, views, page=page, site="shop", known=HITS)
    assert body == {
        "metrics": ["count", "visitors"],
        "dimensions": ["time:week"],
        "filters": [["is", "event", ["view"]], ["is", "format", ["pdf"]]],
        "site": "shop",
        "stream": "hits",
        "date_range": "7d",
        "tz": "Europe/Warsaw",
        "compare": "previous",
        "limit": 10_000,  # a series is drawn whole, not cut at the first 100 buckets
    }
    pages = web.widget("top-pages")
    assert pages is not None
    assert widget_body(web, pages, page=page, site="shop", known=HITS)["limit"] == 10
    realtime = web.widget("realtime")
    assert realtime is not None
    fixed = widget_body(web, realtime, page=page, site="shop", known=HITS)
    assert (fixed["date_range"], fixed["dimensions"], "compare" in fixed) == (
        "30m", ["time:minute"], False,
    )  # fmt: skip


def test_a_page_filter_on_a_field_the_stream_lacks_is_that_widgets_error() -> None:
    web = site_dashboard()
    page = PageState("7d", "day", "UTC", None, (["is", "referrer.host", ["a.example"]],))
    views = web.widget("views")
    assert views is not None
    with pytest.raises(ApiError) as caught:
        widget_body(web, views, page=page, site="shop", known={"event": "keyword"})
    assert caught.value.code == "filter_not_applicable"
    assert "referrer.host" in caught.value.message


def test_a_number_over_time_also_asks_its_total() -> None:
    body = {"metrics": ["visitors"], "dimensions": ["time:day"], "order_by": [["time:day", "asc"]]}
    assert total_body(body) == {"metrics": ["visitors"], "dimensions": [], "order_by": []}
    assert total_body({"metrics": ["count"], "dimensions": []}) is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"range": "forever"}, "range"),
        ({"range": ["2026-02-01", "2026-01-01"]}, "range"),
        ({"interval": "fortnight"}, "interval"),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"compare": "decade"}, "compare"),
        ({"filters": [["near", "event", ["view"]]]}, "filters"),
        ({"filters": "event=view"}, "filters"),
        ({"colour": "red"}, "colour"),
        ({"range": "90d", "interval": "minute"}, "interval"),
    ],
)
def test_a_wrong_page_is_refused_naming_the_part(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_page(body, Defaults())
    assert caught.value.status in (400, 422)
    assert caught.value.field == field


def test_the_page_takes_the_dashboards_defaults() -> None:
    page = parse_page({}, Defaults("90d", "week", "Europe/Warsaw", None))
    assert page == PageState("90d", "week", "Europe/Warsaw", None, ())
    assert parse_page({"range": "12mo", "interval": "month"}, Defaults()).range == "12mo"


def test_definitions_do_not_share_state() -> None:
    raw = dashboard(widget())
    kept = copy.deepcopy(raw)
    parse_dashboard(raw, fields_of)
    assert raw == kept


# --- settings and the shared page's policy ------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    ["https://a.example.org; script-src *", "https://a.example.org/path", "*", "javascript:x",
     "https://a.example.org https://b.example.org"],
)  # fmt: skip
def test_an_embedding_origin_cannot_bend_the_policy(origin: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping({"dashboards": {"embed_origins": [origin]}})
    assert "dashboards.embed_origins" in str(caught.value)


def test_shared_pages_are_framed_only_by_the_configured_origins() -> None:
    settings = settings_from_mapping(
        {"dashboards": {"embed_origins": "https://intranet.example.org,https://*.example.com:8443"}}
    )
    policy = share_csp(settings.dashboards.embed_origins)
    assert policy.endswith(
        "frame-ancestors https://intranet.example.org https://*.example.com:8443"
    )
    assert share_csp(()).endswith("frame-ancestors 'none'")
    assert "default-src 'self'" in policy
