"""Public read-only links to a dashboard: index ``<prefix>-shares``.

A link's token (``secrets.token_urlsafe``, 192 bits) is shown once, when the link is made; only
its SHA-256 is stored, as the document id, so a copy of the index opens no dashboard and a
public request finds its link with one get by id. A link is for one site and one dashboard,
and may fix filters that every answer through it applies (a widget that cannot apply them
answers an error rather than unfiltered numbers). Revoking deletes the document: the token
then opens nothing (404, as a token that never was).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from metronome.errors import ApiError
from metronome.es.templates import load_templates
from metronome.query.reads import call_elasticsearch

TOKEN_BYTES = 24  # 192 bits of randomness; 32 characters in the URL
TOKEN = re.compile(r"[A-Za-z0-9_-]{20,128}")
SHARE_ID = re.compile(r"[a-f0-9]{16}")
MAX_LISTED = 1000


@dataclass(frozen=True)
class Share:
    id: str
    site: str
    dashboard: str
    created: str
    filters: list[list[Any]]

    def answer(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "site": self.site,
            "dashboard": self.dashboard,
            "created": self.created,
            "filters": self.filters,
        }


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def share_url(token: str) -> str:
    return f"/share/{token}"


class ShareStore:
    def __init__(self, client: Elasticsearch, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.index = f"{prefix}-shares"
        self._ready = False

    def create(self, site: str, dashboard_id: str, filters: list[list[Any]]) -> tuple[Share, str]:
        """A new link and its token (the only time the token is known)."""
        self._ensure_index()
        token = secrets.token_urlsafe(TOKEN_BYTES)
        share = Share(
            id=secrets.token_hex(8),
            site=site,
            dashboard=dashboard_id,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            filters=filters,
        )
        document = {
            "id": share.id,
            "site": site,
            "dashboard": dashboard_id,
            "created": share.created,
            "fixed": {"filters": filters},
        }
        call_elasticsearch(
            lambda: self.client.create(
                index=self.index, id=token_digest(token), document=document, refresh=True
            )
        )
        return share, token

    def find(self, token: str) -> Share | None:
        """The link of ``token``; None for a token that is not (or no longer) one."""
        if not TOKEN.fullmatch(token):
            return None
        found = self._get(token_digest(token))
        return _share(found["_source"]) if found else None

    def list(self, site: str, dashboard_id: str) -> list[Share]:
        response = call_elasticsearch(
            lambda: (
                self.client.search(
                    index=self.index,
                    query={
                        "bool": {
                            "filter": [
                                {"term": {"site": site}},
                                {"term": {"dashboard": dashboard_id}},
                            ]
                        }
                    },
                    sort=[{"created": "asc"}],
                    size=MAX_LISTED,
                    ignore_unavailable=True,
                    allow_no_indices=True,
                ).body
            )
        )
        return [_share(hit["_source"]) for hit in response["hits"]["hits"]]

    def revoke(self, site: str, share_id: str) -> bool:
        """Delete the link ``share_id`` of ``site``; False when there is none."""
        if not SHARE_ID.fullmatch(share_id):
            return False
        response = call_elasticsearch(
            lambda: (
                self.client.search(
                    index=self.index,
                    query={
                        "bool": {"filter": [{"term": {"site": site}}, {"term": {"id": share_id}}]}
                    },
                    size=1,
                    ignore_unavailable=True,
                    allow_no_indices=True,
                ).body
            )
        )
        hits = response["hits"]["hits"]
        if not hits:
            return False
        doc_id = str(hits[0]["_id"])

        def delete() -> bool:
            try:
                self.client.delete(index=self.index, id=doc_id, refresh=True)
            except NotFoundError:
                return False  # revoked by someone else a moment ago
            return True

        return call_elasticsearch(delete)

    def _get(self, doc_id: str) -> dict[str, Any] | None:
        def get() -> dict[str, Any] | None:
            try:
                return dict(self.client.get(index=self.index, id=doc_id).body)
            except NotFoundError:
                return None

        return call_elasticsearch(get)

    def _ensure_index(self) -> None:
        if self._ready:
            return
        template = next(t for t in load_templates(self.prefix) if t.name == self.index)
        mappings = template.body["template"]["mappings"]
        call_elasticsearch(
            lambda: self.client.options(ignore_status=400).indices.create(
                index=self.index, mappings=mappings
            )
        )
        self._ready = True


def _share(source: dict[str, Any]) -> Share:
    return Share(
        id=str(source["id"]),
        site=str(source["site"]),
        dashboard=str(source["dashboard"]),
        created=str(source["created"]),
        filters=list(source.get("fixed", {}).get("filters", [])),
    )


def invalid_share(message: str, field: str) -> ApiError:
    return ApiError(422, "invalid_share", message, field=field)


def share_csp(embed_origins: tuple[str, ...]) -> str:
    """The Content-Security-Policy of a shared dashboard's page: the app's own policy, framed
    only by ``embed_origins`` (``dashboards.embed_origins``; none: ``'none'``)."""
    ancestors = " ".join(embed_origins) if embed_origins else "'none'"
    return (
        f"default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors {ancestors}"
    )
