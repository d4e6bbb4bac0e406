"""The fields a stream's indices map, read from the shipped templates (``es_templates/``).

A stream's indices get the properties of its own index template (``<stream>.json``, or the
catch-all ``streams.json`` when it has none) and of the components it is composed of. Fields
not listed there are still mapped when a document brings them, by the dynamic templates (any
string a ``keyword``, any number a ``double``): :func:`field_type` says which it is.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from metronome.es.templates import TEMPLATES_DIR

Origin = Literal["explicit", "dynamic"]
# What the components' dynamic templates map a value to, by the JSON type of the value.
DYNAMIC_TYPES = {"string": "keyword", "long": "double", "double": "double"}


@functools.cache
def stream_fields(stream: str, directory: Path = TEMPLATES_DIR) -> Mapping[str, str]:
    """Every explicitly mapped field of ``stream``'s indices (dotted name -> mapping type)."""
    own = directory / "index" / f"{stream}.json"
    template = _read(own if own.is_file() else directory / "index" / "streams.json")
    fields: dict[str, str] = {}
    for name in template.get("composed_of", []):
        component = directory / "component" / f"{name.split('-', 1)[1]}.json"
        if component.is_file():
            _flatten(_mappings(_read(component)).get("properties", {}), "", fields)
    _flatten(_mappings(template).get("properties", {}), "", fields)
    return fields


@functools.cache
def dynamic_types(stream: str, directory: Path = TEMPLATES_DIR) -> frozenset[str]:
    """The mapping types the dynamic templates give new fields of ``stream`` (keyword, double)."""
    own = directory / "index" / f"{stream}.json"
    template = _read(own if own.is_file() else directory / "index" / "streams.json")
    types: set[str] = set()
    mappings = [_mappings(template)]
    for name in template.get("composed_of", []):
        component = directory / "component" / f"{name.split('-', 1)[1]}.json"
        if component.is_file():
            mappings.append(_mappings(_read(component)))
    for mapping in mappings:
        for entry in mapping.get("dynamic_templates", []):
            for rule in entry.values():
                if rule.get("match", "*") == "*" and "match_mapping_type" in rule:
                    types.add(str(rule["mapping"]["type"]))
    return frozenset(types)


def field_type(stream: str, field: str) -> tuple[str, Origin] | None:
    """The type of ``field`` in ``stream``'s indices and whether a template names it."""
    explicit = stream_fields(stream).get(field)
    if explicit is not None:
        return explicit, "explicit"
    return None


def _flatten(properties: Mapping[str, Any], prefix: str, into: dict[str, str]) -> None:
    for name, mapping in properties.items():
        path = f"{prefix}{name}"
        if "properties" in mapping:
            _flatten(mapping["properties"], f"{path}.", into)
        else:
            into[path] = str(mapping.get("type", "object"))


def _mappings(template: Mapping[str, Any]) -> Mapping[str, Any]:
    mappings = template.get("template", {}).get("mappings", {})
    return mappings if isinstance(mappings, Mapping) else {}


def _read(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data
