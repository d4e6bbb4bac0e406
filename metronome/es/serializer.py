"""Elasticsearch's answers decoded with orjson where it gives the same value (several times
faster on search answers and bulk results); the standard library for the few corners orjson
refuses (integers beyond 64 bits, lone surrogates), so nothing read before is refused now."""

from __future__ import annotations

from typing import Any

import orjson
from elasticsearch.serializer import JsonSerializer


class ElasticsearchJson(JsonSerializer):
    """The client's JSON serializer with orjson decoding its answers (bulk results, hits)."""

    def loads(self, data: bytes) -> Any:
        if not data:
            return None
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return super().loads(data)
