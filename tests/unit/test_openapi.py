from __future__ import annotations

import re
from pathlib import Path

from elasticsearch import Elasticsearch

from metronome.web.app import create_app
from metronome.web.openapi import build_spec
from tests.conftest import make_settings


def test_every_route_the_app_serves_is_described(tmp_path: Path) -> None:
    app = create_app(
        make_settings("http://127.0.0.1:9", "unit", tmp_path / "spool"),
        es=Elasticsearch("http://127.0.0.1:9"),
    )
    spec = app.test_client().get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    described = {  # path parameters compared by position, whatever their names
        (re.sub(r"\{[a-z_]+\}", "{id}", path), method.upper())
        for path, operations in spec["paths"].items()
        for method in operations
    }
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[a-z_]+:)?[a-z_]+>", "{id}", rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert (path, method) in described, f"{method} {path} is not in /openapi.json"


def test_request_schemas_come_from_the_validators() -> None:
    spec = build_spec("test")
    hit = spec["components"]["schemas"]["Hit"]
    assert "id" in hit["required"]
    query = spec["components"]["schemas"]["Query"]
    assert query["properties"]["format"]["enum"] == ["json", "csv", "xlsx", "ndjson"]
    tock_params = {p["name"] for p in spec["paths"]["/tock/{id}"]["get"]["parameters"]}
    assert {"from", "to", "interval", "tz", "compare", "top"} <= tock_params
