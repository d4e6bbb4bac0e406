"""Secrets in URLs never reach Elasticsearch: tokens, e-mail addresses and fragments sent in a
hit's url or referrer (by an old snippet, a pixel, any HTTP client) are dropped before the spool."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from metronome.config import Settings

PAGE = "https://shop.example.org/reset?token=s3cret-reset&email=ann%40example.org&utm_source=mail"
SECRETS = ("s3cret-reset", "ann%40example.org", "t0k3n", "sess1on")


def stored(es: Elasticsearch, settings: Settings) -> list[dict[str, object]]:
    found = es.search(index=f"{settings.elasticsearch.index_prefix}-hits-*", size=10)
    return [hit["_source"] for hit in found["hits"]["hits"]]


def test_tick_stores_urls_without_tokens_or_fragments(
    client: FlaskClient, ship: Callable[[], int], es: Elasticsearch, settings: Settings
) -> None:
    hit = {
        "id": "reset",
        "url": PAGE + "#access_token=t0k3n",
        "referrer": "https://shop.example.org/login?session=sess1on#/step/2",
    }
    assert client.post("/tick", json=hit).status_code == 202
    pixel = f"/tick.gif?id=pixel&url={quote(PAGE + '#access_token=t0k3n', safe='')}"
    assert client.get(pixel).status_code == 200
    assert ship() == 2

    documents = stored(es, settings)
    assert len(documents) == 2
    for document in documents:
        assert document["url"] == {
            "full": "https://shop.example.org/reset?utm_source=mail",
            "host": "shop.example.org",
            "page": "shop.example.org/reset",
            "path": "/reset",
        }
        for secret in SECRETS:
            assert secret not in str(document)
    [posted] = [document for document in documents if document["id"] == "reset"]
    referrer = posted["referrer"]
    assert isinstance(referrer, dict)
    assert referrer["full"] == "https://shop.example.org/login#/step/2"  # a hash route stays
