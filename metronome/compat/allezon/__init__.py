"""The Allezon-compatible endpoints (docs/allezon.md) on the hits spool and the hits indices.

Modules, one job each, without Flask (the blueprint and the two adapters of
``POST /user_tags``, its Flask view and its fast handler, are ``metronome.web.views.allezon``):

- ``tag``: one user tag: its definition (the check, its refusals, its schema) and the hits
  document it becomes; ``ingest``: ``POST /user_tags`` from request to spool, once for both
  of its adapters;
- ``model``: the two queries as typed values; ``parse``: query parameters -> those values;
- ``builder``: the Elasticsearch requests; ``profiles``: a profile in one search (two when the
  first page is cut); ``result``: the answers' JSON from the responses;
- ``openapi``: the three paths and the tag's schemas for /openapi.json.

The names below are what the web views and /openapi.json use.
"""

from metronome.compat.allezon.model import AggregatesQuery
from metronome.compat.allezon.openapi import openapi_components, openapi_paths
from metronome.compat.allezon.tag import TAG, check_tag

__all__ = ["TAG", "AggregatesQuery", "check_tag", "openapi_components", "openapi_paths"]
