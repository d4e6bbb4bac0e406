"""Bulk writes with ``op_type=create`` and deterministic ids: a resend is stored once.

A 409 answer for an item means the document is already there, which counts as stored.
Snapshots that legitimately change (a source's daily figure read again) are written with an
external version instead: the higher version wins, and a 409 means a newer one is stored.

``bulk_until_settled`` sends a bulk again, with backoff (``metronome.es.retry``), until every
item has a final answer; what to do with a final refusal (a dead letter, a count) stays with
the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from elasticsearch import ApiError as EsApiError
from elasticsearch import Elasticsearch, TransportError

from metronome.es.retry import Retry, is_retryable

T = TypeVar("T")


class StoreUnavailable(RuntimeError):
    """Elasticsearch could not be reached or refused the whole request; retry later."""


class GaveUp(StoreUnavailable):
    """Items still without a final answer after the tries a ``Retry`` allows."""

    def __init__(self, pending: int, tries: int, unavailable: str | None) -> None:
        self.pending = pending
        self.tries = tries
        self.unavailable = unavailable  # the last failure of the whole request, if it was that
        why = (
            f"Elasticsearch is unavailable: {unavailable}"
            if unavailable is not None
            else f"Elasticsearch keeps refusing {pending} documents for now"
        )
        super().__init__(f"{why}; gave up after {tries} tries")


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


def passes(result: ItemResult) -> bool:
    """A 429 or 5xx answer for an item: sent again. Anything else is final (stored or refused)."""
    return is_retryable(result.status)


def bulk_until_settled(
    items: Sequence[T],
    send: Callable[[list[T]], list[ItemResult]],
    retry: Retry,
    *,
    again: Callable[[ItemResult], bool] = passes,
    on_retry: Callable[[int, StoreUnavailable | None], None] | None = None,
) -> list[ItemResult]:
    """Send ``items`` in bulk (``send`` answers one result per item, in order) until each
    answer is final (``again`` says which are not), backing off between tries: one final
    result per item, in order.

    A ``StoreUnavailable`` from ``send`` (no connection, the whole request refused) sends every
    item again. ``on_retry(count, failure)`` is told before each wait how many items go again,
    and the failure when the whole request failed. Raises ``GaveUp`` when ``retry.tries`` run
    out, ``metronome.es.retry.Stopped`` when a stop is requested.
    """
    final: list[ItemResult | None] = [None] * len(items)
    pending = list(range(len(items)))
    attempt = 0
    while pending:
        retry.check()
        failure: StoreUnavailable | None = None
        try:
            answered = send([items[i] for i in pending])
        except StoreUnavailable as error:
            failure = error
        else:
            left = []
            for i, result in zip(pending, answered, strict=True):
                if again(result):
                    left.append(i)
                else:
                    final[i] = result
            pending = left
        if not pending:
            break
        if retry.tries is not None and attempt + 1 >= retry.tries:
            raise GaveUp(len(pending), attempt + 1, None if failure is None else str(failure))
        if on_retry is not None:
            on_retry(len(pending), failure)
        retry.wait(attempt)
        attempt += 1
    return [result for result in final if result is not None]
