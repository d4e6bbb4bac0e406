"""The Allezon endpoints against a real Elasticsearch, compared exactly with the reference model.

Generated tags (bench/allezon_model.py) go in through POST /user_tags like the platform sends
them; the real shipper moves the spool into Elasticsearch; then many profiles and aggregates
with different ranges, limits, filters and aggregates must equal the model's answers.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import product
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from bench.allezon_model import (
    ReferenceModel,
    Tag,
    format_range,
    generate_tags,
    parse_tag_time,
)
from metronome.compat.allezon.model import ProfileQuery
from metronome.compat.allezon.profiles import fetch_profile
from metronome.compat.allezon.result import profile_result
from metronome.compat.allezon.tag import TAG_FIELD
from metronome.config import Settings
from metronome.es.templates import install_templates, remove_templates
from metronome.spool.shipper import Shipper
from metronome.web.app import create_app
from tests.conftest import make_settings

SEED = 5
TAG_COUNT = 3000
SITES = {"default": {"write_auth": "none"}, "allezon": {"write_auth": "none"}}
ALLEZON = {"enabled": True}  # off unless enabled
SITES_ALLEZON = "allezon"  # the site the default configuration stores tags in


@dataclass
class Loaded:
    client: FlaskClient
    model: ReferenceModel
    tags: list[Tag]
    settings: Settings


def drain(settings: Settings, es: Elasticsearch) -> int:
    prefix = settings.elasticsearch.index_prefix
    shipper = Shipper(settings.spool.dir, es, prefix, settings.shipper)
    shipped = 0
    while handled := shipper.run_once():
        shipped += handled
    es.indices.refresh(index=f"{prefix}-*", allow_no_indices=True)
    return shipped


def cleanup(es: Elasticsearch, prefix: str) -> None:
    names = list(es.indices.get(index=f"{prefix}-*", expand_wildcards="all").body)
    if names:
        es.indices.delete(index=",".join(names))
    remove_templates(es, prefix)


@pytest.fixture(scope="module")
def loaded(
    es_url: str, es: Elasticsearch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Loaded]:
    """One index prefix for the module: the generated tags are sent and shipped once."""
    prefix = f"t{uuid.uuid4().hex[:12]}"
    settings = make_settings(
        es_url, prefix, tmp_path_factory.mktemp("allezon") / "spool", sites=SITES, allezon=ALLEZON
    )
    tags = generate_tags(SEED, TAG_COUNT)
    try:
        install_templates(es, prefix)
        client = create_app(settings, es=es).test_client()
        for tag in tags:
            # As the platform sends them: one tag per request, the JSON text as is.
            response = client.post(
                "/user_tags", data=json.dumps(tag), headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 204, response.get_json()
        assert drain(settings, es) == TAG_COUNT
        yield Loaded(client, ReferenceModel(tags), tags, settings)
    finally:
        cleanup(es, prefix)


def profile(client: FlaskClient, cookie: str, time_range: str, limit: int | None = None) -> Any:
    url = f"/user_profiles/{cookie}?time_range={time_range}"
    if limit is not None:
        url += f"&limit={limit}"
    response = client.post(url)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_profiles_equal_the_model(loaded: Loaded) -> None:
    rng = random.Random(SEED)
    model, tags = loaded.model, loaded.tags
    first, last = parse_tag_time(tags[0]["time"]), parse_tag_time(tags[-1]["time"])
    everything = (first - timedelta(hours=1), last + timedelta(hours=1))
    cookies = model.cookies
    chosen = cookies[:5] + rng.sample(cookies[5:], 25) + ["no-such-cookie"]
    checked = 0
    for cookie in chosen:
        ranges = [everything]
        for _ in range(3):  # bounds on exact tag times: from is inclusive, to exclusive
            a, b = sorted(rng.sample(range(len(tags)), 2))
            ranges.append((parse_tag_time(tags[a]["time"]), parse_tag_time(tags[b]["time"])))
        for (start, end), limit in zip(ranges, (None, 1, 7, 50), strict=True):
            expected = model.profile(cookie, start, end, 200 if limit is None else limit)
            assert profile(loaded.client, cookie, format_range(start, end), limit) == expected
            checked += 1
    heaviest = model.profile(cookies[0], *everything)
    assert len(heaviest["views"]) == 200  # the default limit cuts: the model is not trivial
    assert len(heaviest["buys"]) > 10
    assert checked == len(chosen) * 4


def test_a_tag_comes_back_exactly_as_received(loaded: Loaded) -> None:
    tag = loaded.tags[1234]
    moment = parse_tag_time(tag["time"])
    answer = loaded.client.post(
        f"/user_profiles/{tag['cookie']}?time_range="
        + format_range(moment, moment + timedelta(milliseconds=1))
    )
    text = answer.get_data(as_text=True)
    listed = json.loads(text)["views" if tag["action"] == "VIEW" else "buys"]
    assert listed == [tag]
    price = listed[0]["product_info"]["price"]
    assert type(price) is int
    assert f'"price":{price}' in text.replace(" ", "")  # not 21.0
    assert listed[0]["time"] == tag["time"]  # milliseconds and Z
    ids = [t["product_info"]["product_id"] for t in loaded.tags]
    assert {type(i) for i in ids} == {int, str}  # both kinds of id went through


def test_a_range_of_centuries_is_answered(loaded: Loaded) -> None:
    cookie = loaded.model.cookies[0]
    start, end = (
        datetime(84, 2, 22, 13, 11, 21, tzinfo=UTC),
        datetime(2376, 11, 30, 21, 58, 16, tzinfo=UTC),
    )
    everything = profile(loaded.client, cookie, format_range(start, end))
    assert everything == loaded.model.profile(cookie, start, end, 200)


def test_a_profile_takes_a_second_search_only_when_the_first_page_is_cut(
    loaded: Loaded, es: Elasticsearch
) -> None:
    """The heaviest cookie's VIEWs fill the page of both actions: its BUYs need their own
    search, and still equal the model; a light cookie is answered by the first search."""
    index = f"{loaded.settings.elasticsearch.index_prefix}-hits-*"
    bodies: list[dict[str, Any]] = []

    def search(body: dict[str, Any]) -> dict[str, Any]:
        bodies.append(body)
        return dict(es.search(index=index, body=body).body)

    model, tags = loaded.model, loaded.tags
    start = parse_tag_time(tags[0]["time"])
    end = parse_tag_time(tags[-1]["time"]) + timedelta(seconds=1)
    for cookie, searches in ((model.cookies[0], 2), (model.cookies[-1], 1)):
        bodies.clear()
        found = fetch_profile(search, SITES_ALLEZON, ProfileQuery(cookie, start, end, 200))
        expected = model.profile(cookie, start, end, 200)
        assert profile_result(cookie, found) == expected
        assert len(bodies) == searches
    assert bodies[0]["size"] == 400


def aggregate(client: FlaskClient, query: str, body: Any = None) -> Any:
    response = client.post(f"/aggregates?{query}", data=body, content_type="application/json")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


AGGREGATE_CHOICES = (["COUNT"], ["SUM_PRICE"], ["COUNT", "SUM_PRICE"], ["SUM_PRICE", "COUNT"])


def test_aggregates_equal_the_model(loaded: Loaded) -> None:
    """Every combination of filters (8) with every choice of aggregates (4), on random
    windows of 1 to 10 minutes that hold a sampled tag, both actions, both time formats."""
    rng = random.Random(SEED + 1)
    model, tags = loaded.model, loaded.tags
    nonzero = 0
    cases = list(product(range(8), AGGREGATE_CHOICES))
    for mask, aggregates in cases:
        sample = rng.choice(tags)
        minute = parse_tag_time(sample["time"]).replace(second=0, microsecond=0)
        start = minute - timedelta(minutes=rng.randint(0, 4))
        end = start + timedelta(minutes=rng.randint(1, 10))
        action = sample["action"] if rng.random() < 0.8 else rng.choice(["VIEW", "BUY"])
        filters = {
            "origin": sample["origin"] if mask & 1 else None,
            "brand_id": str(sample["product_info"]["brand_id"]) if mask & 2 else None,
            "category_id": str(sample["product_info"]["category_id"]) if mask & 4 else None,
        }
        given = [(name, value) for name, value in filters.items() if value is not None]
        rng.shuffle(given)  # the columns' order is the spec's, whatever the query's order
        query = "&".join(
            [
                f"time_range={format_range(start, end, rng.choice(['seconds', 'milliseconds']))}",
                f"action={action}",
                *(f"aggregates={name}" for name in aggregates),
                *(f"{name}={value}" for name, value in given),
            ]
        )
        expected = model.aggregates(
            start=start, end=end, action=action, aggregates=aggregates, **filters
        )
        assert aggregate(loaded.client, query) == expected, query
        nonzero += any(value != "0" for row in expected["rows"] for value in row[-1:])
    assert nonzero > len(cases) // 2  # mostly minutes with tags, not only zeros


def test_aggregates_count_busy_and_empty_minutes(loaded: Loaded) -> None:
    start = datetime(2022, 3, 1, 0, 0, tzinfo=UTC)
    end = start + timedelta(minutes=10)
    query = (
        "time_range=2022-03-01T00:00:00_2022-03-01T00:10:00&action=VIEW"
        "&aggregates=COUNT&aggregates=SUM_PRICE"
    )
    answer = aggregate(loaded.client, query)
    expected = loaded.model.aggregates(
        start=start, end=end, action="VIEW", aggregates=["COUNT", "SUM_PRICE"]
    )
    assert answer == expected
    counts = [int(row[2]) for row in answer["rows"]]
    assert 0 in counts and max(counts) > 100  # the quiet stretch and the bursts
    assert all(isinstance(value, str) for row in answer["rows"] for value in row)
    assert sum(counts) == sum(
        1
        for tag in loaded.tags
        if tag["action"] == "VIEW" and start <= parse_tag_time(tag["time"]) < end
    )


def test_request_bodies_are_ignored(loaded: Loaded) -> None:
    tag = loaded.tags[0]
    time_range = format_range(parse_tag_time(tag["time"]), parse_tag_time(loaded.tags[-1]["time"]))
    url = f"/user_profiles/{tag['cookie']}?time_range={time_range}&limit=3"
    plain = loaded.client.post(url).get_json()
    for body in ("{not json", json.dumps({"cookie": "x", "views": [], "buys": []}), "\x00" * 10):
        answer = loaded.client.post(url, data=body, content_type="application/json")
        assert answer.get_json() == plain
    query = "time_range=2022-03-01T00:00:00_2022-03-01T00:05:00&action=BUY&aggregates=COUNT"
    plain = aggregate(loaded.client, query)
    assert aggregate(loaded.client, query, '{"columns": [], "rows": [["debug"]]') == plain


def test_tags_are_stored_as_hits_with_their_own_mappings(loaded: Loaded, es: Elasticsearch) -> None:
    prefix = loaded.settings.elasticsearch.index_prefix
    mappings = es.indices.get_mapping(index=f"{prefix}-hits-2022.03").body
    properties = next(iter(mappings.values()))["mappings"]["properties"]
    assert properties[TAG_FIELD] == {"type": "object", "enabled": False}
    assert properties["cookie"]["type"] == "keyword"
    info = properties["product_info"]["properties"]
    assert {name: info[name]["type"] for name in info} == {
        "product_id": "keyword",
        "brand_id": "keyword",
        "category_id": "keyword",
        "price": "double",
    }
    assert TAG_FIELD not in json.dumps(
        es.field_caps(index=f"{prefix}-hits-*", fields="*").body["fields"]
    )
    count = es.count(index=f"{prefix}-hits-*", query={"term": {"site": "allezon"}}).body["count"]
    assert count == TAG_COUNT


def test_a_tag_is_queryable_within_seconds_with_the_running_shipper(
    es_url: str, es: Elasticsearch, tmp_path: Path
) -> None:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    settings = make_settings(es_url, prefix, tmp_path / "spool", sites=SITES, allezon=ALLEZON)
    install_templates(es, prefix)
    shipper = Shipper(settings.spool.dir, es, prefix, settings.shipper)
    thread = threading.Thread(target=shipper.run_forever, daemon=True)
    thread.start()
    try:
        client = create_app(settings, es=es).test_client()
        tag = generate_tags(SEED, 1, start=datetime.now(UTC) - timedelta(minutes=1))[0]
        moment = parse_tag_time(tag["time"])
        assert client.post("/user_tags", json=tag).status_code == 204
        accepted = time.monotonic()
        time_range = format_range(moment, moment + timedelta(seconds=1))
        minute = moment.replace(second=0, microsecond=0)
        aggregates = (
            f"time_range={format_range(minute, minute + timedelta(minutes=1))}"
            f"&action={tag['action']}&aggregates=COUNT"
        )
        while time.monotonic() - accepted < 10:
            answer = profile(client, tag["cookie"], time_range)
            if answer["views"] + answer["buys"] == [tag]:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the tag was not in its profile 10 seconds after its 204")
        assert aggregate(client, aggregates)["rows"][0][2] == "1"
    finally:
        shipper.stop.set()
        thread.join(timeout=30)
        cleanup(es, prefix)
