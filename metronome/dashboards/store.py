"""Stored dashboards: index ``<prefix>-dashboards`` (es_templates/index/dashboards.json), one
document per site and dashboard id, the definition kept whole and not indexed.

Optimistic concurrency: a dashboard's version is ``"<seq_no>.<primary_term>"`` of its document,
and a change is written only if the document still has that version (``if_seq_no`` and
``if_primary_term``), so of two editors who read the same version the first to save wins and
the second is told (``version_conflict``, with the current version) instead of silently
overwriting. Each write refreshes the (small) index at once, so a list read after a save shows it
without waiting for the next scheduled refresh.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, TypeVar

from elasticsearch import Elasticsearch

from metronome.dashboards.definition import Dashboard, parse_dashboard, to_json
from metronome.dashboards.registry import Entry
from metronome.errors import ApiError
from metronome.es.templates import create_templated_index
from metronome.query.reads import (
    DocumentConflict,
    DocumentMissing,
    call_document,
)

VERSION = re.compile(r"([0-9]{1,19})\.([0-9]{1,19})")
MAX_LISTED = 1000
T = TypeVar("T")


def version_of(document: dict[str, Any]) -> str:
    return f"{document['_seq_no']}.{document['_primary_term']}"


def parse_version(text: str) -> tuple[int, int] | None:
    """``(seq_no, primary_term)`` of a version string (quotes of an ETag removed), or None."""
    text = text.strip()
    if text.startswith("W/"):
        text = text[2:]
    match = VERSION.fullmatch(text.strip('"'))
    if match is None:
        return None
    seq_no, primary_term = int(match.group(1)), int(match.group(2))
    if primary_term < 1 or max(seq_no, primary_term) >= 2**63:  # what Elasticsearch accepts
        return None
    return seq_no, primary_term


class DashboardStore:
    def __init__(self, client: Elasticsearch, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.index = f"{prefix}-dashboards"
        self._ready = False

    def list(self, site: str) -> list[Entry]:
        response = call_document(
            lambda: (
                self.client.search(
                    index=self.index,
                    query={"term": {"site": site}},
                    sort=[{"id": "asc"}],
                    size=MAX_LISTED,
                    seq_no_primary_term=True,
                    ignore_unavailable=True,
                    allow_no_indices=True,
                ).body
            )
        )
        return [self._entry(hit) for hit in response["hits"]["hits"]]

    def get(self, site: str, dashboard_id: str) -> Entry | None:
        try:
            found = call_document(
                lambda: self.client.get(index=self.index, id=_doc_id(site, dashboard_id)).body
            )
        except DocumentMissing:
            return None
        return self._entry(found)

    def create(self, dashboard: Dashboard) -> Entry | None:
        """The stored dashboard, or None when its id is taken on its site."""
        assert dashboard.site is not None
        self._ensure_index()
        try:
            written = call_document(
                lambda: (
                    self.client.create(
                        index=self.index,
                        id=_doc_id(dashboard.site or "", dashboard.id),
                        document=_document(dashboard),
                        refresh=True,
                    ).body
                )
            )
        except DocumentConflict:
            return None
        return Entry(dashboard, "stored", version_of(written))

    def replace(self, dashboard: Dashboard, version: str) -> Entry:
        """Write ``dashboard`` over the version ``version``; 409 ``version_conflict`` when it
        has changed since (the answer carries ``current_version``), 404 when it is gone."""
        assert dashboard.site is not None
        seq_no, primary_term = _versioned(version)
        try:
            written = call_document(
                lambda: (
                    self.client.index(
                        index=self.index,
                        id=_doc_id(dashboard.site or "", dashboard.id),
                        document=_document(dashboard),
                        if_seq_no=seq_no,
                        if_primary_term=primary_term,
                        refresh=True,
                    ).body
                )
            )
        except DocumentConflict:
            raise self.conflict(dashboard.site, dashboard.id) from None
        return Entry(dashboard, "stored", version_of(written))

    def delete(self, site: str, dashboard_id: str, version: str | None) -> None:
        options: dict[str, Any] = {}
        if version is not None:
            seq_no, primary_term = _versioned(version)
            options = {"if_seq_no": seq_no, "if_primary_term": primary_term}
        try:
            call_document(
                lambda: self.client.delete(
                    index=self.index,
                    id=_doc_id(site, dashboard_id),
                    refresh=True,
                    **options,
                )
            )
        except DocumentConflict:
            raise self.conflict(site, dashboard_id) from None
        except DocumentMissing:
            raise unknown_dashboard(dashboard_id, site) from None

    def conflict(self, site: str, dashboard_id: str) -> ApiError:
        """409 ``version_conflict`` with the current version (404 when there is none)."""
        current = self.get(site, dashboard_id)
        if current is None:
            return unknown_dashboard(dashboard_id, site)
        return ApiError(
            409,
            "version_conflict",
            f"Someone else saved dashboard {dashboard_id!r} since you opened it (version "
            f"{current.version} now). Reload it, apply your changes again and save.",
            extra={"current_version": current.version},
        )

    def _entry(self, document: dict[str, Any]) -> Entry:
        definition = document["_source"]["definition"]
        # Stored definitions were checked when saved; their fields are not checked again (a
        # field may have gone from the data since: its widget then answers its own error).
        dashboard = parse_dashboard(definition, lambda stream: None)
        return Entry(dashboard, "stored", version_of(document))

    def _ensure_index(self) -> None:
        """The index with its mapping, even where the templates were not installed."""
        if not self._ready:
            call_document(lambda: create_templated_index(self.client, self.prefix, self.index))
            self._ready = True


def unknown_dashboard(dashboard_id: str, site: str) -> ApiError:
    message = f"There is no dashboard {dashboard_id[:64]!r} for site {site!r}."
    return ApiError(404, "unknown_dashboard", message, field="id")


def _versioned(version: str) -> tuple[int, int]:
    parsed = parse_version(version)
    if parsed is None:
        message = f'{version[:40]!r} is not a dashboard version (it reads like "12.1").'
        raise ApiError(422, "invalid_version", message, field="version")
    return parsed


def _doc_id(site: str, dashboard_id: str) -> str:
    return f"{site}/{dashboard_id}"


def _document(dashboard: Dashboard) -> dict[str, Any]:
    return {
        "site": dashboard.site,
        "id": dashboard.id,
        "title": dashboard.title,
        "updated_at": datetime.now(UTC).isoformat(),
        "definition": to_json(dashboard),
    }
