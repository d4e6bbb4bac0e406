"""The queries the generated Kibana and Grafana objects carry are ones Elasticsearch accepts on
each stream's indices, and select what Metronome's own query engine selects.

Kibana's KQL is compiled by Kibana itself, so it is not run here (its quoting is unit-tested);
its ``contains`` / ``matches`` filters are query DSL, and Grafana's panel queries are Lucene
query strings: both go to Elasticsearch as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from metronome.dashboards.builtins import builtin_dashboards
from metronome.dashboards.export import grafana, kibana
from metronome.dashboards.export.plan import TEMPLATE_STREAMS
from metronome.dashboards.export.queries import dsl_filters, lucene
from metronome.es.naming import index_for
from metronome.es.templates import install_templates, remove_templates
from metronome.query.builder import filter_clause
from metronome.query.model import Filter

DAY = datetime(2026, 1, 5, 12, tzinfo=UTC)
DOCUMENTS = [
    {"event": "view", "url": {"path": "/Docs/Guide"}, "http": {"status": 200}, "bot": False},
    {"event": "download", "url": {"path": "/files/a b.tar.gz"}, "http": {"status": 404},
     "bot": True},
    {"event": 'say "hi"', "url": {"path": "/docs/other"}, "http": {"status": 500}, "bot": False},
]  # fmt: skip
FILTERS = [
    (Filter("is", "event", ("view", 'say "hi"')),),
    (Filter("is_not", "http.status", (200, 204)),),
    (Filter("contains", "url.path", ("docs",)),),  # case-insensitive in Metronome and Kibana
    (Filter("contains", "url.path", ("a b.tar",)),),
    (Filter("matches", "url.path", ("/files/.*",)),),
    (Filter("is", "bot", (True,)), Filter("is_not", "event", ("view",))),
]


@pytest.fixture
def indices(es: Elasticsearch, index_prefix: str) -> Iterator[str]:
    install_templates(es, index_prefix)
    for stream in TEMPLATE_STREAMS:
        es.indices.create(index=index_for(index_prefix, stream, DAY))
    hits = index_for(index_prefix, "hits", DAY)
    for document in DOCUMENTS:
        es.index(index=hits, document={"@timestamp": DAY.isoformat(), "site": "s", **document})
    es.indices.refresh(index=hits)
    yield hits
    remove_templates(es, index_prefix)


def _ids(es: Elasticsearch, index: str, query: dict[str, Any]) -> set[str]:
    found = es.search(index=index, query=query, size=10)["hits"]["hits"]
    return {hit["_source"]["event"] for hit in found}


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: "+".join(x.op for x in f))
def test_exported_filters_select_what_metronome_selects(
    es: Elasticsearch, indices: str, filters: tuple[Filter, ...]
) -> None:
    must = [filter_clause(f) for f in filters if f.op != "is_not"]
    must_not = [filter_clause(f) for f in filters if f.op == "is_not"]
    expected = _ids(es, indices, {"bool": {"filter": must, "must_not": must_not}})
    lucene_query = {"query_string": {"query": lucene(filters)}}
    if all(f.op != "contains" for f in filters):  # Lucene wildcards are case-sensitive
        assert _ids(es, indices, lucene_query) == expected
    # Kibana: the KQL part (is / is_not, as Metronome builds them) and the DSL filters
    dsl = [item["query"] for item in dsl_filters(filters)]
    is_clauses = [filter_clause(f) for f in filters if f.op == "is"]
    kibana_like = {"bool": {"filter": is_clauses + dsl, "must_not": must_not}}
    assert _ids(es, indices, kibana_like) == expected


def test_every_grafana_query_and_kibana_filter_is_valid(
    es: Elasticsearch, index_prefix: str, indices: str
) -> None:
    checked = 0
    for dashboard in builtin_dashboards():
        for panel in grafana.dashboard_json(dashboard, index_prefix)["panels"]:
            stream = panel["datasource"]["uid"].removeprefix(f"{index_prefix}-")
            (target,) = panel["targets"]
            if not target["query"]:
                continue
            answer = es.indices.validate_query(
                index=index_for(index_prefix, stream, DAY),
                query={"query_string": {"query": target["query"]}},
                explain=True,
            )
            assert answer["valid"], (panel["title"], target["query"], answer)
            checked += 1
        for item in kibana.saved_objects([dashboard], index_prefix):
            if item["type"] != "lens":
                continue
            for pill in item["attributes"]["state"]["filters"]:
                stream = item["references"][0]["id"].removeprefix(f"{index_prefix}-")
                answer = es.indices.validate_query(
                    index=index_for(index_prefix, stream, DAY), query=pill["query"]
                )
                assert answer["valid"], (item["id"], pill)
                checked += 1
    assert checked > 20
