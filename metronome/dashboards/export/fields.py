"""The fields a stream's indices map, read from the shipped templates (``es_templates/``).

A stream's indices get the properties of its own index template (``<stream>.json``, or the
catch-all ``streams.json`` when it has none) and of the components it is composed of. Fields
not listed there are still mapped when a document brings them, by the components' dynamic
templates (any string a ``keyword``, any number a ``double``), but the exporters' tests hold
the dashboards to the fields the templates name.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from metronome.es.templates import TEMPLATES_DIR


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
