"""The outbox: messages queued in Elasticsearch (``<prefix>-notifications``), sent by whoever
runs ``deliver_due``, retried with backoff until sent or given up; none lost, none doubled.

A message is one document per (key, channel), its id derived from both and written with
``op_type=create``: of two evaluators queueing the same alert transition, one writes it, the
other is told it is there already (``enqueue`` answers False).

``deliver_due`` finds what is due (``pending`` with ``due_at`` passed, or ``sending`` whose
claim expired), and for each: **claims** it (a conditional update at the version it read:
``status: sending``, who, until when), sends it, and records the outcome (``sent``; ``pending``
again with the next ``due_at``; or ``failed``), again conditionally on its claim. Of two
processes delivering at once, only one claim of a version succeeds, so only one sends. A
claim whose process died expires after ``claim_ttl``; the message is then taken over.

The one way a message can go out twice: its process sends it and dies (or loses
Elasticsearch) before the outcome is recorded. The window is kept to the time between the
receiver's acceptance and one small update (retried a few times within seconds when it
fails); the message then goes again once its claim expires. Both copies carry the same
identity (the e-mail's Message-ID, the webhook's ``X-Metronome-Message-Key``), so a mail
client or receiver can tell them apart from new messages.

While a channel fails, one delivery run tries it once: the other messages of that channel
wait, due, for the next run (``deferred``), rather than each wait out a timeout.

Backoff: ``first_retry``, doubled each failure, capped at ``max_retry``; a message whose next
attempt would fall later than ``give_up_after`` since it was queued is given up (``failed``,
``failure: expired``). A refusal the receiver means for good (``SendFailed.permanent``) fails
it at once (``failure: refused``). Attachments' bytes are dropped from a sent message's
document; everything else stays, for the record.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import socket
import time
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from elasticsearch import ConflictError, Elasticsearch, NotFoundError, TransportError
from marshmallow import ValidationError

from metronome.config.notify import mailbox_address
from metronome.es.templates import create_templated_index
from metronome.notify.backoff import RetryPolicy, next_attempt
from metronome.notify.channel import Channel
from metronome.notify.clock import Clock, system_clock
from metronome.notify.errors import NotifyError, SendFailed
from metronome.notify.message import Attachment, Message
from metronome.notify.payload import jsonable

log = logging.getLogger(__name__)

Status = Literal["pending", "sending", "sent", "failed"]
MARK_RETRIES = (0.2, 1.0, 3.0)  # seconds between tries of recording an outcome
ERROR_CHARS = 1000


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0  # failed this time, due again later
    failed: int = 0  # refused for good, or given up, this time
    busy: int = 0  # claimed by another process first
    deferred: int = 0  # not tried: their channel failed earlier in this run
    errors: tuple[str, ...] = ()  # "<channel> <key>: <why>", of the retrying and the failed


@dataclass(frozen=True)
class OutboxEntry:
    key: str
    channel: str
    status: Status
    attempts: int
    created_at: datetime
    due_at: datetime | None
    sent_at: datetime | None = None
    failed_at: datetime | None = None
    failure: str | None = None  # refused | expired
    last_error: str | None = None
    note: str | None = None  # what the receiver said when it took it
    to: tuple[str, ...] = ()
    subject: str = ""


@dataclass
class _Tally:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    busy: int = 0
    deferred: int = 0
    errors: list[str] = field(default_factory=list)
    down: set[str] = field(default_factory=set)  # channels that failed (retryably) this run


class Outbox:
    def __init__(
        self,
        client: Elasticsearch,
        prefix: str,
        channels: Mapping[str, Channel],
        clock: Clock = system_clock,
        *,
        policy: RetryPolicy | None = None,
        holder: str | None = None,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.index = f"{prefix}-notifications"
        self.channels = dict(channels)
        self.clock = clock
        self.policy = policy or RetryPolicy()
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._ready = False

    def enqueue(self, key: str, channel: str, message: Message, to: tuple[str, ...] = ()) -> bool:
        """Queue once: ``key`` is the idempotency key (e.g. "alert:<rule>:<transition id>" or
        "digest:<name>:<period start>"); a second enqueue of the same (key, channel) is a no-op
        returning False. ``to`` overrides an e-mail channel's recipients (digest --to)."""
        check_recipients(self._channel(channel), to)
        now = self.clock()
        document = {
            "key": key,
            "channel": channel,
            "to": list(to),
            "status": "pending",
            "created_at": _iso(now),
            "due_at": _iso(now),
            "attempts": 0,
            "message": _stored(message),
        }
        self._ensure_index()
        try:
            self.client.create(index=self.index, id=document_id(key, channel), document=document)
        except ConflictError:
            return False
        log.info("queued %s for channel %s", key, channel)
        return True

    def deliver_due(self) -> DeliveryReport:
        """Send what is due; a failure is recorded and retried with backoff (the channel down
        for an hour loses nothing); sent messages are marked and never sent again."""
        self._ensure_index()
        self.client.indices.refresh(index=self.index)
        now = self.clock()
        found = self.client.search(
            index=self.index,
            query=_due_query(now),
            sort=[{"due_at": "asc"}, {"created_at": "asc"}],
            size=self.policy.batch,
            seq_no_primary_term=True,
            source_excludes=["message"],
        ).body
        tally = _Tally()
        for hit in found["hits"]["hits"]:
            self._deliver_one(hit, tally)
        return DeliveryReport(
            tally.sent,
            tally.retrying,
            tally.failed,
            tally.busy,
            tally.deferred,
            tuple(tally.errors),
        )

    def send_now(self, channel: str, message: Message, to: tuple[str, ...] = ()) -> str:
        """Send at once, no outbox (CLI dry runs with --to, and the local health checks that run
        when Elasticsearch itself is unreachable). Raises NotifyError naming the channel;
        answers what the receiver said."""
        return send_now(self.channels, channel, message, to)

    def entry(self, key: str, channel: str) -> OutboxEntry | None:
        try:
            found = self.client.get(
                index=self.index,
                id=document_id(key, channel),
                source_excludes=["message.text", "message.html", "message.attachments"],
            )
        except NotFoundError:
            return None
        return _entry(found["_source"])

    def entries(self, *, status: Status | None = None, limit: int = 50) -> list[OutboxEntry]:
        """The latest messages, newest first."""
        query: dict[str, Any] = {"term": {"status": status}} if status else {"match_all": {}}
        self.client.options(ignore_status=404).indices.refresh(index=self.index)
        found = self.client.options(ignore_status=404).search(
            index=self.index,
            query=query,
            sort=[{"created_at": "desc"}],
            size=limit,
            source_excludes=["message.text", "message.html", "message.attachments"],
        )
        if "hits" not in found:
            return []
        return [_entry(hit["_source"]) for hit in found["hits"]["hits"]]

    def _deliver_one(self, hit: dict[str, Any], tally: _Tally) -> None:
        source = hit["_source"]
        key, name = str(source["key"]), str(source["channel"])
        if name in tally.down:  # one attempt per failing channel and run, not one per message
            tally.deferred += 1
            return
        claimed = self._claim(hit)
        if claimed is None:
            tally.busy += 1
            return
        full, version = claimed
        try:
            channel = self._channel(name)
            message = _message(full["message"])
            note = channel.send(message, key=key, to=tuple(full.get("to") or ()))
        except NotifyError as error:  # the channel is not (or no longer) configured here
            self._failed(full, version, error.reason, permanent=False, tally=tally)
        except SendFailed as error:
            if not error.permanent:
                tally.down.add(name)
            self._failed(full, version, error.reason, permanent=error.permanent, tally=tally)
        except Exception as error:  # a bug must not stop the others nor lose this one
            # Its type and where, not its text: that may quote a URL or a body.
            where = traceback.extract_tb(error.__traceback__)[-1]
            reason = f"{type(error).__name__} at {where.filename}:{where.lineno}"
            log.error("sending %s on channel %s failed unexpectedly: %s", key, name, reason)
            tally.down.add(name)
            self._failed(full, version, reason, permanent=False, tally=tally)
        else:
            now = self.clock()
            done = {
                "status": "sent",
                "sent_at": _iso(now),
                "note": note[:ERROR_CHARS],
                "claimed_by": None,
                "claim_expires_at": None,
                "message": {"attachments": _without_data(full["message"])},
            }
            self._record(full, version, done)
            tally.sent += 1
            log.info("sent %s on channel %s: %s", key, name, note)

    def _claim(self, hit: dict[str, Any]) -> tuple[dict[str, Any], tuple[int, int]] | None:
        """Take the message at the version read; None when another process was first."""
        source = hit["_source"]
        now = self.clock()
        claim: dict[str, Any] = {
            "status": "sending",
            "claimed_by": self.holder,
            "claim_expires_at": _iso(now + timedelta(seconds=self.policy.claim_ttl)),
            "attempts": int(source.get("attempts", 0)) + 1,
            "last_attempt_at": _iso(now),
        }
        if source.get("status") == "sending":
            claim["last_error"] = (
                f"the process sending it ({source.get('claimed_by')}) stopped before recording "
                "the outcome: it may have been sent; sending again"
            )
            log.warning(
                "taking over %s on channel %s: %s",
                source["key"],
                source["channel"],
                claim["last_error"],
            )
        try:
            written = self.client.update(
                index=self.index,
                id=hit["_id"],
                doc=claim,
                if_seq_no=hit["_seq_no"],
                if_primary_term=hit["_primary_term"],
                source=True,
            ).body
        except (ConflictError, NotFoundError):
            return None
        return written["get"]["_source"], (written["_seq_no"], written["_primary_term"])

    def _failed(
        self,
        full: dict[str, Any],
        version: tuple[int, int],
        reason: str,
        *,
        permanent: bool,
        tally: _Tally,
    ) -> None:
        now = self.clock()
        reason = reason[:ERROR_CHARS]
        key, name = full["key"], full["channel"]
        created = datetime.fromisoformat(full["created_at"])
        retry_at = None if permanent else next_attempt(created, now, full["attempts"], self.policy)
        update: dict[str, Any] = {
            "last_error": reason,
            "claimed_by": None,
            "claim_expires_at": None,
        }
        if retry_at is not None:
            update |= {"status": "pending", "due_at": _iso(retry_at)}
            tally.retrying += 1
            log.warning(
                "sending %s on channel %s failed (attempt %d), again at %s: %s",
                key,
                name,
                full["attempts"],
                _iso(retry_at),
                reason,
            )
        else:
            failure = "refused" if permanent else "expired"
            update |= {"status": "failed", "failed_at": _iso(now), "failure": failure}
            tally.failed += 1
            log.error(
                "gave up %s on channel %s after %d attempts (%s): %s",
                key,
                name,
                full["attempts"],
                failure,
                reason,
            )
        tally.errors.append(f"{name} {key}: {reason}")
        self._record(full, version, update)

    def _record(
        self, full: dict[str, Any], version: tuple[int, int], update: dict[str, Any]
    ) -> None:
        """Write the outcome over our claim. Retried briefly: until it is written, the message
        counts as still being sent, and is sent again once the claim expires."""
        for pause in (*MARK_RETRIES, None):
            try:
                self.client.update(
                    index=self.index,
                    id=document_id(full["key"], full["channel"]),
                    doc=update,
                    if_seq_no=version[0],
                    if_primary_term=version[1],
                )
                return
            except ConflictError:
                log.error(
                    "the claim on %s for channel %s expired while it was being sent: another "
                    "process has taken it over (raise notify.delivery.claim_ttl)",
                    full["key"],
                    full["channel"],
                )
                return
            except TransportError as error:
                if pause is None:
                    log.error(
                        "could not record the outcome of %s on channel %s (%s): it will be "
                        "sent again when its claim expires",
                        full["key"],
                        full["channel"],
                        error,
                    )
                    return
                time.sleep(pause)

    def _channel(self, name: str) -> Channel:
        channel = self.channels.get(name)
        if channel is None:
            known = ", ".join(sorted(self.channels)) or "none"
            raise NotifyError(name, f"no such channel in notify.channels (configured: {known})")
        return channel

    def _ensure_index(self) -> None:
        """The index with its mapping, even where the templates were not installed."""
        if not self._ready:
            create_templated_index(self.client, self.prefix, self.index)
            self._ready = True


def send_now(
    channels: Mapping[str, Channel], channel: str, message: Message, to: tuple[str, ...] = ()
) -> str:
    """Send one message at once, without the outbox; ``NotifyError`` names the channel."""
    target = channels.get(channel)
    if target is None:
        known = ", ".join(sorted(channels)) or "none"
        raise NotifyError(channel, f"no such channel in notify.channels (configured: {known})")
    check_recipients(target, to)
    try:
        return target.send(message, key=f"now:{uuid.uuid4().hex}", to=to)
    except SendFailed as error:
        raise NotifyError(channel, error.reason) from None


def check_recipients(channel: Channel, to: tuple[str, ...]) -> None:
    """``to`` fits the channel: e-mail addresses, for an e-mail channel only."""
    if not to:
        return
    if channel.kind != "email":
        raise NotifyError(channel.name, "'to' applies to e-mail channels only")
    for address in to:
        try:
            mailbox_address(address)
        except ValidationError as error:
            raise NotifyError(channel.name, " ".join(error.messages)) from None


def document_id(key: str, channel: str) -> str:
    return hashlib.sha256(f"{channel}\0{key}".encode()).hexdigest()


def _due_query(now: datetime) -> dict[str, Any]:
    at = _iso(now)
    return {
        "bool": {
            "should": [
                {
                    "bool": {
                        "filter": [
                            {"term": {"status": "pending"}},
                            {"range": {"due_at": {"lte": at}}},
                        ]
                    }
                },
                {
                    "bool": {
                        "filter": [
                            {"term": {"status": "sending"}},
                            {"range": {"claim_expires_at": {"lte": at}}},
                        ]
                    }
                },
            ],
            "minimum_should_match": 1,
        }
    }


def _stored(message: Message) -> dict[str, Any]:
    return {
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "fields": jsonable(message.fields),
        "attachments": [
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "inline_id": a.inline_id,
                "data": base64.b64encode(a.data).decode("ascii"),
            }
            for a in message.attachments
        ],
    }


def _message(stored: dict[str, Any]) -> Message:
    return Message(
        subject=stored["subject"],
        text=stored["text"],
        html=stored.get("html"),
        attachments=tuple(
            Attachment(
                filename=a["filename"],
                content_type=a["content_type"],
                data=base64.b64decode(a["data"]),
                inline_id=a.get("inline_id"),
            )
            for a in stored.get("attachments") or ()
        ),
        fields=stored.get("fields") or {},
    )


def _without_data(stored: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "filename": a["filename"],
            "content_type": a["content_type"],
            "inline_id": a.get("inline_id"),
            "size": len(base64.b64decode(a["data"])) if "data" in a else a.get("size"),
        }
        for a in stored.get("attachments") or ()
    ]


def _entry(source: dict[str, Any]) -> OutboxEntry:
    def when(name: str) -> datetime | None:
        value = source.get(name)
        return datetime.fromisoformat(value) if value else None

    created = when("created_at")
    assert created is not None
    return OutboxEntry(
        key=source["key"],
        channel=source["channel"],
        status=source["status"],
        attempts=int(source.get("attempts") or 0),
        created_at=created,
        due_at=when("due_at"),
        sent_at=when("sent_at"),
        failed_at=when("failed_at"),
        failure=source.get("failure"),
        last_error=source.get("last_error"),
        note=source.get("note"),
        to=tuple(source.get("to") or ()),
        subject=(source.get("message") or {}).get("subject", ""),
    )


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")
