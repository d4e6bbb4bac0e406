"""The Allezon-compatible endpoints (docs/allezon.md) on the hits spool and the hits indices.

Modules, one job each, all pure (the blueprint and the fast handler of ``POST /user_tags`` are
``metronome.web.views.allezon``):

- ``tag``: one user tag: the hand-written check and the hits document it becomes;
- ``schema``: the tag as a marshmallow schema (/openapi.json, and the check's reference);
- ``model``: the two queries as typed values; ``parse``: query parameters -> those values;
- ``builder``: the Elasticsearch requests; ``profiles``: a profile in one search (two when the
  first page is cut); ``result``: the answers' JSON from the responses;
- ``openapi``: the three paths for /openapi.json.

The names below are what the web views and /openapi.json use.
"""

from metronome.compat.allezon.model import AggregatesQuery
from metronome.compat.allezon.openapi import openapi_paths
from metronome.compat.allezon.schema import UserTagSchema
from metronome.compat.allezon.tag import check_tag

__all__ = ["AggregatesQuery", "UserTagSchema", "check_tag", "openapi_paths"]
