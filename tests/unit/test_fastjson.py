"""orjson on the read paths, with the standard library for what orjson refuses."""

from __future__ import annotations

import json

from metronome.es.serializer import ElasticsearchJson
from metronome.web.fastjson import json_response

BIG = 2**70  # beyond orjson's 64-bit integers


def test_answers_are_read_as_the_standard_library_reads_them() -> None:
    loads = ElasticsearchJson().loads
    assert loads(b'{"a": [1, 2.5, "\\u00e9", null, true]}') == {"a": [1, 2.5, "é", None, True]}
    assert loads(f'{{"n": {BIG}}}'.encode()) == {"n": BIG}
    assert loads(b'{"s": "\\ud800"}') == {"s": "\ud800"}  # a lone surrogate, as json reads it


def test_the_elasticsearch_serializer_decodes_answers_and_empty_bodies() -> None:
    serializer = ElasticsearchJson()
    assert serializer.loads(b"") is None
    assert serializer.loads(b'{"hits": {"hits": []}}') == {"hits": {"hits": []}}
    assert serializer.loads(f"[{BIG}]".encode()) == [BIG]
    assert json.loads(serializer.dumps({"a": 1})) == {"a": 1}


def test_json_response_keeps_key_order_and_unicode() -> None:
    response = json_response({"views": [], "cookie": "ż"}, 200)
    assert response.mimetype == "application/json"
    assert response.get_data() == '{"views":[],"cookie":"ż"}'.encode()
    assert json.loads(json_response({"n": BIG}).get_data()) == {"n": BIG}
