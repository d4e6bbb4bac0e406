"""Which questions take the top-N plan, the search it sends and how its answer is read (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from metronome.errors import ApiError
from metronome.query import topn
from metronome.query.catalog import FieldKind
from metronome.query.model import Query
from metronome.query.parse import parse_query

NOW = datetime(2015, 3, 15, 12, tzinfo=UTC)
FIELDS: dict[str, FieldKind] = {
    "format": "keyword", "id": "keyword", "price": "number", "load.ms": "number",
    "bot": "boolean",
}  # fmt: skip


def parse(**body: Any) -> Query:
    return parse_query({"metrics": ["count"], "dimensions": ["id"], **body}, "s", FIELDS, NOW)[0]


@pytest.mark.parametrize(
    ("body", "metric"),
    [
        ({}, "count"),
        ({"metrics": ["visitors", "count"]}, "visitors"),
        ({"metrics": ["count", "sum:price"], "order_by": [["sum:price", "desc"]]}, "sum:price"),
        ({"limit": 100, "page": 10}, "count"),
        ({"limit": 1001}, None),  # past the cap
        ({"limit": 10, "page": 101}, None),
        ({"exact": True}, None),
        ({"format": "csv"}, None),  # files: every row
        ({"dimensions": ["time:day"]}, None),
        ({"dimensions": ["id", "format"]}, None),
        ({"dimensions": []}, None),
        ({"order_by": [["count", "asc"]]}, None),
        ({"order_by": [["id", "desc"]]}, None),
        ({"order_by": [["count", "desc"], ["id", "asc"]]}, None),
        ({"metrics": ["avg:price"]}, None),  # a group without the field has no value
        ({"metrics": ["p95:price"]}, None),
    ],
)
def test_which_questions_take_the_top_n_plan(body: dict[str, Any], metric: str | None) -> None:
    chosen = topn.order_metric(parse(**body))
    assert (chosen.name if chosen else None) == metric


def test_exact_is_true_or_false_only() -> None:
    with pytest.raises(ApiError) as raised:
        parse(exact=1)
    assert raised.value.status == 422
    assert parse(exact=False).exact is False


def test_the_first_search_orders_by_the_metric_then_the_value() -> None:
    body = topn.top_body(parse(limit=10, page=2), parse().range)
    terms = body["aggs"]["top"]["terms"]
    assert terms["size"] == 21
    assert terms["order"] == [{"_count": "desc"}, {"_key": "asc"}]
    assert terms["shard_size"] == topn.MIN_SHARD_SIZE
    assert terms["collect_mode"] == "breadth_first"
    assert body["aggs"]["missing"] == {"missing": {"field": "id"}, "aggs": {}}
    assert body["aggs"]["groups"]["cardinality"]["field"] == "id"
    pages = parse(metrics=["count", "visitors"])
    assert topn.top_body(pages, pages.range)["aggs"]["top"]["aggs"] == {}  # read in the second
    assert topn.carries_values(pages) is False
    dotted = parse(metrics=["sum:load.ms"])
    aggs = topn.top_body(dotted, dotted.range)["aggs"]["top"]
    assert aggs["terms"]["order"][0] == {topn.ORDER_AGG: "desc"}  # "a.b" would be a path
    assert aggs["aggs"][topn.ORDER_AGG] == {"sum": {"field": "load.ms"}}
    visitors = parse(metrics=["visitors"])
    top = topn.top_body(visitors, visitors.range)["aggs"]["top"]
    assert top["terms"]["order"][0] == {"visitors": "desc"}
    assert top["aggs"]["visitors"]["cardinality"]["field"] == "visitor"


def bucket(key: Any, count: int, **extra: Any) -> dict[str, Any]:
    return {"key": key, "doc_count": count, **extra}


def answer(
    buckets: list[dict[str, Any]], *, missing: int = 0, groups: int, bound: int = 0
) -> dict[str, Any]:
    return {
        "aggregations": {
            "top": {"doc_count_error_upper_bound": bound, "buckets": buckets},
            "missing": {"doc_count": missing},
            "groups": {"value": groups},
        }
    }


def test_the_candidates_are_the_groups_found_and_the_missing_group() -> None:
    query = parse(limit=2)
    read = topn.read_top(query, answer([bucket("a", 5), bucket("b", 3)], missing=3, groups=2))
    assert read.keys == ["a", "b", None]
    assert (read.total_rows, read.total_exact, read.complete) == (3, True, True)
    assert [(key, count) for key, _, count in read.values or []] == [(None, 3), ("a", 5), ("b", 3)]


def test_boolean_groups_read_as_the_exact_plan_reads_them() -> None:
    query = parse(dimensions=["bot"])
    flags = [bucket(0, 9, key_as_string="false"), bucket(1, 2, key_as_string="true")]
    assert topn.read_top(query, answer(flags, groups=2)).keys == [False, True]


def test_order_is_exact_only_when_nothing_left_out_could_rank() -> None:
    many = topn.MIN_SHARD_SIZE + 1
    query = parse(limit=1)
    read = topn.read_top(query, answer([bucket("a", 100), bucket("b", 10)], groups=many, bound=20))
    assert (read.complete, read.left_out_bound) == (False, 30)  # seen with 10, 20 more unseen
    assert topn.order_exact(query, read, [[100]]) is True
    assert topn.order_exact(query, read, [[30]]) is False  # a tie is ordered by value
    few = answer([bucket("a", 100), bucket("b", 80)], groups=topn.MIN_SHARD_SIZE // 2, bound=20)
    read = topn.read_top(query, few)
    assert topn.order_exact(query, read, [[81]]) is True  # every shard sent every group
    assert read.values is not None  # so the values are whole: no second search
    unbounded = answer([bucket("a", 100), bucket("b", 80)], groups=many, bound=0)
    assert topn.read_top(query, unbounded).complete is True  # no shard cut its list
    visitors = parse(metrics=["visitors"], limit=1)
    by_visitors = answer([bucket("a", 9), bucket("b", 3)], groups=many, bound=-1)
    read = topn.read_top(visitors, by_visitors)
    assert read.left_out_bound is None
    assert topn.order_exact(visitors, read, [[10**6]]) is False  # no bound known


def test_the_total_is_a_distinct_count_unless_every_group_came_back() -> None:
    query = parse(limit=1)
    read = topn.read_top(query, answer([bucket("a", 9), bucket("b", 1)], groups=50_000))
    assert (read.total_rows, read.total_exact) == (50_000, False)
    read = topn.read_top(query, answer([bucket("a", 9), bucket("b", 1)], groups=2))
    assert (read.total_rows, read.total_exact) == (2, False)
    read = topn.read_top(parse(limit=2), answer([bucket("a", 9), bucket("b", 1)], groups=2))
    assert (read.total_rows, read.total_exact) == (2, True)


def test_the_compared_range_is_asked_for_the_answered_groups_only() -> None:
    query = parse()
    body: dict[str, Any] = {"query": {"match_all": {}}, "aggs": {}}
    restricted = topn.restrict(body, query, ["a", None])
    clause = restricted["query"]["bool"]["filter"][1]["bool"]
    assert clause["should"] == [
        {"terms": {"id": ["a"]}},
        {"bool": {"must_not": [{"exists": {"field": "id"}}]}},
    ]
    assert body["query"] == {"match_all": {}}  # not changed in place
