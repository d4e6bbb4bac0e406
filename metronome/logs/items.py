"""Which tracked item a web request is about: configured path patterns, first match wins.

``/datasets/(?P<id>[^/]+)\\.(?P<format>csv|kml|shp)`` turns ``GET /datasets/42.csv`` into
``id=42, format=csv, event=download`` so that ``GET /tock/42?stream=logs`` counts it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote

# Requests that count: a GET (not HEAD, not a range request's 206) the server answered.
COUNTED_METHODS = frozenset({"GET"})
COUNTED_STATUS = frozenset({200, 203, 304})


@dataclass(frozen=True)
class ItemRule:
    pattern: re.Pattern[str]  # matched against the path without the query string
    event: str | None = None  # default: "download" when the pattern has a format, else "view"


@dataclass(frozen=True)
class Item:
    id: str
    event: str
    format: str | None


def compile_rule(pattern: str, event: str | None = None) -> ItemRule:
    """A rule from configuration; the pattern must have a named group ``id``."""
    compiled = re.compile(pattern)
    if "id" not in compiled.groupindex:
        raise ValueError(f"{pattern!r} has no (?P<id>...) group")
    return ItemRule(compiled, event)


def item_of(
    rules: Sequence[ItemRule], method: str | None, path: str | None, status: int | None
) -> Item | None:
    if not rules or method not in COUNTED_METHODS or status not in COUNTED_STATUS or not path:
        return None
    bare = unquote(path.partition("?")[0])
    for rule in rules:
        match = rule.pattern.fullmatch(bare)
        if match is None:
            continue
        groups = match.groupdict()
        item_id = groups.get("id")
        if not item_id:
            continue
        fmt = groups.get("format")
        event = rule.event or ("download" if fmt else "view")
        return Item(id=item_id, event=event, format=fmt.lower() if fmt else None)
    return None
