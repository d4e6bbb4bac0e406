"""A GitHub webhook delivery as a Logstash-style document of the ``github`` stream.

Every delivery keeps its whole payload (``payload``, stored but not indexed: payloads hold
hundreds of fields that differ per event) under a few common, queryable fields (``event``,
``action``, ``repo``, ``sender``, ...) and, for the events people count, a small typed summary
named after the payload's object (``push``, ``star``, ``fork``, ``pull_request``, ``issue``).

``@timestamp`` must be the same when GitHub redelivers: the document's daily index is chosen by
it, and a redelivery landing in another day's index would be stored twice. So it is, first
found: the event's own time in the payload (push: the push time, star: ``starred_at``, fork:
the fork's creation); else the time inside the delivery GUID (GitHub's are version-1 UUIDs,
which carry the moment GitHub created the event; undocumented, so checked); else the receive
time. ``timestamp_from`` says which (``payload`` | ``delivery`` | ``received``).

Replays. The document id is the SHA-256 of the signed body, not the X-GitHub-Delivery header:
GitHub redelivers the same bytes under the same header, and a captured delivery replayed under
a made-up header (headers are not signed) gets the same id, so it is stored once as long as it
lands in the same daily index. A delivery whose signed payload dates the event (push:
``repository.pushed_at``, star: ``starred_at``, fork: ``forkee.created_at``) is refused when
that time is older than ``webhooks.github.max_age_days`` (GitHub lets a delivery be redelivered
for 3 days): a replay of it can never be stored again, in any index. The delivery GUID's time
is not used for that (the header is not signed), nor a head commit's time (a push may carry
old commits). A delivery with no such time (watch, issues, ping, ...) has no trustworthy age;
its replay is deduplicated when it falls on the same day as the original only.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from metronome.errors import ApiError
from metronome.sources.base import iso
from metronome.spool.entry import Entry
from metronome.webhooks.github import Delivery

STREAM = "github"
SOURCE = "github-webhook"
SOURCE_TYPE = "github_webhook"
KIND = "webhook"

UUID_EPOCH = datetime(1582, 10, 15, tzinfo=UTC)  # version-1 UUIDs count 100 ns from here
EARLIEST = datetime(2007, 10, 1, tzinfo=UTC)  # before GitHub: not a delivery's time
LATEST_AHEAD = timedelta(days=1)  # clock skew tolerated past the receive time
MAX_SAFE_INTEGER = 2**53

Payload = dict[str, Any]


def delivery_entry(delivery: Delivery, site: str, received_at: datetime) -> Entry:
    """The spool entry: its id is the signed body's digest, so a redelivery or a replay of
    the same bytes is stored once."""
    return Entry(stream=STREAM, id=entry_id(delivery), doc=document(delivery, site, received_at))


def entry_id(delivery: Delivery) -> str:
    return f"{SOURCE}:sha256:{delivery.digest}"


def signed_time(delivery: Delivery) -> datetime | None:
    """When the event happened, as the signed payload says (None: it does not say)."""
    read = SIGNED_TIME.get(delivery.event)
    return _moment(read(delivery.payload)) if read is not None else None


def check_fresh(delivery: Delivery, received_at: datetime, max_age: timedelta | None) -> None:
    """A 422 for a delivery whose signed time is older than ``max_age`` (None: no limit)."""
    moment = signed_time(delivery)
    if max_age is None or moment is None or received_at - moment <= max_age:
        return
    raise ApiError(
        422,
        "stale_delivery",
        f"The {delivery.event} event happened at {iso(moment)}, more than "
        f"{max_age.days} days ago (webhooks.github.max_age_days): a replay is not stored.",
    )


def document(delivery: Delivery, site: str, received_at: datetime) -> dict[str, Any]:
    payload = delivery.payload
    timestamp, timestamp_from = document_time(delivery, received_at)
    doc: dict[str, Any] = {
        "@timestamp": iso(timestamp),
        "@version": "1",
        "type": STREAM,
        "site": site,
        "received_at": iso(received_at),
        "source": SOURCE,
        "source_type": SOURCE_TYPE,
        "kind": KIND,
        "event": delivery.event,
        "delivery": delivery.id,
        "timestamp_from": timestamp_from,
    }
    common = {
        "action": _str(payload.get("action")),
        "hook_id": delivery.hook_id or _int(payload.get("hook_id")),
        "repo": _str(_get(payload, "repository", "full_name")),
        "sender": _str(_get(payload, "sender", "login")),
        "org": _str(_get(payload, "organization", "login")),
    }
    doc.update(_present(common))
    if delivery.event in SUMMARIES:
        section, summarize = SUMMARIES[delivery.event]
        summary = _present(summarize(payload))
        if summary:
            doc[section] = summary
    doc["payload"] = payload
    return doc


def document_time(delivery: Delivery, received_at: datetime) -> tuple[datetime, str]:
    """``@timestamp`` and where it came from (see the module's docstring)."""
    own = OWN_TIME.get(delivery.event)
    if own is not None:
        for value in own(delivery.payload):
            moment = _plausible(_moment(value), received_at)
            if moment is not None:
                return moment, "payload"
    moment = _plausible(delivery_time(delivery.id), received_at)
    if moment is not None:
        return moment, "delivery"
    return received_at, "received"


def delivery_time(delivery_id: str) -> datetime | None:
    """When GitHub created the event, read from a version-1 UUID delivery id; else None."""
    try:
        guid = uuid.UUID(delivery_id)
    except ValueError:
        return None
    if guid.version != 1:
        return None
    return UUID_EPOCH + timedelta(microseconds=guid.time // 10)


# --- the event's own time -------------------------------------------------------------------


def _push_times(payload: Payload) -> list[Any]:
    # repository.pushed_at is the push itself (an integer epoch in push payloads); the head
    # commit's timestamp is when it was committed, possibly long before it was pushed.
    return [_get(payload, "repository", "pushed_at"), _get(payload, "head_commit", "timestamp")]


SIGNED_TIME: dict[str, Callable[[Payload], Any]] = {  # the event's own moment, for its age
    "push": lambda payload: _get(payload, "repository", "pushed_at"),
    "star": lambda payload: payload.get("starred_at"),
    "fork": lambda payload: _get(payload, "forkee", "created_at"),
}

OWN_TIME: dict[str, Callable[[Payload], list[Any]]] = {
    "push": _push_times,
    "star": lambda payload: [payload.get("starred_at")],  # null when a star is removed
    "fork": lambda payload: [_get(payload, "forkee", "created_at")],
}


def _moment(value: Any) -> datetime | None:
    """An ISO 8601 time with an offset, or epoch seconds; anything else is None."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment.astimezone(UTC) if moment.tzinfo is not None else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _plausible(moment: datetime | None, received_at: datetime) -> datetime | None:
    if moment is None or not EARLIEST <= moment <= received_at + LATEST_AHEAD:
        return None
    return moment


# --- summaries ------------------------------------------------------------------------------


def push_summary(payload: Payload) -> dict[str, Any]:
    commits = payload.get("commits")
    return {
        "ref": _str(payload.get("ref")),
        "before": _str(payload.get("before")),
        "after": _str(payload.get("after")),
        "commits": len(commits) if isinstance(commits, list) else None,
        "forced": _bool(payload.get("forced")),
        "created": _bool(payload.get("created")),
        "deleted": _bool(payload.get("deleted")),
        "pusher": _str(_get(payload, "pusher", "name")),
    }


def star_summary(payload: Payload) -> dict[str, Any]:
    starred_at = _moment(payload.get("starred_at"))
    return {"starred_at": iso(starred_at) if starred_at is not None else None}


def fork_summary(payload: Payload) -> dict[str, Any]:
    return {"forkee": _str(_get(payload, "forkee", "full_name"))}


def pull_request_summary(payload: Payload) -> dict[str, Any]:
    pull = payload.get("pull_request")
    return {
        "number": _int(payload.get("number")) or _int(_get(pull, "number")),
        "state": _str(_get(pull, "state")),
        "merged": _bool(_get(pull, "merged")),
        "draft": _bool(_get(pull, "draft")),
        "title": _str(_get(pull, "title")),
        "user": _str(_get(pull, "user", "login")),
    }


def issue_summary(payload: Payload) -> dict[str, Any]:
    issue = payload.get("issue")
    labels = _get(issue, "labels")
    return {
        "number": _int(_get(issue, "number")),
        "state": _str(_get(issue, "state")),
        "state_reason": _str(_get(issue, "state_reason")),
        "title": _str(_get(issue, "title")),
        "user": _str(_get(issue, "user", "login")),
        "labels": [name for label in labels if isinstance(name := _get(label, "name"), str)]
        if isinstance(labels, list)
        else None,
    }


# event name -> (the document's field holding the summary, how to make it)
SUMMARIES: dict[str, tuple[str, Callable[[Payload], dict[str, Any]]]] = {
    "push": ("push", push_summary),
    "star": ("star", star_summary),
    "fork": ("fork", fork_summary),
    "pull_request": ("pull_request", pull_request_summary),
    "issues": ("issue", issue_summary),
}


# --- reading a payload without trusting its types ------------------------------------------


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < MAX_SAFE_INTEGER:
        return value
    return None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}
