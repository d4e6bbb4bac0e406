"""The Allezon-compatible endpoints (API.md section 4) on the hits spool and the hits indices.

Modules, one job each; everything but ``views`` is pure:

- ``tag``: one user tag: the hand-written check and the hits document it becomes;
- ``schema``: the tag as a marshmallow schema (/openapi.json, and the check's reference);
- ``model``: the two queries as typed values; ``parse``: query parameters -> those values;
- ``builder``: the Elasticsearch requests; ``profiles``: a profile in one search (two when the
  first page is cut); ``result``: the answers' JSON from the responses;
- ``views``: the blueprint (``allezon.enabled: false`` leaves it unregistered), and the fast
  handler of ``POST /user_tags`` (``metronome.fastpath``) the app factory installs with it;
- ``openapi``: the three paths for /openapi.json.

The names below are what the app factory and /openapi.json use.
"""

from metronome.compat.allezon.model import AggregatesQuery
from metronome.compat.allezon.openapi import openapi_paths
from metronome.compat.allezon.schema import UserTagSchema
from metronome.compat.allezon.tag import check_tag
from metronome.compat.allezon.views import bp, fast_user_tags

__all__ = ["AggregatesQuery", "UserTagSchema", "bp", "check_tag", "fast_user_tags", "openapi_paths"]
