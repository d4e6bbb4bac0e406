"""The Kibana saved objects and Grafana files generated from the dashboard definitions: the
structure their import APIs and provisioning need, the fields and indices they read, the query
languages, and the shipped copies (``kibana/``, ``grafana/``) never drifting from the generators.
"""

from __future__ import annotations

import fnmatch
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from metronome.dashboards.builtins import builtin_dashboards
from metronome.dashboards.definition import parse_dashboard
from metronome.dashboards.export import grafana, kibana
from metronome.dashboards.export.fields import stream_fields
from metronome.dashboards.export.files import shipped_files
from metronome.dashboards.export.grafana import grid_of
from metronome.dashboards.export.plan import TEMPLATE_STREAMS, VISITOR_FIELD
from metronome.dashboards.export.queries import dsl_filters, kql, lucene
from metronome.es.naming import PERIODS, index_for
from metronome.es.templates import load_templates
from metronome.query.model import Filter
from tests.conftest import ROOT

PREFIX = "metronome"
# Kibana 8.19's newest migration of each type written (a newer one would be refused).
NEWEST_KNOWN = {"index-pattern": (8, 0, 0), "lens": (8, 9, 0), "dashboard": (8, 9, 0)}
GRAFANA_PANELS = {"timeseries", "barchart", "piechart", "stat", "table", "xychart"}


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    text = kibana.to_ndjson(kibana.saved_objects(builtin_dashboards(), PREFIX))
    return [json.loads(line) for line in text.splitlines()]


def _by_type(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["type"] == kind]


# --- Kibana ------------------------------------------------------------------------------


def test_every_object_has_what_the_import_api_reads(objects: list[dict[str, Any]]) -> None:
    assert {o["type"] for o in objects} == {"index-pattern", "lens", "dashboard"}
    keys = [(o["type"], o["id"]) for o in objects]
    assert len(keys) == len(set(keys))
    for item in objects:
        assert isinstance(item["attributes"], dict) and item["attributes"]["title"]
        assert isinstance(item["references"], list)
        assert _version(item["typeMigrationVersion"]) <= NEWEST_KNOWN[item["type"]]
        assert _version(item["coreMigrationVersion"]) <= (8, 19, 0)


def test_every_reference_resolves_within_the_file(objects: list[dict[str, Any]]) -> None:
    present = {(o["type"], o["id"]) for o in objects}
    for item in objects:
        for reference in item["references"]:
            assert set(reference) == {"name", "type", "id"}
            assert (reference["type"], reference["id"]) in present, (item["id"], reference)


def test_every_panel_has_its_reference(objects: list[dict[str, Any]]) -> None:
    dashboards = _by_type(objects, "dashboard")
    assert {d["id"] for d in dashboards} == {f"{PREFIX}-{d.id}" for d in builtin_dashboards()}
    allowed = {"title", "description", "panelsJSON", "optionsJSON", "timeRestore", "timeFrom",
               "timeTo", "refreshInterval", "kibanaSavedObjectMeta", "controlGroupInput",
               "version", "hits"}  # fmt: skip
    for dashboard in dashboards:
        attributes = dashboard["attributes"]
        assert set(attributes) <= allowed
        json.loads(attributes["optionsJSON"])
        json.loads(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])
        panels = json.loads(attributes["panelsJSON"])
        names = {r["name"]: r for r in dashboard["references"]}
        assert len(names) == len(panels)
        for panel in panels:
            reference = names[f"{panel['panelIndex']}:{panel['panelRefName']}"]
            assert reference["type"] == panel["type"] == "lens"
            grid = panel["gridData"]
            assert grid["i"] == panel["panelIndex"]
            assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 48 and grid["h"] >= 4


def test_the_realtime_panel_keeps_its_own_range(objects: list[dict[str, Any]]) -> None:
    web = next(o for o in objects if o["id"] == f"{PREFIX}-web")
    panels = {p["panelIndex"]: p for p in json.loads(web["attributes"]["panelsJSON"])}
    assert panels["realtime"]["embeddableConfig"]["timeRange"] == {"from": "now-30m", "to": "now"}
    assert web["attributes"]["timeFrom"] == "now-30d"


def test_data_views_cover_the_indices_each_stream_is_written_to(
    objects: list[dict[str, Any]],
) -> None:
    views = {o["id"]: o["attributes"] for o in _by_type(objects, "index-pattern")}
    assert set(views) == {f"{PREFIX}-{s}" for s in TEMPLATE_STREAMS}
    patterns = {
        t.name.removeprefix(f"{PREFIX}-"): t.body["index_patterns"]
        for t in load_templates(PREFIX)
        if t.kind == "index"
    }
    day = datetime(2026, 12, 7, 13, tzinfo=UTC)
    for stream in TEMPLATE_STREAMS:
        view = views[f"{PREFIX}-{stream}"]
        assert view["timeFieldName"] == "@timestamp"
        assert stream_fields(stream)["@timestamp"] == "date"
        index = index_for(PREFIX, stream, day)
        assert fnmatch.fnmatchcase(index, view["title"])
        assert view["title"] in patterns[stream]  # the stream's own template maps them
        for other in TEMPLATE_STREAMS:  # and no other stream's indices
            if other != stream:
                assert not fnmatch.fnmatchcase(index_for(PREFIX, other, day), view["title"])


def _lens_fields(lens: dict[str, Any]) -> set[str]:
    state = lens["attributes"]["state"]
    fields = set()
    for layer in state["datasourceStates"]["formBased"]["layers"].values():
        assert set(layer["columnOrder"]) == set(layer["columns"])
        for column in layer["columns"].values():
            if column["sourceField"] != "___records___":
                fields.add(column["sourceField"])
    fields |= set(re.findall(r"([\w.@]+) : ", state["query"]["query"]))
    for item in state["filters"]:
        for clause in item["query"]["bool"]["should"]:
            fields |= {name for body in clause.values() for name in body}
    return fields


def test_every_field_a_visualisation_uses_is_mapped(objects: list[dict[str, Any]]) -> None:
    views = {o["id"]: o["attributes"]["title"] for o in _by_type(objects, "index-pattern")}
    for lens in _by_type(objects, "lens"):
        (reference,) = lens["references"]
        assert reference["name"] == "indexpattern-datasource-layer-layer1"
        stream = views[reference["id"]].removeprefix(f"{PREFIX}-").removesuffix("-*")
        for name in _lens_fields(lens):
            assert name in stream_fields(stream), (
                lens["id"],
                name,
            )


def test_metrics_and_dimensions_map_to_lens_operations(objects: list[dict[str, Any]]) -> None:
    lenses = {o["id"]: o["attributes"] for o in _by_type(objects, "lens")}

    def columns(widget: str) -> dict[str, Any]:
        layers = lenses[f"{PREFIX}-{widget}"]["state"]["datasourceStates"]["formBased"]["layers"]
        return dict(layers["layer1"]["columns"])

    views = columns("web-views-over-time")
    assert views["time"]["operationType"] == "date_histogram"
    assert views["time"]["params"]["interval"] == "auto"
    assert views["metric0"]["operationType"] == "count"
    assert views["metric1"] == {**views["metric1"], "operationType": "unique_count",
                                "sourceField": VISITOR_FIELD}  # fmt: skip
    pages = columns("web-top-pages")
    assert pages["term0"]["operationType"] == "terms" and pages["term0"]["params"]["size"] == 10
    assert pages["term0"]["params"]["orderBy"] == {"type": "column", "columnId": "metric0"}
    latency = columns("s3-latency-over-time")
    assert [latency[c]["params"]["percentile"] for c in ("metric0", "metric1")] == [50, 95]
    assert columns("allezon-revenue")["metric0"]["operationType"] == "sum"
    assert columns("allezon-price")["metric1"]["operationType"] == "average"
    assert columns("web-realtime")["time"]["params"]["interval"] == "1m"
    kinds = {
        "web-views-over-time": "lnsXY", "web-browsers": "lnsPie", "web-views": "lnsMetric",
        "web-top-pages": "lnsDatatable", "allezon-price": "lnsXY",
    }  # fmt: skip
    for widget, kind in kinds.items():
        assert lenses[f"{PREFIX}-{widget}"]["visualizationType"] == kind
    series = columns("health-series")["term0"]["params"]  # ordered by metric_name, ascending
    assert series["orderBy"] == {"type": "alphabetical", "fallback": False}
    assert series["orderDirection"] == "asc"
    donut = lenses[f"{PREFIX}-web-bots"]["state"]["visualization"]
    assert donut["shape"] == "donut"
    stacked = lenses[f"{PREFIX}-logs-requests-over-time"]["state"]["visualization"]
    assert stacked["layers"][0]["seriesType"] == "bar_stacked"
    assert stacked["layers"][0]["splitAccessor"] == "term0"


def test_filters_become_kql_and_dsl_filters(objects: list[dict[str, Any]]) -> None:
    lenses = {o["id"]: o["attributes"]["state"] for o in _by_type(objects, "lens")}
    errors = lenses[f"{PREFIX}-logs-errors"]["query"]
    statuses = "(200 or 204 or 206 or 301 or 302 or 304)"
    assert errors == {"language": "kuery", "query": f"not http.status : {statuses}"}
    s3_errors = lenses[f"{PREFIX}-s3-errors"]
    assert s3_errors["query"]["query"] == 'kind : "request"'
    (regexp,) = s3_errors["filters"]
    assert regexp["query"]["bool"]["should"] == [
        {"regexp": {"error_code": {"value": ".+", "flags": "NONE"}}}
    ]


# --- query languages ---------------------------------------------------------------------

AWKWARD = 'say "hi" \\ (a:b) *?'


def test_kql_quotes_and_escapes_values() -> None:
    filters = (
        Filter("is", "referrer.host", (AWKWARD,)),
        Filter("is_not", "bot", (True,)),
        Filter("is", "http.status", (404, 500.5)),
    )
    assert kql(filters) == (
        'referrer.host : "say \\"hi\\" \\\\ (a:b) *?" and not bot : true'
        " and http.status : (404 or 500.5)"
    )


def test_lucene_quotes_phrases_and_escapes_wildcards_and_regexps() -> None:
    filters = (
        Filter("is", "event", ("view", AWKWARD)),
        Filter("contains", "url.path", ("a b*",)),
        Filter("matches", "key", ("logs/.*\\.gz",)),
    )
    assert lucene(filters) == (
        'event:("view" OR "say \\"hi\\" \\\\ (a:b) *?")'
        " AND url.path:*a\\ b\\**"
        " AND key:/logs\\/.*\\.gz/"
    )


def test_contains_is_a_case_insensitive_wildcard_filter_in_kibana() -> None:
    (item,) = dsl_filters((Filter("contains", "url.path", ("Doc*s",)),))
    assert item["meta"]["negate"] is False and item["meta"]["type"] == "custom"
    assert item["query"]["bool"]["should"] == [
        {"wildcard": {"url.path": {"value": "*Doc\\*s*", "case_insensitive": True}}}
    ]
    assert json.loads(item["meta"]["value"]) == item["query"]


# --- Grafana -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grafana_docs() -> dict[str, dict[str, Any]]:
    return {d.id: grafana.dashboard_json(d, PREFIX) for d in builtin_dashboards()}


def test_grafana_data_sources_name_each_streams_indices_of_every_period() -> None:
    config = yaml.safe_load(grafana.datasources_yaml(builtin_dashboards(), PREFIX))
    assert config["apiVersion"] == 1
    day = datetime(2026, 3, 9, 23, 59, tzinfo=UTC)
    for source in config["datasources"]:
        assert source["type"] == "elasticsearch" and source["access"] == "proxy"
        data = source["jsonData"]
        assert "interval" not in data and data["timeField"] == "@timestamp"
        stream = source["uid"].removeprefix(f"{PREFIX}-")
        for period in PERIODS:
            assert fnmatch.fnmatchcase(index_for(PREFIX, stream, day, period), data["index"])
    provider = yaml.safe_load(grafana.provider_yaml())["providers"][0]
    assert provider["type"] == "file" and provider["options"]["path"]


def test_grafana_panels_have_known_types_sources_and_fields(
    grafana_docs: dict[str, dict[str, Any]],
) -> None:
    config = yaml.safe_load(grafana.datasources_yaml(builtin_dashboards(), PREFIX))
    uids = {s["uid"] for s in config["datasources"]}
    for document in grafana_docs.values():
        assert 8 <= len(document["uid"]) <= 40
        ids = [p["id"] for p in document["panels"]]
        assert len(ids) == len(set(ids))
        for panel in document["panels"]:
            assert panel["type"] in GRAFANA_PANELS
            assert panel["datasource"]["uid"] in uids
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24 and pos["h"] >= 1
            stream = panel["datasource"]["uid"].removeprefix(f"{PREFIX}-")
            (target,) = panel["targets"]
            assert target["timeField"] == "@timestamp" and target["bucketAggs"]
            kinds = [b["type"] for b in target["bucketAggs"]]
            assert "date_histogram" not in kinds[:-1]  # a time series ends with it
            assert (kinds[-1] == "date_histogram") == (panel["type"] == "timeseries")
            used = [m["field"] for m in target["metrics"] if "field" in m]
            used += [b["field"] for b in target["bucketAggs"] if b["type"] == "terms"]
            used += re.findall(r"([\w.@]+):", target["query"])
            for name in used:
                assert name in stream_fields(stream)


def test_grafana_layout_keeps_panels_apart(grafana_docs: dict[str, dict[str, Any]]) -> None:
    for document in grafana_docs.values():
        cells: set[tuple[int, int]] = set()
        for panel in document["panels"]:
            pos = panel["gridPos"]
            mine = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"])
                    for y in range(pos["y"], pos["y"] + pos["h"])}  # fmt: skip
            assert not cells & mine, (document["uid"], panel["title"])
            cells |= mine
    assert grid_of(0, 0, 12, 4) == {"x": 0, "y": 0, "w": 24, "h": 11}
    assert grid_of(3, 2, 3, 2) == {"x": 6, "y": 5, "w": 6, "h": 6}


def test_grafana_widget_types(grafana_docs: dict[str, dict[str, Any]]) -> None:
    def panel(dashboard: str, widget: str) -> dict[str, Any]:
        wanted = next(w.title for d in builtin_dashboards() if d.id == dashboard
                      for w in d.widgets if w.id == widget)  # fmt: skip
        return next(p for p in grafana_docs[dashboard]["panels"] if p["title"] == wanted)

    views = panel("web", "views")
    assert views["type"] == "stat"
    assert [b["type"] for b in views["targets"][0]["bucketAggs"]] == ["filters"]
    assert views["targets"][0]["query"] == 'event:"view"'
    assert panel("web", "visitors")["targets"][0]["metrics"] == [
        {"id": "1", "type": "cardinality", "field": VISITOR_FIELD}
    ]
    assert panel("web", "bots")["options"]["pieType"] == "donut"
    assert panel("web", "events")["type"] == "barchart"
    realtime = panel("web", "realtime")
    assert realtime["timeFrom"] == "30m"
    assert realtime["targets"][0]["bucketAggs"][-1]["settings"]["interval"] == "1m"
    assert grafana_docs["web"]["refresh"] == "30s"
    stacked = panel("logs", "requests-over-time")
    assert stacked["fieldConfig"]["defaults"]["custom"]["stacking"]["mode"] == "normal"
    assert [b["type"] for b in stacked["targets"][0]["bucketAggs"]] == ["terms", "date_histogram"]
    series = panel("health", "series")["targets"][0]["bucketAggs"][0]["settings"]
    assert (series["orderBy"], series["order"]) == ("_term", "asc")
    assert panel("web", "top-pages")["targets"][0]["bucketAggs"][0]["settings"]["orderBy"] == (
        "_count"
    )
    assert panel("allezon", "price")["type"] == "xychart"
    latency = panel("s3", "latency")
    assert latency["fieldConfig"]["defaults"]["unit"] == "ms"
    assert latency["targets"][0]["metrics"][0]["settings"] == {"percents": ["95"]}


# --- the shipped files -------------------------------------------------------------------


def test_the_shipped_files_are_what_the_generators_make() -> None:
    """Run `metronome dashboards export-kibana --out kibana/metronome.ndjson` and
    `metronome dashboards export-grafana --out grafana` after changing a definition."""
    expected = shipped_files(builtin_dashboards())
    for relative, text in expected.items():
        path = ROOT / relative
        assert path.is_file(), f"{relative} is missing"
        assert path.read_text(encoding="utf-8") == text, f"{relative} differs from its generator"
    shipped = {p.relative_to(ROOT).as_posix() for p in (ROOT / "grafana").rglob("*.json")}
    assert shipped == {p for p in expected if p.endswith(".json")}


def test_a_custom_definition_exports_too() -> None:
    raw = {
        "id": "shop", "title": "Shop", "stream": "logs",
        "widgets": [{"id": "hits", "type": "area", "layout": {"x": 0, "y": 0, "w": 12, "h": 3},
                     "options": {"stacked": True},
                     "query": {"metrics": ["count"], "dimensions": ["time:hour", "http.method"],
                               "filters": [["contains", "url.path", ["shop"]]], "limit": 5}}],
    }  # fmt: skip
    dashboard = parse_dashboard(raw, lambda stream: None)
    objects = kibana.saved_objects([dashboard], "acme")
    (lens,) = [o for o in objects if o["type"] == "lens"]
    layer = lens["attributes"]["state"]["visualization"]["layers"][0]
    assert layer["seriesType"] == "area_stacked" and lens["references"][0]["id"] == "acme-logs"
    columns = lens["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]["layer1"]
    assert columns["columns"]["time"]["params"]["interval"] == "1h"
    assert columns["columns"]["term0"]["params"]["size"] == 5
    (panel,) = grafana.dashboard_json(dashboard, "acme")["panels"]
    assert panel["targets"][0]["query"] == "url.path:*shop*"
    assert panel["datasource"]["uid"] == "acme-logs"
