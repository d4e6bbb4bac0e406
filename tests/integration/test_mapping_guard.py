"""A site that floods parameter names or changes types must not break its index or others."""

from __future__ import annotations

from collections.abc import Callable

from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from metronome.config import Settings
from metronome.es.mapping_report import count_fields, mapping_report


def test_thousands_of_parameter_names_keep_every_hit_and_other_sites_working(
    client: FlaskClient, es: Elasticsearch, settings: Settings, ship: Callable[[], int]
) -> None:
    flood = [
        {"id": "flood", "time": "2026-01-05T10:00:00Z", **{f"p{n}_{i}": i for i in range(90)}}
        for n in range(30)
    ]  # 2,700 distinct names, over the 2,000-field limit
    for start in range(0, len(flood), 10):
        assert client.post("/tick", json=flood[start : start + 10]).status_code == 202
    later = {"id": "calm", "time": "2026-01-05T11:00:00Z", "plan": "pro", "price": 5}
    assert client.post("/tick", json=later).status_code == 202
    ship()

    index = f"{settings.elasticsearch.index_prefix}-hits-2026.01"  # hits: by month
    assert es.count(index=index)["count"] == 31  # nothing lost
    stored = es.search(index=index, query={"term": {"id": "calm"}})["hits"]["hits"][0]
    assert stored["_source"]["plan"] == "pro"  # kept in _source even if the field is unmapped
    (report,) = mapping_report(es, index)
    assert report.mapped_fields <= report.field_limit == 2000
    assert report.documents_with_ignored > 0
    assert any(name.startswith("p") for name in report.ignored_fields)


def test_a_value_of_the_wrong_type_is_kept_not_refused(
    client: FlaskClient, es: Elasticsearch, settings: Settings, ship: Callable[[], int]
) -> None:
    first = {"id": "t", "time": "2026-01-06T10:00:00Z", "load_ms": 120}
    second = {"id": "t", "time": "2026-01-06T10:01:00Z", "load_ms": "slow"}
    client.post("/tick", json=[first, second])
    ship()
    index = f"{settings.elasticsearch.index_prefix}-hits-2026.01"
    assert es.count(index=index)["count"] == 2
    (report,) = mapping_report(es, index)
    assert report.ignored_fields == {"load_ms": 1}
    total = es.search(index=index, size=0, aggs={"s": {"sum": {"field": "load_ms"}}})
    assert total["aggregations"]["s"]["value"] == 120


def test_fields_are_counted_like_elasticsearch_counts_them() -> None:
    properties = {
        "a": {"type": "keyword"},
        "o": {"properties": {"x": {"type": "double"}, "y": {"type": "keyword"}}},
        "m": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
    }
    assert count_fields(properties) == 6
