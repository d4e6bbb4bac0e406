"""The one place an Elasticsearch client is built. Everything else receives it."""

from __future__ import annotations

from elasticsearch import Elasticsearch

from metronome.config import ElasticsearchSettings
from metronome.fastjson import ElasticsearchJson


class ElasticsearchNotConfigured(RuntimeError):
    """No URL is configured and no embedded node was started to provide one."""


def build_client(settings: ElasticsearchSettings) -> Elasticsearch:
    if not settings.url:
        raise ElasticsearchNotConfigured(
            "elasticsearch.url is not set: run `metronome serve` (which starts the embedded "
            "Elasticsearch) or set METRONOME_ES_URL"
        )
    return Elasticsearch(
        settings.url,
        request_timeout=settings.request_timeout,
        retry_on_timeout=True,
        max_retries=2,
        serializer=ElasticsearchJson(),
    )
