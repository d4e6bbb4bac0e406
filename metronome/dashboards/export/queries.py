"""A widget's filters in the query languages of Kibana (KQL, plus query DSL filters) and
Grafana (Lucene query string), with every value quoted or escaped.

``is`` / ``is_not`` become ``field : ("a" or "b")`` in KQL and ``field:("a" OR "b")`` in
Lucene, negated with ``not`` / ``NOT``. ``contains`` (case-insensitive in Metronome) and
``matches`` (a Lucene regular expression) have no KQL form with the same meaning, so Kibana
gets them as query DSL filters (a case-insensitive ``wildcard``, a ``regexp``) next to the KQL;
Grafana, which takes one query string, gets a Lucene wildcard (case-sensitive there) and a
``/regular expression/``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from metronome.query.builder import escape_wildcard
from metronome.query.model import Filter

_LUCENE_SPECIAL = re.compile(r'([+\-=&|><!(){}\[\]^"~*?:\\/\s])')


def _quoted(value: str | float | bool) -> str:
    """A value as a quoted KQL / Lucene phrase, or a bare number / boolean."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def kql(filters: tuple[Filter, ...]) -> str:
    """The ``is`` / ``is_not`` filters as one KQL query ("" when there are none)."""
    parts = []
    for item in filters:
        if item.op not in ("is", "is_not"):
            continue
        values = [_quoted(value) for value in item.values]
        clause = f"{item.field} : {values[0] if len(values) == 1 else _group(values, 'or')}"
        parts.append(f"not {clause}" if item.op == "is_not" else clause)
    return " and ".join(parts)


def dsl_filters(filters: tuple[Filter, ...]) -> list[dict[str, Any]]:
    """The ``contains`` / ``matches`` filters as Kibana filter objects (query DSL)."""
    result = []
    for item in filters:
        if item.op == "contains":
            should = [
                {"wildcard": {item.field: {"value": f"*{escape_wildcard(str(v))}*",
                                           "case_insensitive": True}}}
                for v in item.values
            ]  # fmt: skip
        elif item.op == "matches":
            should = [{"regexp": {item.field: {"value": str(v), "flags": "NONE"}}}
                      for v in item.values]  # fmt: skip
        else:
            continue
        query = {"bool": {"should": should, "minimum_should_match": 1}}
        result.append(
            {
                "meta": {
                    "alias": f"{item.field} {item.op} {', '.join(map(str, item.values))}",
                    "negate": False,
                    "disabled": False,
                    "type": "custom",
                    "key": "query",
                    "value": json.dumps(query, separators=(",", ":")),
                },
                "query": query,
                "$state": {"store": "appState"},
            }
        )
    return result


def lucene(filters: tuple[Filter, ...]) -> str:
    """Every filter as one Lucene query string ("" when there are none)."""
    parts = []
    for item in filters:
        if item.op in ("is", "is_not"):
            values = [_quoted(value) for value in item.values]
            clause = f"{item.field}:{values[0] if len(values) == 1 else _group(values, 'OR')}"
            parts.append(f"NOT {clause}" if item.op == "is_not" else clause)
        elif item.op == "contains":
            terms = [f"{item.field}:*{_escape(str(v))}*" for v in item.values]
            parts.append(terms[0] if len(terms) == 1 else _group(terms, "OR"))
        else:  # matches
            terms = [f"{item.field}:/{_slashes(str(v))}/" for v in item.values]
            parts.append(terms[0] if len(terms) == 1 else _group(terms, "OR"))
    return " AND ".join(parts)


def _group(items: list[str], joiner: str) -> str:
    return "(" + f" {joiner} ".join(items) + ")"


def _slashes(pattern: str) -> str:
    """A regular expression inside Lucene's ``/.../``: its own slashes escaped."""
    return pattern.replace("/", "\\/")


def _escape(text: str) -> str:
    return _LUCENE_SPECIAL.sub(r"\\\1", text)
