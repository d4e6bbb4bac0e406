"""Load the JSON templates in ``es_templates/`` and install them, idempotently."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from elasticsearch import Elasticsearch

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "es_templates"
PREFIX_PLACEHOLDER = "{{prefix}}"


@dataclass(frozen=True)
class Template:
    kind: Literal["component", "index"]
    name: str
    body: dict[str, Any]


def load_templates(prefix: str, directory: Path = TEMPLATES_DIR) -> list[Template]:
    """Every template, components first (index templates refer to them), names prefixed."""
    templates: list[Template] = []
    for kind in ("component", "index"):
        for path in sorted((directory / kind).glob("*.json")):
            body = _substitute(json.loads(path.read_text(encoding="utf-8")), prefix)
            templates.append(Template(kind=kind, name=f"{prefix}-{path.stem}", body=body))
    if not templates:
        raise FileNotFoundError(f"no templates found under {directory}")
    return templates


def install_templates(client: Elasticsearch, prefix: str) -> list[Template]:
    """PUT every template; safe to repeat (a PUT replaces the template with the same body)."""
    templates = load_templates(prefix)
    for template in templates:
        if template.kind == "component":
            client.cluster.put_component_template(name=template.name, **template.body)
        else:
            client.indices.put_index_template(name=template.name, **template.body)
    return templates


def create_templated_index(client: Elasticsearch, prefix: str, index: str) -> None:
    """The single index ``index`` (e.g. ``<prefix>-alerts``) with the mapping of its template,
    even where the templates were not installed; one already there is left as it is."""
    template = next(t for t in load_templates(prefix) if t.name == index)
    mappings = template.body["template"]["mappings"]
    client.options(ignore_status=400).indices.create(index=index, mappings=mappings)


def remove_templates(client: Elasticsearch, prefix: str) -> None:
    """Delete the templates of one prefix (index templates first); used by tests."""
    for template in reversed(load_templates(prefix)):
        if template.kind == "index":
            client.options(ignore_status=404).indices.delete_index_template(name=template.name)
        else:
            client.options(ignore_status=404).cluster.delete_component_template(name=template.name)


def _substitute(node: Any, prefix: str) -> Any:
    if isinstance(node, str):
        return node.replace(PREFIX_PLACEHOLDER, prefix)
    if isinstance(node, list):
        return [_substitute(item, prefix) for item in node]
    if isinstance(node, dict):
        return {key: _substitute(value, prefix) for key, value in node.items()}
    return node
