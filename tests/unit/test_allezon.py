"""Allezon endpoints without Elasticsearch: tag checks, parameters, query bodies, result shapes,
configuration, and the HTTP answers that come before any search."""

from __future__ import annotations

import copy
import gzip
import io
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from flask import Response
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict
from werkzeug.test import Client

from metronome.compat.allezon.builder import aggregates_body, indices_for, profile_search
from metronome.compat.allezon.model import MAX_LIMIT, AggregatesQuery, ProfileQuery
from metronome.compat.allezon.parse import (
    parse_aggregates,
    parse_limit,
    parse_profile,
    parse_time_range,
)
from metronome.compat.allezon.profiles import by_action, fetch_profile, missing_actions
from metronome.compat.allezon.result import (
    aggregates_result,
    format_minute,
    format_sum,
    profile_result,
)
from metronome.compat.allezon.tag import TAG as TAG_DEFINITION
from metronome.compat.allezon.tag import TAG_FIELD, TagError, check_tag, tag_document
from metronome.config import ConfigError, HitLimits, load_settings, settings_from_mapping
from metronome.errors import ApiError
from metronome.spool.entry import decode_entry
from metronome.spool.reader import list_segments, read_chunk
from metronome.web.app import create_app
from metronome.web.fastpath import FastPath
from metronome.web.security_headers import SECURITY_HEADERS
from tests.conftest import ROOT, flask_calls, make_settings
from tests.openapi_schemas import component, named_fields, spec

NOW = datetime(2022, 3, 22, 12, 0, tzinfo=UTC)
TAG: dict[str, Any] = {
    "time": "2022-03-22T12:15:00.000Z",
    "cookie": "kUJ3x9bQ",
    "country": "PL",
    "device": "PC",
    "action": "VIEW",
    "origin": "US_CAMPAIGN_7",
    "product_info": {"product_id": 2137, "brand_id": "Nike", "category_id": "Shoes", "price": 21},
}
ALLEZON_SITES = {"default": {"write_auth": "none"}, "allezon": {"write_auth": "none"}}


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def changed(path: str, value: Any) -> dict[str, Any]:
    """TAG with one field set (``...`` deletes it); ``path`` is ``name`` or ``product_info.x``."""
    tag = copy.deepcopy(TAG)
    node = tag
    *parents, last = path.split(".")
    for parent in parents:
        node = node[parent]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return tag


# --- tags ------------------------------------------------------------------------------------


def test_a_spec_tag_is_accepted_with_its_time() -> None:
    assert check_tag(TAG, HitLimits(), NOW) == t("2022-03-22T12:15:00")
    for ids in ({"product_id": "p-1", "brand_id": 7, "category_id": 0}, {"product_id": 0}):
        tag = copy.deepcopy(TAG)
        tag["product_info"].update(ids)
        check_tag(tag, HitLimits(), NOW)


BAD_TAGS: list[tuple[Any, str | None]] = [
    ([TAG], None),
    ("tag", None),
    (changed("time", ...), "time"),
    (changed("cookie", ...), "cookie"),
    (changed("product_info", ...), "product_info"),
    (changed("product_info.price", ...), "product_info.price"),
    (changed("extra", 1), "extra"),
    (changed("product_info.extra", 1), "product_info.extra"),
    (changed("time", "2022-03-22T12:15:00.000"), "time"),  # no Z
    (changed("time", "2022-03-22T12:15:00.000+01:00"), "time"),
    (changed("time", "2022-02-30T12:15:00.000Z"), "time"),
    (changed("time", "2022-03-22"), "time"),
    (changed("time", "2022-03-22T12:15:00.000Z\n"), "time"),
    (changed("time", 1647951300000), "time"),
    (changed("time", "1969-12-31T23:59:59.999Z"), "time"),
    (changed("device", "pc"), "device"),
    (changed("device", "PHONE"), "device"),
    (changed("device", ["PC"]), "device"),
    (changed("action", "CLICK"), "action"),
    (changed("action", None), "action"),
    (changed("cookie", ""), "cookie"),
    (changed("cookie", 12), "cookie"),
    (changed("cookie", "x" * 1025), "cookie"),
    (changed("cookie", "\ud800"), "cookie"),
    (changed("country", None), "country"),
    (changed("origin", {"a": 1}), "origin"),
    (changed("product_info", []), "product_info"),
    (changed("product_info.price", 21.5), "product_info.price"),
    (changed("product_info.price", 21.0), "product_info.price"),
    (changed("product_info.price", "21"), "product_info.price"),
    (changed("product_info.price", True), "product_info.price"),
    (changed("product_info.price", 2**60), "product_info.price"),
    (changed("product_info.product_id", True), "product_info.product_id"),
    (changed("product_info.brand_id", 1.5), "product_info.brand_id"),
    (changed("product_info.category_id", ""), "product_info.category_id"),
    (changed("product_info.category_id", None), "product_info.category_id"),
]


@pytest.mark.parametrize(("tag", "field"), BAD_TAGS)
def test_a_bad_tag_is_refused_naming_the_field(tag: Any, field: str | None) -> None:
    with pytest.raises(TagError) as caught:
        check_tag(tag, HitLimits(), NOW)
    assert caught.value.field == field
    if field:
        assert caught.value.message.startswith(f"{field}: ")


# What JSON Schema cannot say (the schema's description says it): a lone surrogate, a whole
# number written as 21.0. The check refuses these tags; the schema accepts them.
BEYOND_THE_SCHEMA = [
    changed("cookie", "\ud800"),
    changed("product_info.price", 21.0),
    changed("product_info.brand_id", 7.0),
]


@pytest.mark.parametrize(("tag", "field"), [(TAG, None), *BAD_TAGS])
def test_the_published_schema_refuses_exactly_what_the_check_refuses_on_the_same_field(
    tag: Any, field: str | None
) -> None:
    schema = component("UserTag")
    errors = list(schema.iter_errors(tag))
    if tag in BEYOND_THE_SCHEMA:
        assert errors == []
        return
    assert bool(errors) == (tag is not TAG)
    if field is not None:
        refused = named_fields(errors)
        assert field in refused or field.split(".")[0] in refused, (field, refused)


def test_the_published_schema_is_the_one_derived_from_the_definition() -> None:
    published = copy.deepcopy(spec()["components"]["schemas"])
    derived = TAG_DEFINITION.schema()
    product_info = derived["properties"].pop("product_info")
    assert published["ProductInfo"] == json.loads(json.dumps(product_info))
    del published["UserTag"]["properties"]["product_info"]
    assert published["UserTag"] == json.loads(json.dumps(derived))
    assert derived["additionalProperties"] is False
    for tag in BEYOND_THE_SCHEMA:  # the schema accepts what the check refuses: only these
        assert component("UserTag").is_valid(tag)
        with pytest.raises(TagError):
            check_tag(tag, HitLimits(), NOW)


def test_years_old_tags_are_accepted_and_a_day_ahead_is_the_limit() -> None:
    check_tag(changed("time", "2015-01-01T00:00:00.000Z"), HitLimits(), NOW)
    check_tag(changed("time", "2022-03-23T11:59:59.999Z"), HitLimits(), NOW)
    with pytest.raises(TagError) as caught:
        check_tag(changed("time", "2022-03-23T12:00:00.001Z"), HitLimits(), NOW)
    assert caught.value.field == "time"
    with pytest.raises(TagError):  # a site may still bound the age
        check_tag(changed("time", "2015-01-01T00:00:00.000Z"), HitLimits(max_age_days=30), NOW)


def test_the_document_keeps_the_tag_and_queryable_fields() -> None:
    doc = tag_document(TAG, t("2022-03-22T12:15:00"), "allezon", NOW)
    assert doc[TAG_FIELD] is TAG
    assert doc["@timestamp"] == "2022-03-22T12:15:00.000Z"
    assert (doc["type"], doc["site"], doc["event"], doc["id"]) == (
        "hits",
        "allezon",
        "view",
        "2137",
    )
    assert doc["cookie"] == doc["visitor"] == "kUJ3x9bQ"
    assert doc["product_info"] == TAG["product_info"]
    assert len(doc["hit_id"]) == 32
    assert tag_document(TAG, NOW, "allezon", NOW)["hit_id"] != doc["hit_id"]


# --- parameters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "2022-03-22T12:15:00.000_2022-03-22T12:30:00.000",
            (t("2022-03-22T12:15:00"), t("2022-03-22T12:30:00")),
        ),
        (
            "2022-03-22T12:15:00.001_2022-03-22T12:15:00.002",
            (t("2022-03-22T12:15:00.001"), t("2022-03-22T12:15:00.002")),
        ),
        (
            "2022-03-22T12:15:00_2022-03-22T12:30:00",
            (t("2022-03-22T12:15:00"), t("2022-03-22T12:30:00")),
        ),
        (
            "2022-03-22T12:15:00.000Z_2022-03-22T12:30:00.000Z",
            (t("2022-03-22T12:15:00"), t("2022-03-22T12:30:00")),
        ),
    ],
)
def test_time_ranges_are_utc_with_optional_milliseconds(
    text: str, expected: tuple[datetime, datetime]
) -> None:
    assert parse_time_range(text) == expected


@pytest.mark.parametrize(
    ("text", "status"),
    [
        (None, 400),
        ("", 400),
        ("2022-03-22T12:15:00.000", 400),
        ("2022-03-22T12:15:00.000-2022-03-22T12:30:00.000", 400),
        ("2022-03-22T12:15:00.000_", 400),
        ("2022-03-22_2022-03-23", 400),
        ("2022-03-22T12:15:00.00_2022-03-22T12:30:00.000", 400),
        ("2022-03-22T12:15:00.000+01:00_2022-03-22T12:30:00.000", 400),
        ("2022-02-30T12:15:00.000_2022-03-22T12:30:00.000", 400),
        ("2022-03-22T12:15:00.000_2022-03-22T12:30:00.000_x", 400),
        ("2022-03-22T12:30:00.000_2022-03-22T12:30:00.000", 422),
        ("2022-03-22T12:30:00.000_2022-03-22T12:15:00.000", 422),
    ],
)
def test_bad_time_ranges_are_refused(text: str | None, status: int) -> None:
    with pytest.raises(ApiError) as caught:
        parse_time_range(text)
    assert (caught.value.status, caught.value.field) == (status, "time_range")


def test_limit_defaults_to_200_and_must_be_a_positive_integer() -> None:
    assert (parse_limit(None), parse_limit("1"), parse_limit("10000")) == (200, 1, 10_000)
    for text in ("0", "-1", "", "abc", "1.5", "10001", " 5", "+5", "٣", "9" * 40, "0000000100000"):
        with pytest.raises(ApiError) as caught:
            parse_limit(text)
        assert (caught.value.status, caught.value.field) == (400, "limit")


def test_a_profile_query_checks_range_then_limit_then_cookie() -> None:
    args: MultiDict[str, str] = MultiDict(
        [("time_range", "2022-03-22T12:15:00.000_2022-03-22T12:30:00.000"), ("limit", "5")]
    )
    assert parse_profile("c1", args) == ProfileQuery(
        "c1", t("2022-03-22T12:15:00"), t("2022-03-22T12:30:00"), 5
    )
    for cookie, bad, field in (
        ("x" * 1025, {"limit": "0"}, "limit"),
        ("x" * 1025, {"time_range": "yesterday"}, "time_range"),
        ("x" * 1025, {}, None),
    ):
        with pytest.raises(ApiError) as caught:
            parse_profile(cookie, MultiDict({**args.to_dict(), **bad}))
        assert (caught.value.status, caught.value.field) == (400, field)


def aggregates_args(**extra: str | list[str]) -> MultiDict[str, str]:
    args: MultiDict[str, str] = MultiDict(
        [("time_range", "2022-03-01T00:05:00_2022-03-01T00:08:00"), ("action", "BUY")]
    )
    for name, value in extra.items():
        args.setlist(name, value if isinstance(value, list) else [value])
    return args


def test_columns_follow_the_spec_order_whatever_the_query_order() -> None:
    args: MultiDict[str, str] = MultiDict(
        [
            ("aggregates", "SUM_PRICE"),
            ("category_id", "7"),
            ("time_range", "2022-03-01T00:05:00.000_2022-03-01T00:15:00.000"),
            ("origin", "US"),
            ("aggregates", "COUNT"),
            ("action", "VIEW"),
        ]
    )
    query = parse_aggregates(args)
    assert query.columns == ["1m_bucket", "action", "origin", "category_id", "sum_price", "count"]
    assert query.filters == (("origin", "US"), ("category_id", "7"))
    assert parse_aggregates(aggregates_args(aggregates="COUNT")).columns == [
        "1m_bucket",
        "action",
        "count",
    ]


@pytest.mark.parametrize(
    ("args", "status", "field"),
    [
        (aggregates_args(), 400, "aggregates"),
        (aggregates_args(aggregates="AVG_PRICE"), 400, "aggregates"),
        (aggregates_args(aggregates="count"), 400, "aggregates"),
        (aggregates_args(aggregates="COUNT", action="CLICK"), 400, "action"),
        (aggregates_args(aggregates="COUNT", action=[]), 400, "action"),
        (aggregates_args(aggregates="COUNT", action=["BUY", "VIEW"]), 400, "action"),
        (aggregates_args(aggregates="COUNT", origin=""), 400, "origin"),
        (aggregates_args(aggregates="COUNT", brand_id=["a", "b"]), 400, "brand_id"),
        (aggregates_args(aggregates="COUNT", time_range=[]), 400, "time_range"),
        (
            aggregates_args(
                aggregates="COUNT", time_range="2022-03-01T00:05:00_2022-03-01T00:16:00"
            ),
            422,
            "time_range",
        ),
        (
            aggregates_args(
                aggregates="COUNT", time_range="2022-03-01T00:05:30_2022-03-01T00:06:30"
            ),
            422,
            "time_range",
        ),
        (
            aggregates_args(
                aggregates="COUNT", time_range="2022-03-01T00:05:00.000_2022-03-01T00:06:00.001"
            ),
            422,
            "time_range",
        ),
    ],
)
def test_bad_aggregate_queries_are_refused(
    args: MultiDict[str, str], status: int, field: str
) -> None:
    with pytest.raises(ApiError) as caught:
        parse_aggregates(args)
    assert (caught.value.status, caught.value.field) == (status, field)


def test_ten_minutes_is_the_longest_aggregate_range() -> None:
    query = parse_aggregates(
        aggregates_args(aggregates="COUNT", time_range="2022-03-01T00:05:00_2022-03-01T00:15:00")
    )
    assert query.end - query.start == timedelta(minutes=10)


# --- query bodies and results ----------------------------------------------------------------


PROFILE = ProfileQuery("c1", t("2022-03-22T12:15:00"), t("2022-03-22T12:30:00.001"), 5)


def test_the_profile_search_asks_both_actions_newest_first() -> None:
    body = profile_search("allezon", PROFILE)
    assert body["size"] == 10  # limit per action
    assert body["sort"] == [{"@timestamp": "desc"}]
    assert body["_source"] == [TAG_FIELD]
    assert body["query"]["bool"]["filter"] == [
        {"term": {"site": "allezon"}},
        {"term": {"cookie": "c1"}},
        {
            "range": {
                "@timestamp": {"gte": 1647951300000, "lt": 1647952200001, "format": "epoch_millis"}
            }
        },
        {"terms": {"action": ["VIEW", "BUY"]}},
    ]
    alone = profile_search("allezon", PROFILE, ("BUY",))
    assert alone["size"] == 5
    assert alone["query"]["bool"]["filter"][-1] == {"term": {"action": "BUY"}}
    assert profile_search("allezon", replace(PROFILE, limit=MAX_LIMIT))["size"] == MAX_LIMIT


def hit(action: str, second: int) -> dict[str, Any]:
    tag = changed("time", f"2022-03-22T12:20:{second:02d}.000Z")
    tag["action"] = action
    return {"_source": {TAG_FIELD: tag}}


def test_only_an_action_a_full_page_may_lack_gets_a_search_of_its_own() -> None:
    found = by_action([hit("VIEW", 9), hit("BUY", 8), hit("VIEW", 7), {"_source": {}}])
    assert [tag["time"][17:19] for tag in found["VIEW"]] == ["09", "07"]
    assert missing_actions(found, returned=3, size=4, limit=2) == []  # every tag of the range
    assert missing_actions(found, returned=3, size=3, limit=2) == ["BUY"]  # older BUYs may exist
    assert missing_actions(found, returned=3, size=3, limit=1) == []
    both_short = by_action([hit("VIEW", 9), hit("BUY", 8)])
    assert missing_actions(both_short, returned=2, size=2, limit=5) == ["VIEW", "BUY"]


def test_fetch_profile_searches_again_only_for_the_short_action() -> None:
    pages = {
        2: {"hits": {"hits": [hit("VIEW", 9), hit("VIEW", 8)]}},  # full, and no BUY in it
        1: {"hits": {"hits": [hit("BUY", 1)]}},
    }
    bodies: list[dict[str, Any]] = []

    def search(body: dict[str, Any]) -> dict[str, Any]:
        bodies.append(body)
        return pages[body["size"]]

    tags = fetch_profile(search, "allezon", replace(PROFILE, limit=1))
    assert [len(tags["VIEW"]), len(tags["BUY"])] == [1, 1]
    assert tags["VIEW"][0]["time"].endswith(":09.000Z")
    assert len(bodies) == 2
    assert bodies[1]["query"]["bool"]["filter"][-1] == {"term": {"action": "BUY"}}
    answer = profile_result("c1", tags)
    assert answer == {"cookie": "c1", "views": tags["VIEW"], "buys": tags["BUY"]}


def query_of(
    aggregates: tuple[str, ...], filters: tuple[tuple[str, str], ...] = ()
) -> AggregatesQuery:
    return AggregatesQuery(
        t("2022-03-01T00:05:00"), t("2022-03-01T00:08:00"), "BUY", filters, aggregates
    )


def test_the_aggregate_body_sums_only_when_asked() -> None:
    body = aggregates_body("allezon", query_of(("COUNT",), (("brand_id", "Nike"),)))
    histogram = body["aggs"]["minutes"]
    assert histogram["date_histogram"] == {"field": "@timestamp", "fixed_interval": "1m"}
    assert "aggs" not in histogram
    assert body["size"] == 0
    assert {"term": {"product_info.brand_id": "Nike"}} in body["query"]["bool"]["filter"]
    summed = aggregates_body("allezon", query_of(("SUM_PRICE",)))["aggs"]["minutes"]
    assert summed["aggs"] == {"sum_price": {"sum": {"field": "product_info.price"}}}


def test_every_minute_is_a_row_of_strings_zero_filled() -> None:
    query = query_of(("COUNT", "SUM_PRICE"), (("origin", "US"),))
    response = {
        "aggregations": {
            "minutes": {
                "buckets": [
                    # 00:06 is missing, as Elasticsearch leaves out empty edge buckets
                    {"key": 1646093100000, "doc_count": 3, "sum_price": {"value": 60.0}},
                    {
                        "key": 1646093220000,
                        "doc_count": 1,
                        "sum_price": {"value": 9007199254740991.0},
                    },
                ]
            }
        }
    }
    assert aggregates_result(query, response) == {
        "columns": ["1m_bucket", "action", "origin", "count", "sum_price"],
        "rows": [
            ["2022-03-01T00:05:00", "BUY", "US", "3", "60"],
            ["2022-03-01T00:06:00", "BUY", "US", "0", "0"],
            ["2022-03-01T00:07:00", "BUY", "US", "1", "9007199254740991"],
        ],
    }
    empty = aggregates_result(query_of(("SUM_PRICE", "COUNT")), {"hits": {}})
    assert empty["rows"] == [[f"2022-03-01T00:0{m}:00", "BUY", "0", "0"] for m in (5, 6, 7)]


def test_formatting_of_minutes_and_sums() -> None:
    assert format_minute(t("2022-03-01T00:05:00")) == "2022-03-01T00:05:00"
    assert format_minute(datetime(5, 1, 2, 3, 4, tzinfo=UTC)) == "0005-01-02T03:04:00"
    assert (format_sum(None), format_sum(0.0), format_sum(1234.0), format_sum(-3.0)) == (
        "0",
        "0",
        "1234",
        "-3",
    )
    assert format_sum(2.5) == "2.5"


def test_only_the_indices_of_the_range_are_searched() -> None:
    around = "p-hits-2022,p-hits-2022.03"  # the year and month indices that hold the days
    assert (
        indices_for("p", t("2022-03-22T12:00:00"), t("2022-03-22T12:10:00"))
        == f"{around},p-hits-2022.03.22"
    )
    assert indices_for("p", t("2022-03-22T23:59:00"), t("2022-03-23T00:01:00")) == (
        f"{around},p-hits-2022.03.22,p-hits-2022.03.23"
    )
    assert (
        indices_for("p", t("2022-03-22T12:00:00"), t("2022-03-23T00:00:00"))
        == f"{around},p-hits-2022.03.22"
    )
    assert indices_for("p", t("2022-01-01T00:00:00"), t("2022-03-01T00:00:00")) == (
        "p-hits-2022,p-hits-2022.01*,p-hits-2022.02*"
    )
    assert indices_for("p", t("2022-01-02T00:00:00"), t("2022-03-30T00:00:00")) == "p-hits-*"


# --- configuration ---------------------------------------------------------------------------


def test_the_allezon_endpoints_are_off_unless_enabled() -> None:
    for settings in (
        load_settings(ROOT / "config" / "metronome.yml", environ={}),
        settings_from_mapping({}),
    ):
        assert not settings.allezon.enabled
    on = settings_from_mapping(
        {
            "allezon": {"enabled": True},
            "sites": {"default": {"write_auth": "none"}, "allezon": {"write_auth": "none"}},
        }
    )
    assert on.allezon.enabled and on.allezon.site == "allezon"


def test_allezon_settings_are_checked() -> None:
    moved = settings_from_mapping(
        {
            "allezon": {"site": "shop", "enabled": True},
            "sites": {"default": {"write_auth": "none"}, "shop": {"write_auth": "none"}},
        }
    )
    assert moved.allezon.site == "shop"
    with pytest.raises(ConfigError, match=r"allezon\.site: 'nope' is not one of the sites"):
        settings_from_mapping({"allezon": {"site": "nope", "enabled": True}})
    with pytest.raises(ConfigError, match=r"allezon\.colour: Unknown setting"):
        settings_from_mapping({"allezon": {"colour": "red"}})


# --- HTTP, before any search -----------------------------------------------------------------

MakeClient = Callable[..., FlaskClient]


@pytest.fixture
def make_client(tmp_path: Path) -> MakeClient:
    def make(**overrides: Any) -> FlaskClient:
        overrides.setdefault("sites", ALLEZON_SITES)
        overrides.setdefault("allezon", {"enabled": True})
        settings = make_settings("http://127.0.0.1:9", "unit", tmp_path / "spool", **overrides)
        return create_app(settings, es=Elasticsearch("http://127.0.0.1:9")).test_client()

    return make


def spooled(spool_dir: Path) -> list[dict[str, Any]]:
    docs = []
    for segment in list_segments(spool_dir):
        for record in read_chunk(segment, 0, 1000, 1 << 24).records:
            docs.append(decode_entry(record.payload).to_entry().doc)
    return docs


def test_a_tag_is_204_and_durably_spooled_as_sent(make_client: MakeClient, tmp_path: Path) -> None:
    client = make_client()
    old = changed("time", "2019-06-01T08:00:00.123Z")
    for tag in (TAG, old):
        response = client.post("/user_tags", json=tag)
        assert response.status_code == 204
        assert response.data == b""
    docs = spooled(tmp_path / "spool")
    assert [doc[TAG_FIELD] for doc in docs] == [TAG, old]
    assert docs[1]["@timestamp"] == "2019-06-01T08:00:00.123Z"
    assert {doc["site"] for doc in docs} == {"allezon"}


@pytest.mark.parametrize(
    "case",
    [
        ({"json": changed("device", "FRIDGE")}, 422, "invalid_user_tag", "device"),
        (
            {"json": changed("product_info.price", 9.99)},
            422,
            "invalid_user_tag",
            "product_info.price",
        ),
        ({"json": changed("action", ...)}, 422, "invalid_user_tag", "action"),
        ({"json": [TAG]}, 422, "invalid_user_tag", None),
        ({"data": "{not json", "content_type": "application/json"}, 400, "malformed_json", None),
        ({"data": "", "content_type": "application/json"}, 400, "empty_body", None),
        (
            {"data": json.dumps(TAG), "content_type": "image/png"},
            415,
            "unsupported_media_type",
            None,
        ),
        (
            {"data": "time=x", "content_type": "application/x-www-form-urlencoded"},
            415,
            "unsupported_media_type",
            None,
        ),
        ({"data": json.dumps(TAG)}, 415, "unsupported_media_type", None),
        (
            {"data": json.dumps(TAG), "content_type": "text/plain"},
            204,
            None,
            None,
        ),
    ],
)
def test_tag_bodies_are_json_and_refusals_are_json_errors(
    make_client: MakeClient, tmp_path: Path, case: tuple[dict[str, Any], int, str, str | None]
) -> None:
    kwargs, status, code, field = case
    response = make_client().post("/user_tags", **kwargs)
    assert response.status_code == status
    if status == 204:  # text/plain (what sendBeacon sends) is JSON too
        assert len(spooled(tmp_path / "spool")) == 1
        return
    error = response.get_json()["error"]
    assert (error["code"], error.get("field")) == (code, field)
    assert spooled(tmp_path / "spool") == []


@pytest.mark.parametrize(
    ("url", "status", "field"),
    [
        ("/user_profiles/c1", 400, "time_range"),
        ("/user_profiles/c1?time_range=yesterday", 400, "time_range"),
        (
            "/user_profiles/c1?time_range=2022-03-22T12:30:00.000_2022-03-22T12:15:00.000",
            422,
            "time_range",
        ),
        (
            "/user_profiles/c1?time_range=2022-03-22T12:15:00.000_2022-03-22T12:30:00.000&limit=0",
            400,
            "limit",
        ),
        (
            "/user_profiles/c1?time_range=2022-03-22T12:15:00.000_2022-03-22T12:30:00.000&limit=x",
            400,
            "limit",
        ),
        ("/aggregates?action=VIEW&aggregates=COUNT", 400, "time_range"),
        (
            "/aggregates?time_range=2022-03-22T12:15:00_2022-03-22T12:30:00&action=VIEW&aggregates=COUNT",
            422,
            "time_range",
        ),
        (
            "/aggregates?time_range=2022-03-22T12:15:00_2022-03-22T12:20:00&action=LIKE&aggregates=COUNT",
            400,
            "action",
        ),
        (
            "/aggregates?time_range=2022-03-22T12:15:00_2022-03-22T12:20:00&action=VIEW&aggregates=MAX",
            400,
            "aggregates",
        ),
    ],
)
def test_bad_queries_get_json_errors_whatever_the_body(
    make_client: MakeClient, url: str, status: int, field: str
) -> None:
    response = make_client().post(url, data="{garbage", content_type="application/json")
    assert response.status_code == status
    assert response.get_json()["error"]["field"] == field


def test_disabled_endpoints_are_not_found(make_client: MakeClient) -> None:
    client = make_client(allezon={"enabled": False})
    for url in (
        "/user_tags",
        "/user_profiles/c1?time_range=2022-03-22T12:15:00.000_2022-03-22T12:30:00.000",
        "/aggregates?time_range=2022-03-22T12:15:00_2022-03-22T12:20:00&action=VIEW&aggregates=COUNT",
    ):
        response = client.post(url, json=TAG)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"


def test_enabled_endpoints_without_their_site_are_a_configuration_error(
    make_client: MakeClient,
) -> None:
    with pytest.raises(ConfigError, match=r"allezon\.site: 'allezon' is not one of the sites"):
        make_client(sites={"default": {"write_auth": "none"}})


def test_a_site_with_write_keys_needs_one(make_client: MakeClient) -> None:
    key = "pk_allezon_0001"
    client = make_client(
        sites={"default": {"write_auth": "none"}, "allezon": {"write_keys": [key]}}
    )
    assert client.post("/user_tags", json=TAG).status_code == 401
    assert client.post("/user_tags", json=TAG, headers={"X-Metronome-Key": key}).status_code == 204
    assert client.post(f"/user_tags?key={key}", json=TAG).status_code == 204
    assert client.post("/user_tags?key=pk_other", json=TAG).status_code == 401


def test_a_stored_tag_answers_a_plain_204(make_client: MakeClient) -> None:
    response = make_client().post("/user_tags", json=TAG)
    plain = Response(status=204)
    assert (response.status, response.data) == (plain.status, b"")
    security = {name for name, _ in SECURITY_HEADERS}
    fast = sorted((k, v) for k, v in response.headers.items() if k not in security)
    assert fast == sorted(plain.headers.items())


# --- the fast path of POST /user_tags (metronome.web.fastpath) ----------------------------------


def test_a_plain_tag_skips_flask_and_is_answered_as_the_view_answers_it(
    make_client: MakeClient, tmp_path: Path
) -> None:
    client = make_client()
    calls = flask_calls(client)
    fast = client.post("/user_tags", json=TAG)
    assert calls == []
    fast_path = client.application.wsgi_app.app  # type: ignore[attr-defined]  # behind the rate limits
    assert isinstance(fast_path, FastPath)
    view = Client(fast_path.app).post("/user_tags", json=TAG)  # Flask alone, no fast path
    assert calls == ["/user_tags"]
    assert (fast.status, fast.data) == (view.status, view.data) == ("204 NO CONTENT", b"")
    assert sorted(fast.headers.items()) == sorted(view.headers.items())
    assert [doc[TAG_FIELD] for doc in spooled(tmp_path / "spool")] == [TAG, TAG]


def test_a_refusal_and_a_body_without_a_length_go_to_the_view(
    make_client: MakeClient, tmp_path: Path
) -> None:
    client = make_client()
    calls = flask_calls(client)
    refused = client.post("/user_tags", json=changed("device", "FRIDGE"))
    assert refused.status_code == 422
    assert refused.get_json()["error"]["field"] == "device"  # the core's refusal, raised
    zipped = client.post(
        "/user_tags",
        data=gzip.compress(json.dumps(TAG).encode()),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert zipped.status_code == 204  # the core inflates it: the fast path answers
    chunked = client.post(
        "/user_tags",
        input_stream=io.BytesIO(json.dumps(TAG).encode()),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # as gunicorn de-chunks it
    )
    assert chunked.status_code == 204, (
        chunked.get_json()
    )  # no Content-Length: Flask reads the stream
    assert calls == ["/user_tags"] * 2
    assert len(spooled(tmp_path / "spool")) == 2


def test_a_full_spool_is_refused_by_the_core_and_answered_by_the_view(
    make_client: MakeClient, tmp_path: Path
) -> None:
    client = make_client(spool={"dir": str(tmp_path / "spool"), "max_bytes": 65_536})
    calls = flask_calls(client)
    answers = [client.post("/user_tags", json=TAG) for _ in range(200)]
    statuses = [answer.status_code for answer in answers]
    assert 204 in statuses and statuses[-1] == 503
    full = answers[-1]
    assert full.get_json()["error"]["code"] == "spool_full"
    assert full.headers["Retry-After"] == "30"
    assert calls == ["/user_tags"] * statuses.count(503)
    assert len(spooled(tmp_path / "spool")) == statuses.count(204)
