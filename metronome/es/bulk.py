"""Bulk writes with ``op_type=create`` and deterministic ids: a resend is stored once.

A 409 answer for an item means the document is already there, which counts as stored.
Snapshots that legitimately change (a source's daily figure read again) are written with an
external version instead: the higher version wins, and a 409 means a newer one is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from elasticsearch import ApiError as EsApiError
from elasticsearch import Elasticsearch, TransportError


class StoreUnavailable(RuntimeError):
    """Elasticsearch could not be reached or refused the whole request; retry later."""


@dataclass(frozen=True)
class BulkAction:
    index: str
    id: str
    document: dict[str, Any] | bytes  # bytes: the document's JSON, sent as it is
    # None: create (a resend is a 409, already stored). A number: replace the stored document
    # when this version is higher (external versioning; an equal or lower one is a 409).
    version: int | None = None


@dataclass(frozen=True)
class ItemResult:
    status: int
    error: dict[str, Any] | None = None

    @property
    def stored(self) -> bool:
        """Created now (201) or already there from an earlier send (409)."""
        return self.status in (200, 201, 409)


def bulk_create(
    client: Elasticsearch,
    actions: Sequence[BulkAction],
    refresh: Literal["wait_for", False] = False,
) -> list[ItemResult]:
    """One ``_bulk`` request; one result per action, in order."""
    if not actions:
        return []
    operations: list[Any] = []
    for action in actions:
        if action.version is None:
            operations.append({"create": {"_index": action.index, "_id": action.id}})
        else:
            operations.append(
                {
                    "index": {
                        "_index": action.index,
                        "_id": action.id,
                        "version": action.version,
                        "version_type": "external",
                    }
                }
            )
        operations.append(action.document)
    try:
        response = client.bulk(operations=operations, refresh=refresh)
    except (TransportError, EsApiError) as error:
        raise StoreUnavailable(str(error)) from error
    return [_item_result(item) for item in response["items"]]


def _item_result(item: dict[str, Any]) -> ItemResult:
    outcome = item.get("create") or item.get("index") or {}
    return ItemResult(status=int(outcome.get("status", 500)), error=outcome.get("error"))


@dataclass(frozen=True)
class VersionedDelete:
    """Delete ``id`` if it is stored with a lower (external) version than ``version``."""

    index: str
    id: str
    version: int


def bulk_delete(client: Elasticsearch, deletes: Sequence[VersionedDelete]) -> list[ItemResult]:
    """One ``_bulk`` request of versioned deletes; one result per delete, in order. 200 is
    deleted; 404 (not stored) and 409 (a newer version is stored) leave nothing to do."""
    if not deletes:
        return []
    operations: list[Any] = [
        {
            "delete": {
                "_index": delete.index,
                "_id": delete.id,
                "version": delete.version,
                "version_type": "external",
            }
        }
        for delete in deletes
    ]
    try:
        response = client.bulk(operations=operations)
    except (TransportError, EsApiError) as error:
        raise StoreUnavailable(str(error)) from error
    return [
        ItemResult(status=int(outcome.get("status", 500)), error=outcome.get("error"))
        for outcome in (item.get("delete") or {} for item in response["items"])
    ]
