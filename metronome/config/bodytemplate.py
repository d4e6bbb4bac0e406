"""The body template of a webhook channel (an SMS gateway, any HTTP API): the grammar, kept
here so that a template is checked when the settings load, and its rendering.

A template is the body as text with placeholders: ``{{ name }}`` or ``{{ name | filter }}``.
Names: ``subject``, ``text``, ``key`` (the outbox key), ``channel``, and ``fields.NAME`` (a
field of the message, dotted for nested ones; a field a message lacks is null). Filters:

- none: the value JSON-escaped without quotes, for inside a JSON string: ``"{{ text }}"``;
- ``tojson``: the value as a JSON value (a string with its quotes, a number, null...);
- ``urlencode``: the value percent-encoded, for form bodies (``text={{ text | urlencode }}``).

Nothing is evaluated: a placeholder is a lookup, never code, and every value is escaped, so a
message cannot change the body's structure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.-]*)\s*(?:\|\s*([A-Za-z0-9_]*)\s*)?\}\}")
NAMES = ("subject", "text", "key", "channel")
FILTERS = ("tojson", "urlencode")
FIELD_PATH = re.compile(r"fields(\.[A-Za-z0-9_-]+)+\Z")
SAMPLE = 'a "quoted"\nline\\ & ü'  # what a check renders: quotes, a newline, a backslash


class TemplateError(ValueError):
    """The template is not written in the grammar above; the text says where."""


def check_template(template: str) -> None:
    """Raise ``TemplateError`` for an unknown name or filter, or a stray ``{{`` / ``}}``."""
    position = 0
    for match in PLACEHOLDER.finditer(template):
        _check_literal(template[position : match.start()])
        name, filter_ = match.group(1), match.group(2)
        if name not in NAMES and not FIELD_PATH.match(name):
            raise TemplateError(
                f"{{{{ {name} }}}} is not a value a template may use (one of "
                f"{', '.join(NAMES)}, or fields.NAME)."
            )
        if filter_ is not None and filter_ not in FILTERS:
            raise TemplateError(
                f"|{filter_} is not a filter (one of {', '.join(FILTERS)}; none: "
                "JSON-escaped for inside a string)."
            )
        position = match.end()
    _check_literal(template[position:])


def render_template(template: str, values: Mapping[str, Any]) -> str:
    """The body: each placeholder replaced by its value, escaped as its filter says.
    ``values`` holds the names above, ``fields`` a mapping."""

    def replace(match: re.Match[str]) -> str:
        value = _lookup(values, match.group(1))
        filter_ = match.group(2)
        if filter_ == "tojson":
            return _json(value)
        if filter_ == "urlencode":
            return quote(_plain(value), safe="")
        return _json(_plain(value))[1:-1]

    return PLACEHOLDER.sub(replace, template)


def sample_values() -> dict[str, Any]:
    """Values to render a template with when it is checked: each with every character JSON
    must escape."""
    return {name: SAMPLE for name in NAMES} | {"fields": {}}


def _check_literal(text: str) -> None:
    for token in ("{{", "}}"):
        if token in text:
            at = text.index(token)
            raise TemplateError(
                f"{token!r} at {text[max(0, at - 10) : at + 12]!r} is not a placeholder "
                "({{ name }} or {{ name | filter }})."
            )


def _lookup(values: Mapping[str, Any], name: str) -> Any:
    if name in NAMES:
        return values.get(name)
    node: Any = values.get("fields", {})
    for part in name.split(".")[1:]:
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _plain(value: Any) -> str:
    """The value as text: strings as they are, null as nothing, the rest as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return _json(value)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
