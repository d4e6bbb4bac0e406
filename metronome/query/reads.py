"""Reads from Elasticsearch as the read endpoints answer their failures: a query Elasticsearch
refuses is a 422 (its reason is logged, not sent: it can name indices and internals); an
unavailable cluster (or a daily index whose shard has not
started yet, after a few short waits) is a 503 with Retry-After."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from elasticsearch import ApiError as EsApiError
from elasticsearch import BadRequestError, ConflictError, NotFoundError, TransportError

from metronome.errors import ApiError

log = logging.getLogger(__name__)
SHARD_RETRIES = 3
# how Elasticsearch names a time zone in its refusals: "[time_zone]", "Unknown time-zone ID"
TIME_ZONE = re.compile(r"time[ _-]zone", re.IGNORECASE)
T = TypeVar("T")


def call_elasticsearch(call: Callable[[], T]) -> T:
    for attempt in range(SHARD_RETRIES + 1):
        try:
            return call()
        except BadRequestError as error:
            reason = _reason(error)
            log.info("Elasticsearch refused a query: %s", reason)
            raise refusal(reason) from None
        except EsApiError as error:
            # A daily index created a moment ago has no started shard yet: wait a little.
            if error.meta.status == 503 and attempt < SHARD_RETRIES:
                time.sleep(0.2 * (attempt + 1))
                continue
            log.warning("Elasticsearch failed a read: %r", error)
            raise store_unavailable() from None
        except TransportError as error:
            log.warning("Elasticsearch failed a read: %r", error)
            raise store_unavailable() from None
    raise AssertionError("unreachable")


class DocumentConflict(Exception):
    """Elasticsearch answered 409: the document changed since it was read, or the id is taken."""


class DocumentMissing(Exception):
    """Elasticsearch answered 404: no such document (or no index yet)."""


def call_document(call: Callable[[], T]) -> T:
    """A read or conditional write of one stored document (a dashboard, an alert rule): made
    as ``call_elasticsearch`` makes every read (503 when Elasticsearch cannot answer), its 409
    and 404 raised as ``DocumentConflict`` and ``DocumentMissing``."""

    def guarded() -> tuple[str, T | None]:
        try:
            return "done", call()
        except ConflictError:
            return "conflict", None
        except NotFoundError:
            return "missing", None

    outcome, value = call_elasticsearch(guarded)
    if outcome == "conflict":
        raise DocumentConflict
    if outcome == "missing":
        raise DocumentMissing
    return value  # type: ignore[return-value]


def check_shards(response: Mapping[str, Any]) -> None:
    """An answer some shards failed to give (a daily index's search ran out of memory, a field
    mapped otherwise in an older index) holds part of the data: refuse it rather than answer
    numbers that are silently too low. The reason is logged, not sent."""
    shards = response.get("_shards") or {}
    if not int(shards.get("failed", 0) or 0):
        return
    failures = shards.get("failures") or [{}]
    cause = (failures[0] or {}).get("reason")
    cause = cause if isinstance(cause, dict) else {}
    reason = f"{cause.get('type', '')}: {cause.get('reason', '')}"[:300]
    log.warning("Elasticsearch answered %s of %s shards: %s", shards.get("successful"),
                shards.get("total"), reason)  # fmt: skip
    if "circuit_breaking" in reason or "too large" in reason.lower():
        raise ApiError(
            503,
            "store_unavailable",
            "Elasticsearch lacked the memory to answer this query over every day of the range; "
            "retry shortly, or ask for a shorter range or fewer groups.",
            headers={"Retry-After": "5"},
        )
    raise ApiError(
        422,
        "invalid_query",
        "Elasticsearch could answer this query for part of the range only (a field may have "
        "another type in older data); narrow the range or change the filters.",
    )


def refusal(reason: str) -> ApiError:
    """The 422 of a query Elasticsearch refuses; ``reason`` (Elasticsearch's words, logged, not
    sent) only chooses which of two likely causes the message names."""
    if TIME_ZONE.search(reason):
        return ApiError(
            422,
            "unknown_tz",
            "Elasticsearch does not know this time zone (its Java runtime's time zone data is "
            "older than this server's); choose another name for the same zone.",
            field="tz",
        )
    return ApiError(
        422,
        "invalid_query",
        "Elasticsearch refused the query. The usual cause is a matches filter whose "
        "regular expression is not valid in Elasticsearch's regular-expression syntax.",
    )


def store_unavailable() -> ApiError:
    """The 503 of every read Elasticsearch cannot answer now."""
    return ApiError(
        503,
        "store_unavailable",
        "Elasticsearch cannot answer right now; retry shortly.",
        headers={"Retry-After": "5"},
    )


def _reason(error: BadRequestError) -> str:
    body = error.body if isinstance(error.body, dict) else {}
    return error_reason(body.get("error"), error.message)


def error_reason(error: object, default: str = "") -> str:
    """What Elasticsearch says in an ``error`` object (its root cause and what caused it)."""
    if not isinstance(error, dict):
        return default[:300]
    root = (error.get("root_cause") or [{}])[0]
    caused = error.get("caused_by")
    because = caused.get("reason", "") if isinstance(caused, dict) else ""
    return f"{root.get('reason', default)} {because}".strip()[:300]
