"""The top-N plan of POST /api/v1/query against the real Elasticsearch: its answer equals the
first rows of the exact plan (``"exact": true``), comparison included, and says when it may not."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from metronome.config import Settings
from metronome.query import topn
from tests.conftest import READ_KEY, WRITE_KEY, make_settings

AUTH = {"Authorization": f"Bearer {READ_KEY}"}
DAYS = ("01", "02", "03", "04", "05", "06")  # August 2015: one daily index each
WINDOW = ["2015-08-04", "2015-08-07"]  # compared with 08-01 ... 08-04 (previous)


@pytest.fixture
def settings(es_url: str, index_prefix: str, tmp_path: Path) -> Settings:
    """Hits kept in daily indices: these tests give each day a shard of its own, so that
    shards cut their lists as a busy node's many shards do."""
    return make_settings(
        es_url, index_prefix, tmp_path / "spool", storage={"index_periods": {"hits": "day"}}
    )


def send(client: FlaskClient, hits: list[dict[str, Any]]) -> None:
    for first in range(0, len(hits), 500):
        batch = [{"site": "shop", **h} for h in hits[first : first + 500]]
        response = client.post("/tick", json=batch, headers={"X-Metronome-Key": WRITE_KEY})
        assert response.status_code == 202, response.get_json()


def query(client: FlaskClient, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/query", json={"site": "shop", **body}, headers=AUTH)
    assert response.status_code == 200, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def both(client: FlaskClient, **body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same question through the top-N plan and the exact plan."""
    return query(client, **body), query(client, **body, exact=True)


def ranked_hits() -> list[dict[str, Any]]:
    """30 pages whose counts, visitors and price sums all differ (page n: 60 - 2n views over
    the window, half as many the period before, n + 2 visitors, price 3 per view), spread over
    every day; downloads carry a format, views none (the missing group)."""
    hits: list[dict[str, Any]] = []
    for n in range(30):
        for period, days in ((1, DAYS[3:]), (2, DAYS[:3])):
            views = (60 - 2 * n) // period
            for i in range(views):
                hits.append({
                    "id": f"page-{n:02d}",
                    "time": f"2015-08-{days[i % 3]}T{10 + i % 8:02d}:00:00Z",
                    "visitor": f"v{n}-{i % (n + 2)}",
                    "price": 3,
                    "event": "view" if i % 5 else "download",
                    **({} if i % 5 else {"format": f"fmt-{n % 7}"}),
                })  # fmt: skip
    return hits


@pytest.fixture
def ranked(client: FlaskClient, ship: Callable[[], int]) -> None:
    send(client, ranked_hits())
    ship()


@pytest.mark.usefixtures("ranked")
@pytest.mark.parametrize("metric", ["count", "visitors", "sum:price"])
def test_the_top_n_plan_answers_the_exact_plans_first_rows(
    client: FlaskClient, metric: str
) -> None:
    metrics = [metric] if metric == "count" else [metric, "count"]
    for page in (1, 2, 3):
        fast, exact = both(client, metrics=metrics, dimensions=["id"], date_range=WINDOW,
                           order_by=[[metric, "desc"]], limit=7, page=page)  # fmt: skip
        assert fast["meta"]["plan"] == "top_n"
        assert exact["meta"]["plan"] == "exact"
        assert fast["results"] == exact["results"]
        assert len(fast["results"]) == 7
        for name in ("total_rows", "has_more", "page", "limit"):
            assert fast["meta"][name] == exact["meta"][name], name
        assert fast["meta"]["total_rows"] == 30  # a distinct count, right on so few groups
        assert fast["meta"]["total_rows_exact"] is False  # more groups than the page needs
        assert exact["meta"]["total_rows_exact"] is True
    first = query(client, metrics=metrics, dimensions=["id"], date_range=WINDOW, limit=3)
    leaders = (
        ["page-19", "page-18", "page-20"]
        if metric == "visitors"
        else ["page-00", "page-01", "page-02"]
    )  # visitors: min(n + 2, 60 - 2n), a tie of 20 ordered by value
    assert [r["dimensions"][0] for r in first["results"]] == leaders


@pytest.mark.usefixtures("ranked")
def test_filters_compare_and_the_missing_group_are_those_of_the_exact_plan(
    client: FlaskClient,
) -> None:
    fast, exact = both(client, metrics=["count", "visitors"], dimensions=["format"],
                       date_range=WINDOW, compare="previous", limit=4,
                       filters=[["is_not", "id", ["page-00", "page-03"]]])  # fmt: skip
    assert fast["meta"]["plan"] == "top_n"
    assert fast["results"] == exact["results"]
    assert fast["results"][0]["dimensions"] == [None]  # the views: no format
    assert all(r["compare"]["metrics"][0] > 0 for r in fast["results"])
    assert fast["meta"]["total_rows"] == exact["meta"]["total_rows"] == 8

    fast, exact = both(client, metrics=["count"], dimensions=["id"], date_range=WINDOW,
                       compare="previous", limit=5, page=2,
                       filters=[["contains", "id", ["page-1"]]])  # fmt: skip
    assert fast["results"] == exact["results"]
    assert [r["dimensions"][0] for r in fast["results"]] == [
        "page-15", "page-16", "page-17", "page-18", "page-19"
    ]  # fmt: skip
    assert fast["results"][0]["compare"] == {"metrics": [15], "change": [100.0]}
    assert fast["meta"]["total_rows"] == 10
    assert fast["meta"]["has_more"] is False


def test_ties_are_ordered_by_value_missing_first_in_both_plans(
    client: FlaskClient, ship: Callable[[], int]
) -> None:
    day = "2015-09-01T10:00:00Z"
    send(client, [{"id": "tie", "event": "download", "format": f, "time": day}
                  for f in ("b", "b", "a", "a", "c", "c", "c")]
         + [{"id": "tie", "time": day}] * 2)  # fmt: skip
    ship()
    fast, exact = both(client, metrics=["count"], dimensions=["format"],
                       date_range=["2015-09-01", "2015-09-02"], limit=3)  # fmt: skip
    assert [r["dimensions"][0] for r in fast["results"]] == ["c", None, "a"]
    assert fast["results"] == exact["results"]
    assert fast["meta"]["total_rows"] == exact["meta"]["total_rows"] == 4
    assert fast["meta"]["has_more"] is True


@pytest.mark.usefixtures("ranked")
def test_pages_past_the_cap_exact_requests_and_files_take_the_exact_plan(
    client: FlaskClient,
) -> None:
    body: dict[str, Any] = {"metrics": ["count"], "dimensions": ["id"], "date_range": WINDOW}
    at_cap = query(client, **body, limit=topn.TOP_N_CAP)
    assert at_cap["meta"]["plan"] == "top_n"
    assert len(at_cap["results"]) == 30
    past = query(client, **body, limit=topn.TOP_N_CAP // 2 + 1, page=2)
    assert past["meta"]["plan"] == "exact"
    assert past["results"] == []
    assert past["meta"]["total_rows"] == 30
    assert query(client, **body, exact=True)["query"]["exact"] is True
    series = query(client, metrics=["count"], dimensions=["time:day"], date_range=WINDOW)
    assert series["meta"]["plan"] == "exact"
    by_dimension = query(client, **body, order_by=[["id", "desc"]], limit=3)
    assert by_dimension["meta"]["plan"] == "exact"
    assert by_dimension["results"][0]["dimensions"] == ["page-29"]

    response = client.post(
        "/api/v1/query?format=csv", json={"site": "shop", **body, "limit": 3}, headers=AUTH
    )
    assert response.status_code == 200
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert len(table) == 1 + 30  # every row, whatever the limit


def test_a_group_the_shards_cut_makes_the_answer_approximate(
    client: FlaskClient, ship: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each day (a shard) has its own three busy pages (3 views); "steady" has 2 views every
    # day, so 12 in all: the first overall, but never among a day's first three.
    hits = [{"id": "steady", "time": f"2015-10-{d}T09:00:00Z"} for d in DAYS for _ in range(2)]
    hits += [{"id": f"busy-{d}-{k}", "time": f"2015-10-{d}T10:00:00Z"}
             for d in DAYS for k in range(3) for _ in range(3)]  # fmt: skip
    send(client, hits)
    ship()
    monkeypatch.setattr(topn, "MIN_SHARD_SIZE", 1)
    monkeypatch.setattr(topn, "SHARD_SIZE_FACTOR", 1)  # shard_size: limit + 1 = 3
    body: dict[str, Any] = {"metrics": ["count"], "dimensions": ["id"],
                            "date_range": ["2015-10-01", "2015-10-07"], "limit": 2}  # fmt: skip
    fast, exact = both(client, **body)
    assert exact["results"][0] == {"dimensions": ["steady"], "metrics": [12]}
    assert fast["meta"]["plan"] == "top_n"
    assert fast["results"] != exact["results"]  # what shards that cut their lists can give
    assert fast["meta"]["approximate"] is True
    assert exact["meta"]["approximate"] is False

    monkeypatch.setattr(topn, "MIN_SHARD_SIZE", 100)  # every shard sends every group
    fast = query(client, **body)
    assert fast["results"] == exact["results"]
    assert fast["meta"]["approximate"] is False


def test_a_clear_lead_is_exact_though_the_shards_cut_their_lists(
    client: FlaskClient, ship: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    hits = [{"id": "lead", "time": f"2015-11-{d}T09:00:00Z"} for d in DAYS for _ in range(20)]
    hits += [{"id": f"tail-{d}-{k}", "time": f"2015-11-{d}T10:00:00Z"}
             for d in DAYS for k in range(6) for _ in range(1 + k % 2)]  # fmt: skip
    send(client, hits)
    ship()
    monkeypatch.setattr(topn, "MIN_SHARD_SIZE", 1)
    monkeypatch.setattr(topn, "SHARD_SIZE_FACTOR", 1)
    body: dict[str, Any] = {"metrics": ["count"], "dimensions": ["id"],
                            "date_range": ["2015-11-01", "2015-11-07"], "limit": 1}  # fmt: skip
    fast, exact = both(client, **body)
    assert fast["results"] == exact["results"] == [{"dimensions": ["lead"], "metrics": [120]}]
    assert fast["meta"]["approximate"] is False  # 120 against at most 2 + 6 x 2 left out
    assert fast["meta"]["total_rows"] == exact["meta"]["total_rows"] == 37


def test_an_answer_some_shards_failed_is_refused_not_partial(
    client: FlaskClient, ship: Callable[[], int]
) -> None:
    # "code" is a number in the first day's index and text in the second's: a regular
    # expression fails on the first day's shard alone, which would leave the count short.
    send(client, [{"id": "mixed", "code": 5, "time": "2015-12-01T10:00:00Z"}])
    ship()
    send(client, [{"id": "mixed", "code": "x5", "time": "2015-12-02T10:00:00Z"}] * 2)
    ship()
    window = ["2015-12-01", "2015-12-03"]
    for exact in (False, True):
        response = client.post("/api/v1/query", headers=AUTH, json={
            "site": "shop", "metrics": ["count"], "dimensions": ["id"], "date_range": window,
            "filters": [["matches", "code", ["x.*"]]], "exact": exact,
        })  # fmt: skip
        assert response.status_code == 422, response.get_json()
        assert response.get_json()["error"]["code"] == "invalid_query"
    fine = query(client, metrics=["count"], dimensions=["id"], date_range=["2015-12-02", window[1]],
                 filters=[["matches", "code", ["x.*"]]])  # fmt: skip
    assert fine["results"] == [{"dimensions": ["mixed"], "metrics": [2]}]
