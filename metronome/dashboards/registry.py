"""Where a dashboard comes from: the built-in ones, the files of ``dashboards.dir`` and the
store (per site). Built-in and file dashboards are the same for every site and read-only."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from metronome.dashboards.definition import Dashboard, to_json

Source = Literal["builtin", "file", "stored"]


@dataclass(frozen=True)
class Entry:
    dashboard: Dashboard
    source: Source
    version: str

    @property
    def readonly(self) -> bool:
        return self.source != "stored"

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.dashboard.id,
            "title": self.dashboard.title,
            "description": self.dashboard.description,
            "stream": self.dashboard.stream,
            "site": self.dashboard.site,
            "source": self.source,
            "readonly": self.readonly,
            "version": self.version,
        }

    def answer(self) -> dict[str, Any]:
        """The full definition with where it comes from and its version."""
        return {
            **to_json(self.dashboard),
            "source": self.source,
            "readonly": self.readonly,
            "version": self.version,
        }


def content_version(dashboard: Dashboard) -> str:
    """The version of a dashboard that is not stored: a digest of its definition, so that it
    changes when the definition does (and an ETag stays right across restarts)."""
    text = json.dumps(to_json(dashboard), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Fixed:
    """The dashboards that are the same for every site: built-in ones, then files."""

    def __init__(self, builtins: Sequence[Dashboard], files: Sequence[Dashboard] = ()) -> None:
        self.entries: dict[str, Entry] = {}
        sources: tuple[tuple[Source, Sequence[Dashboard]], ...] = (
            ("builtin", builtins),
            ("file", files),
        )
        for source, dashboards in sources:
            for dashboard in dashboards:
                if dashboard.id in self.entries:
                    raise ValueError(f"two dashboards have the id {dashboard.id!r}")
                self.entries[dashboard.id] = Entry(dashboard, source, content_version(dashboard))

    def find(self, dashboard_id: str) -> Entry | None:
        return self.entries.get(dashboard_id)

    def all(self) -> list[Entry]:
        return list(self.entries.values())
