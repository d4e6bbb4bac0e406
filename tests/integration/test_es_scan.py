"""The point-in-time scan against the real Elasticsearch: every document once, a frozen set,
and the point-in-time closed however the scan ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from elasticsearch import BadRequestError, Elasticsearch

from metronome.es.scan import scan

DOCS = 25
PAGE = 4  # 25 documents: six full pages and one of one


def open_contexts(es: Elasticsearch) -> int:
    stats = es.nodes.stats(metric="indices", index_metric="search").body
    return sum(node["indices"]["search"]["open_contexts"] for node in stats["nodes"].values())


@pytest.fixture
def index(es: Elasticsearch, index_prefix: str) -> Iterator[str]:
    name = f"{index_prefix}-scan"
    operations: list[dict[str, Any]] = []
    for n in range(DOCS):
        # Five documents share each timestamp: page edges fall inside groups of equals.
        moment = f"2026-11-22T10:00:0{n // 5}.000Z"
        operations += [
            {"create": {"_index": name, "_id": f"d{n:02d}"}},
            {"@timestamp": moment, "n": n, "extra": "x"},
        ]
    es.bulk(operations=operations, refresh=True)
    yield name


def test_every_document_comes_once_oldest_first_with_its_id_and_the_total(
    es: Elasticsearch, index: str
) -> None:
    totals: list[int] = []
    hits = list(scan(es, index, page_size=PAGE, with_ids=True, on_total=totals.append))
    assert sorted(hit["_id"] for hit in hits) == [f"d{n:02d}" for n in range(DOCS)]
    moments = [hit["_source"]["@timestamp"] for hit in hits]
    assert moments == sorted(moments)
    assert totals == [DOCS]


def test_a_query_and_fields_select_documents_and_their_fields(
    es: Elasticsearch, index: str
) -> None:
    query = {"range": {"n": {"gte": 10}}}
    totals: list[int] = []
    hits = list(scan(es, index, query, page_size=PAGE, fields=["n"], on_total=totals.append))
    assert sorted(hit["_source"]["n"] for hit in hits) == list(range(10, DOCS))
    assert all(hit["_source"].keys() == {"n"} and "_id" not in hit for hit in hits)
    assert totals == [DOCS - 10]


def test_documents_indexed_during_the_scan_are_not_read(es: Elasticsearch, index: str) -> None:
    hits = scan(es, index, page_size=PAGE)
    first = next(hits)
    es.index(index=index, id="late", document={"@timestamp": "2026-11-22T11:00:00Z"})
    es.indices.refresh(index=index)
    assert 1 + sum(1 for _ in hits) == DOCS
    assert first["_source"]["n"] < 5


@contextmanager
def no_point_in_time_left(es: Elasticsearch) -> Iterator[int]:
    """The block leaves as many open search contexts as it found (it yields that number)."""
    before = open_contexts(es)
    yield before
    assert open_contexts(es) == before


def test_the_point_in_time_is_closed_when_the_scan_ends(es: Elasticsearch, index: str) -> None:
    with no_point_in_time_left(es):
        assert sum(1 for _ in scan(es, index, page_size=PAGE)) == DOCS


def test_the_point_in_time_is_closed_when_the_reader_stops_early(
    es: Elasticsearch, index: str
) -> None:
    with no_point_in_time_left(es) as before:
        hits = scan(es, index, page_size=PAGE)
        for _ in range(PAGE + 1):  # into the second page
            next(hits)
        assert open_contexts(es) > before
        hits.close()


def test_the_point_in_time_is_closed_when_a_page_fails(es: Elasticsearch, index: str) -> None:
    broken = {"range": {"@timestamp": {"gte": "not a date"}}}
    with no_point_in_time_left(es), pytest.raises(BadRequestError):
        list(scan(es, index, broken, page_size=PAGE))


def test_nothing_is_asked_before_the_first_document_and_pages_need_a_size(
    es: Elasticsearch, index: str
) -> None:
    with no_point_in_time_left(es):
        unread = scan(es, index, page_size=PAGE)
    unread.close()
    with pytest.raises(ValueError, match="page_size"):
        next(scan(es, index, page_size=0))
