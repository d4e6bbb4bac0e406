"""The query planner against the real Elasticsearch: randomised queries (metrics, dimensions,
filters, every interval, zones with DST and a half-hour zone, comparisons, unaligned ranges)
answered from rollups (or rollups and raw events) equal the raw answer exactly."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from elasticsearch import Elasticsearch

from metronome.config import RollupGroup, RollupSettings
from metronome.config.rollups import DEFAULT_GROUPS
from metronome.errors import ApiError
from metronome.es.templates import install_templates, remove_templates
from metronome.query.calendar import INTERVALS
from metronome.query.catalog import FieldKind
from metronome.query.model import Query
from metronome.query.multi import run_queries
from metronome.query.parse import parse_query
from metronome.query.rollup_schema import GRAINS, Watermark, group_signature, write_watermark
from metronome.query.runner import Outcome, run_query
from metronome.rollups.compute import rollup_range
from metronome.web.app import create_app
from tests.conftest import READ_KEY, make_settings
from tests.rollup_data import hits, store

DATA_START = datetime(2026, 10, 29, tzinfo=UTC)
DATA_END = datetime(2026, 11, 4, tzinfo=UTC)
GROUPS = (
    RollupGroup(
        name="pages", dimensions=("event", "id", "format", "bot"), measures=("product_info.price",)
    ),
    RollupGroup(
        name="refs", dimensions=("event", "referrer.host"), measures=("product_info.price",)
    ),
)
ROLLUPS = RollupSettings(groups={"hits": GROUPS})
DAY_THROUGH = datetime(2026, 11, 2, tzinfo=UTC)
HOUR_THROUGH = datetime(2026, 11, 3, 6, tzinfo=UTC)
FIELDS: dict[str, FieldKind] = {
    "@timestamp": "date", "site": "keyword", "event": "keyword", "id": "keyword",
    "format": "keyword", "bot": "boolean", "referrer.host": "keyword",
    "product_info.price": "number", "visitor": "keyword",
}  # fmt: skip
ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Europe/Warsaw", "Asia/Tokyo"]
VALUES: dict[str, list[Any]] = {
    "event": ["view", "download"], "id": ["a", "b", "/pricing"], "format": ["pdf", "csv"],
    "bot": [True, False], "referrer.host": ["a.org", "Ünï.example"],
}  # fmt: skip
PRICE = "product_info.price"


@pytest.fixture(scope="module")
def rolled_up(es: Elasticsearch) -> Iterator[str]:
    """400 hits over six days around New York's autumn DST change, rolled up by the two
    groups at both grains, day rollups complete up to Nov 2 and hour ones up to Nov 3 06:00.
    Built once for the module (its own prefix): every test here only reads it."""
    prefix = f"t{uuid.uuid4().hex[:12]}"
    install_templates(es, prefix)
    store(es, prefix, "hits", hits(400, DATA_START, DATA_END - DATA_START, seed=20))
    for group in GROUPS:
        for grain in GRAINS:
            start, end = DATA_START - timedelta(days=1), DATA_END + timedelta(days=1)
            rollup_range(es, prefix, "hits", group, grain, start, end)
    write_watermark(es, prefix, Watermark.of_groups("hits", "day", DAY_THROUGH, GROUPS))
    write_watermark(es, prefix, Watermark.of_groups("hits", "hour", HOUR_THROUGH, GROUPS))
    yield prefix
    names = list(es.indices.get(index=f"{prefix}-*", expand_wildcards="all").body)
    if names:
        es.indices.delete(index=",".join(names))
    remove_templates(es, prefix)


def random_query(rng: random.Random) -> Query:
    metrics = rng.sample(["count", f"sum:{PRICE}", f"min:{PRICE}", f"max:{PRICE}",
                          f"avg:{PRICE}"], rng.randint(1, 3))  # fmt: skip
    if rng.random() < 0.1:
        metrics.append(rng.choice(["visitors", f"p95:{PRICE}"]))  # never from rollups
    tz = ZoneInfo(rng.choice(ZONES))
    interval = rng.choice(INTERVALS)
    start = DATA_START + timedelta(hours=rng.randrange(-24, 6 * 24))
    if interval == "minute":
        length = timedelta(minutes=rng.randrange(30, 6 * 60))
    else:
        length = timedelta(hours=rng.randrange(1, 6 * 24))
    start_local, end_local = start.astimezone(tz), (start + length).astimezone(tz)
    if interval != "minute" and rng.random() < 0.5:  # whole local days, else to the minute
        start_local = start_local.replace(hour=0, minute=0)
        end_local = end_local.replace(hour=0, minute=0) + timedelta(days=1)
    else:
        start_local += timedelta(minutes=rng.randrange(60))
    fields = rng.sample(list(VALUES), rng.randint(0, 2))
    dimensions = fields[: rng.randint(0, len(fields))]
    if rng.random() < 0.7:
        dimensions.insert(rng.randrange(len(dimensions) + 1), f"time:{interval}")
    filters = []
    for name in rng.sample(list(VALUES), rng.randint(0, 2)):
        op = rng.choice(["is", "is", "is_not"] + (["contains", "matches"] if name == "id" else []))
        values = rng.sample(VALUES[name], 1) if op in ("is", "is_not") else ["a"]
        if op == "matches":
            values = ["/?[a-c].*"]
        filters.append([op, name, values])
    body: dict[str, Any] = {
        "metrics": metrics,
        "dimensions": dimensions,
        "filters": filters,
        "tz": tz.key,
        "date_range": [start_local.isoformat(), end_local.isoformat()],
        "exact": True,
        "limit": 1000,
    }
    if rng.random() < 0.25:
        body["compare"] = "previous"
    query, _ = parse_query(body, "shop", FIELDS, datetime(2026, 12, 1, tzinfo=UTC))
    return query


def test_randomised_queries_from_rollups_equal_the_raw_answers(
    es: Elasticsearch, rolled_up: str
) -> None:
    rng = random.Random(2026)
    sources: Counter[str] = Counter()
    for _ in range(40):
        query = random_query(rng)
        planned = run_query(es, rolled_up, query, ROLLUPS)
        raw = run_query(es, rolled_up, query)
        assert raw.source == "raw"
        assert planned.rows == raw.rows, query
        sources[planned.source] += 1
    assert min(sources[name] for name in ("rollup", "raw", "rollup+raw")) >= 3, sources


Case = tuple[str, str | None, list[str], str]  # zone, interval, local date range, source


@pytest.mark.parametrize(
    "case",
    [
        # New York falls back on Nov 1: 25 hours that day, its hours and days from hourly rollups.
        ("America/New_York", "hour", ["2026-10-31T20:00", "2026-11-01T04:00"], "rollup"),
        ("America/New_York", "day", ["2026-10-30", "2026-11-03"], "rollup"),
        ("America/New_York", "week", ["2026-10-26", "2026-11-09"], "rollup+raw"),
        # Kolkata is 5:30 ahead: its hours and days cut rollup hours in half, so raw events...
        ("Asia/Kolkata", "hour", ["2026-10-30", "2026-11-02"], "raw"),
        ("Asia/Kolkata", "day", ["2026-10-30", "2026-11-02"], "raw"),
        # ...but a range's totals take whole hours from rollups, its unaligned ends from raw.
        ("Asia/Kolkata", None, ["2026-10-30", "2026-11-02"], "rollup+raw"),
        ("UTC", "month", ["2026-10-01", "2026-12-01"], "rollup+raw"),
    ],
)
def test_zones_with_dst_and_half_hour_offsets_read_rollups_only_where_exact(
    es: Elasticsearch, rolled_up: str, case: Case
) -> None:
    tz, interval, date_range, source = case
    body: dict[str, Any] = {
        "metrics": ["count", f"sum:{PRICE}", f"avg:{PRICE}", f"max:{PRICE}"],
        "dimensions": ["event"] + ([f"time:{interval}"] if interval else []),
        "filters": [["is_not", "bot", [True]]], "tz": tz, "date_range": date_range,
        "exact": True, "limit": 1000,
    }  # fmt: skip
    query, _ = parse_query(body, "shop", FIELDS, datetime(2026, 12, 1, tzinfo=UTC))
    planned, raw = run_query(es, rolled_up, query, ROLLUPS), run_query(es, rolled_up, query)
    assert planned.source == source
    assert planned.rows == raw.rows
    assert sum(row.metrics[0] or 0 for row in raw.rows) > 0


def test_the_query_api_says_where_its_answer_came_from(
    es: Elasticsearch, es_url: str, rolled_up: str, tmp_path: Path
) -> None:
    auth = {"Authorization": f"Bearer {READ_KEY}"}
    body = {"site": "shop", "metrics": ["count", f"avg:{PRICE}"], "dimensions": ["time:day"],
            "filters": [["is", "event", ["view"]]], "exact": True}  # fmt: skip
    groups = {"hits": [{"name": g.name, "dimensions": list(g.dimensions),
                        "measures": list(g.measures)} for g in GROUPS]}  # fmt: skip
    client, raw_client = (
        create_app(make_settings(es_url, rolled_up, tmp_path, rollups=rollups), es=es).test_client()
        for rollups in ({"groups": groups}, {"enabled": False})
    )
    answers = {}
    for name, date_range in {
        "rollup": ["2026-10-29", "2026-11-01"],
        "rollup+raw": ["2026-10-29", "2026-11-04"],
        "raw": ["2026-11-03T07:00", "2026-11-04"],
    }.items():
        answer = client.post("/api/v1/query", json={**body, "date_range": date_range}, headers=auth)
        raw = raw_client.post(
            "/api/v1/query", json={**body, "date_range": date_range}, headers=auth
        )
        assert answer.status_code == raw.status_code == 200
        assert answer.get_json()["meta"]["source"] == name
        assert raw.get_json()["meta"]["source"] == "raw"
        assert answer.get_json()["results"] == raw.get_json()["results"]
        answers[name] = answer.get_json()["results"]
    assert sum(row["metrics"][0] for row in answers["rollup+raw"]) > 0
    statement = (
        "SELECT date_trunc('day', @timestamp) AS day, count(*), avg(\"product_info.price\") "
        "FROM hits WHERE site = 'shop' AND event = 'view' AND @timestamp >= '2026-10-29' "
        "AND @timestamp < '2026-11-01' GROUP BY day"
    )
    sql = client.post("/api/v1/sql", json={"sql": statement}, headers=auth)
    raw_sql = raw_client.post("/api/v1/sql", json={"sql": statement}, headers=auth)
    assert sql.status_code == raw_sql.status_code == 200, sql.get_json()
    assert sql.get_json()["meta"]["source"] == "rollup"
    assert raw_sql.get_json()["meta"]["source"] == "raw"
    assert sql.get_json()["rows"] == raw_sql.get_json()["rows"]
    assert [row[1:] for row in sql.get_json()["rows"]] == [
        row["metrics"] for row in answers["rollup"]
    ]


def test_the_built_in_groups_answer_a_dashboards_breakdown(
    es: Elasticsearch, index_prefix: str
) -> None:
    install_templates(es, index_prefix)
    store(es, index_prefix, "hits", hits(100, DATA_START, timedelta(days=2), seed=3))
    items = next(group for group in DEFAULT_GROUPS["hits"] if group.name == "items")
    for grain in GRAINS:
        rollup_range(es, index_prefix, "hits", items, grain, DATA_START, DATA_END)
        signatures = {items.name: group_signature(items)}
        write_watermark(es, index_prefix, Watermark("hits", grain, DATA_END, groups=signatures))
    body = {"metrics": ["count"], "dimensions": ["format"],
            "filters": [["is", "event", ["download"]]],
            "date_range": ["2026-10-29", "2026-10-31"], "exact": True}  # fmt: skip
    query, _ = parse_query(body, "shop", FIELDS, datetime(2026, 12, 1, tzinfo=UTC))
    planned = run_query(es, index_prefix, query, RollupSettings())
    assert planned.source == "rollup"
    assert planned.rows == run_query(es, index_prefix, query).rows
    top_n = parse_query({**body, "exact": False}, "shop", FIELDS, datetime(2026, 12, 1, tzinfo=UTC))
    assert run_query(es, index_prefix, top_n[0], RollupSettings()).source == "raw"  # for now


def test_a_multi_search_answers_planned_queries_alongside_the_others(
    es: Elasticsearch, rolled_up: str
) -> None:
    rng = random.Random(7)
    queries = [random_query(rng) for _ in range(10)]
    top_n = {"metrics": ["count"], "dimensions": ["id"], "date_range": ["2026-10-29", "2026-11-01"]}
    # Day and hour rollups and raw events: its pieces' multi-search fails, as one search would.
    broken = {"metrics": ["count"], "filters": [["matches", "id", ["(unclosed"]]],
              "date_range": ["2026-10-29", "2026-11-04T03:30"], "exact": True}  # fmt: skip
    for body in (top_n, broken):
        queries.append(parse_query(body, "shop", FIELDS, datetime(2026, 12, 1, tzinfo=UTC))[0])
    planned = run_queries(es, rolled_up, queries, ROLLUPS)
    raw = run_queries(es, rolled_up, queries)
    for query, one, other in zip(queries[:-1], planned[:-1], raw[:-1], strict=True):
        assert isinstance(one, Outcome) and isinstance(other, Outcome)
        assert one.rows == other.rows, query
        assert one.latest_received == other.latest_received
    assert {o.source for o in planned[:-2] if isinstance(o, Outcome)} >= {"rollup", "rollup+raw"}
    assert planned[-2].source == "raw"  # type: ignore[union-attr]
    assert isinstance(planned[-1], ApiError) and planned[-1].status == 422  # that query alone
