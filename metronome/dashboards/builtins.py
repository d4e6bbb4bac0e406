"""The dashboards Metronome ships (``builtin/*.json``, package data): one per built-in stream,
``web`` being the site dashboard every site has without configuration.

They are checked like any other definition when loaded, for the grammar of their queries
(the fields are those of the shipped index templates, which a unit test checks)."""

from __future__ import annotations

import functools
import json
from importlib import resources

from metronome.dashboards.definition import Dashboard, parse_dashboard

PACKAGE = "metronome.dashboards"


@functools.cache
def builtin_dashboards() -> tuple[Dashboard, ...]:
    """Every built-in dashboard, in file name order (``web`` first)."""
    folder = resources.files(PACKAGE).joinpath("builtin")
    names = sorted(
        (entry.name for entry in folder.iterdir() if entry.name.endswith(".json")),
        key=lambda name: (name != "web.json", name),
    )
    dashboards = []
    for name in names:
        raw = json.loads(folder.joinpath(name).read_text(encoding="utf-8"))
        dashboard = parse_dashboard(raw, lambda stream: None)
        if f"{dashboard.id}.json" != name:
            raise ValueError(f"built-in dashboard {name}: its id is {dashboard.id!r}")
        dashboards.append(dashboard)
    return tuple(dashboards)
