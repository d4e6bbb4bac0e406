"""JSON answers on the hot read paths: orjson where it gives the same answer, else the stdlib.

Profiles answer at a tenth of the tag rate, and decoding Elasticsearch's search answers and
encoding ours were a third of the web workers' Python time for them (py-spy, bench/allezon.py).
orjson does both several times faster. It refuses what the standard library accepts in a few
corners (integers beyond 64 bits, lone surrogates): those fall back, so nothing is refused that
was read before. Ingest bodies keep the standard library: their checks are written against it.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from flask import Response


def json_response(value: Any, status: int = 200) -> Response:
    """``value`` as an ``application/json`` answer (UTF-8, keys in their own order)."""
    try:
        body = orjson.dumps(value)
    except TypeError:  # a type orjson does not know, or an integer beyond 64 bits
        body = json.dumps(value, ensure_ascii=False).encode()
    return Response(body, status, mimetype="application/json")
