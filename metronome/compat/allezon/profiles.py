"""A user profile from Elasticsearch, in one search almost always.

One search asks for the ``2 * limit`` newest tags of the cookie in the range, both actions
together. When that page is not full it holds every tag of the range; when it is full it
still holds the ``limit`` newest of each action that has ``limit`` tags in it. Only an action
with fewer than ``limit`` tags in a full page needs a search of its own. Profiles answer at
100 per second beside 1000 tags per second on two cores, so one search instead of two (an
``_msearch`` of VIEWs and BUYs) is a third less Elasticsearch CPU per profile
(``bench/allezon.py`` measures it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from metronome.compat.allezon.builder import profile_page_size, profile_search
from metronome.compat.allezon.model import ProfileQuery
from metronome.compat.allezon.tag import ACTIONS, TAG_FIELD

Search = Callable[[dict[str, Any]], dict[str, Any]]  # a search body -> Elasticsearch's answer
Tags = dict[str, list[dict[str, Any]]]  # action -> its tags as received, newest first


def fetch_profile(search: Search, site: str, query: ProfileQuery) -> Tags:
    """The newest ``limit`` VIEWs and BUYs of the query, each list newest first."""
    page = page_hits(search(profile_search(site, query)))
    found = by_action(page)
    for action in missing_actions(
        found, len(page), profile_page_size(query.limit, ACTIONS), query.limit
    ):
        found[action] = by_action(page_hits(search(profile_search(site, query, (action,)))))[action]
    return {action: tags[: query.limit] for action, tags in found.items()}


def page_hits(response: dict[str, Any]) -> list[dict[str, Any]]:
    """A search answer's hits (``filter_path`` leaves out ``hits`` when there are none)."""
    hits: list[dict[str, Any]] = response.get("hits", {}).get("hits", [])
    return hits


def by_action(hits: Sequence[dict[str, Any]]) -> Tags:
    """The stored tags of a page, split by action, in the page's order."""
    found: Tags = {action: [] for action in ACTIONS}
    for hit in hits:
        tag = hit.get("_source", {}).get(TAG_FIELD)
        if isinstance(tag, dict) and tag.get("action") in found:
            found[tag["action"]].append(tag)
    return found


def missing_actions(found: Tags, returned: int, size: int, limit: int) -> list[str]:
    """The actions whose ``limit`` newest tags a page of ``size`` may not hold.

    A page that is not full holds every tag of the range. A full one holds the newest tags of
    both actions: an action with ``limit`` of them in it has its answer; another may have older
    tags the page had no room for.
    """
    if returned < size:
        return []
    return [action for action in ACTIONS if len(found[action]) < limit]
