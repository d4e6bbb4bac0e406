"""Leases in Elasticsearch: at most one holder at a time, taken over when the holder dies.

A lease is a document ``lease:<name>`` in ``<prefix>-sources`` with its holder and an expiry.
Taking one is a conditional write (create, or replace at the version read), so of two
processes trying at once exactly one wins. The holder renews it well before it expires; a
holder that dies stops renewing and anyone may take the lease once it has expired.

Used for the scheduler (one per cluster), for each source run (one at a time, so a
`metronome sources run` by hand and the scheduler never run the same source together) and for
archive runs (one at a time in the cluster, however many instances have ``archive.enabled``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    expires_at: float  # epoch seconds


def can_take(current: Lease | None, holder: str, now: float) -> bool:
    """Free, expired, or already ours."""
    return current is None or current.holder == holder or current.expires_at <= now


def holder_id() -> str:
    """Who we are, readable in `metronome sources status`: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class LeaseStore:
    def __init__(
        self,
        client: Elasticsearch,
        index_prefix: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.index = f"{index_prefix}-sources"
        self.clock = clock

    def current(self, name: str) -> Lease | None:
        found = self._get(name)
        return found[0] if found else None

    def acquire(self, name: str, holder: str, ttl: float) -> bool:
        """Take or renew the lease for ``ttl`` seconds; False if someone else holds it."""
        now = self.clock()
        found = self._get(name)
        if found is not None and not can_take(found[0], holder, now):
            return False
        body = {"kind": "lease", "source": name, "holder": holder, "expires_at": now + ttl}
        try:
            if found is None:
                self.client.index(
                    index=self.index,
                    id=_lease_id(name),
                    document=body,
                    op_type="create",
                )
            else:
                _, seq_no, primary_term = found
                self.client.index(
                    index=self.index,
                    id=_lease_id(name),
                    document=body,
                    if_seq_no=seq_no,
                    if_primary_term=primary_term,
                )
        except ConflictError:
            return False  # another process took it between our read and our write
        return True

    def release(self, name: str, holder: str) -> None:
        """Give the lease up now (if still ours), so the next holder need not wait it out."""
        found = self._get(name)
        if found is None or found[0].holder != holder:
            return
        _, seq_no, primary_term = found
        with contextlib.suppress(ConflictError, NotFoundError):  # gone or taken meanwhile
            self.client.delete(
                index=self.index,
                id=_lease_id(name),
                if_seq_no=seq_no,
                if_primary_term=primary_term,
            )

    def _get(self, name: str) -> tuple[Lease, int, int] | None:
        try:
            found: Any = self.client.get(index=self.index, id=_lease_id(name))
        except NotFoundError:
            return None
        body = found["_source"]
        lease = Lease(name=name, holder=str(body["holder"]), expires_at=float(body["expires_at"]))
        return lease, int(found["_seq_no"]), int(found["_primary_term"])


class Heartbeat:
    """Renews a lease every third of its TTL while its holder lives, so a long step never
    loses it and a dead holder (kill -9) frees it within one TTL. ``lost``: someone else has
    taken it (after a pause longer than the TTL)."""

    def __init__(self, leases: LeaseStore, name: str, holder: str, ttl: float) -> None:
        self.leases = leases
        self.name = name
        self.holder = holder
        self.ttl = ttl
        self.lost = False
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{name}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stopped.wait(self.ttl / 3):
            try:
                if not self.leases.acquire(self.name, self.holder, self.ttl):
                    self.lost = True
                    return
            except Exception as error:  # Elasticsearch unreachable: try again at the next beat
                log.warning("renewing lease %s failed: %s", self.name, error)

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=self.ttl)


@contextlib.contextmanager
def holding(leases: LeaseStore, name: str, holder: str, ttl: float) -> Iterator[bool]:
    """Hold the lease ``name`` for the ``with`` block (renewed meanwhile, released after);
    the block gets False, and holds nothing, when another process has it."""
    if not leases.acquire(name, holder, ttl):
        yield False
        return
    heartbeat = Heartbeat(leases, name, holder, ttl)
    try:
        yield True
    finally:
        heartbeat.stop()
        leases.release(name, holder)


def _lease_id(name: str) -> str:
    return f"lease:{name}"
