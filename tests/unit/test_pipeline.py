from __future__ import annotations

from datetime import UTC, datetime

from metronome.hits.pipeline import HitContext, enrich, url_parts
from metronome.hits.schema import load_hit

RECEIVED = datetime(2026, 11, 22, 10, 0, 0, 123000, tzinfo=UTC)
CTX = HitContext(site="default", received_at=RECEIVED)


def test_a_hit_becomes_a_logstash_document() -> None:
    doc = enrich(load_hit({"id": "dataset-42", "key": "secret-key-1"}), CTX)
    assert doc["@timestamp"] == "2026-11-22T10:00:00.123Z"
    assert doc["@version"] == "1"
    assert doc["type"] == "hits"
    assert doc["site"] == "default"
    assert doc["received_at"] == "2026-11-22T10:00:00.123Z"
    assert len(doc["hit_id"]) == 32
    assert "key" not in doc


def test_event_time_becomes_the_timestamp() -> None:
    doc = enrich(load_hit({"id": "x", "time": "2015-01-22T13:05:00+01:00"}), CTX)
    assert doc["@timestamp"] == "2015-01-22T12:05:00.000Z"
    assert "time" not in doc


def test_a_client_hit_id_is_kept() -> None:
    doc = enrich(load_hit({"id": "x", "hit_id": "abc-1"}), CTX)
    assert doc["hit_id"] == "abc-1"


def test_referrer_is_split_into_host_path_and_page() -> None:
    parts = url_parts("https://www.WashingtonPost.com/articles/dc-news/?utm=x#top")
    assert parts == {
        "full": "https://www.WashingtonPost.com/articles/dc-news/?utm=x#top",
        "host": "washingtonpost.com",
        "path": "/articles/dc-news/",
        "page": "washingtonpost.com/articles/dc-news",
    }
    assert url_parts("https://arcgis.com/")["page"] == "arcgis.com"
    assert url_parts("arcgis.com/maps")["page"] == "arcgis.com/maps"


def test_an_unparsable_url_is_kept_whole() -> None:
    assert url_parts("http://[broken") == {"full": "http://[broken"}


def test_enrich_does_not_modify_its_input() -> None:
    hit = load_hit({"id": "x", "url": "https://a.org/p"})
    enrich(hit, CTX)
    assert hit["url"] == "https://a.org/p"
