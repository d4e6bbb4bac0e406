"""Appending to the spool with group commit: concurrent appends share one fsync.

Each process writes its own segment files (no cross-process locking on the hot path) and
holds an exclusive ``flock`` on the segment it is writing; the shipper takes a segment whose
lock it can get as sealed. The lock dies with the process, so a segment left by
``kill -9`` is sealed at once.

An append returns only once its bytes are fsynced. The first waiting thread writes and
syncs everything queued so far (the leader); threads that queued meanwhile wait for that
sync instead of issuing their own.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from metronome.fsutil import fsync_dir
from metronome.spool import framing
from metronome.spool.checkpoint import read_checkpoints

SEGMENT_SUFFIX = ".seg"
SIZE_RECHECK_SECONDS = 0.5


class SpoolFull(Exception):
    """The spool holds ``max_bytes`` already; the caller should answer 503 and retry later."""


class SpoolWriteError(Exception):
    """The disk refused the write; nothing of this append is acknowledged."""


class AppendTooLarge(Exception):
    """One append is larger than the whole spool may hold: unlike ``SpoolFull``, it can never
    fit, so the caller should refuse it for good (413), not ask for a retry."""

    def __init__(self, size: int, max_bytes: int) -> None:
        super().__init__(f"an append of {size} bytes is larger than the spool's {max_bytes}")
        self.size = size
        self.max_bytes = max_bytes


def segments_dir(spool_dir: Path) -> Path:
    return spool_dir / "segments"


def spool_bytes(spool_dir: Path) -> int:
    """Bytes not yet confirmed by Elasticsearch: segment sizes less the shipper's checkpoints.

    (Shipped bytes of a segment still being written stay on disk until it is sealed and
    deleted: at most one segment per writer process.)
    """
    shipped = read_checkpoints(spool_dir)
    total = 0
    try:
        with os.scandir(segments_dir(spool_dir)) as entries:
            for entry in entries:
                if entry.name.endswith(SEGMENT_SUFFIX):
                    with contextlib.suppress(FileNotFoundError):  # shipped meanwhile
                        total += max(0, entry.stat().st_size - shipped.get(entry.name, 0))
    except FileNotFoundError:
        return 0
    return total


class SpoolWriter:
    def __init__(
        self, spool_dir: Path, segment_bytes: int, max_bytes: int, fsync: bool = True
    ) -> None:
        self.directory = segments_dir(spool_dir)
        self.spool_dir = spool_dir
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes
        self.fsync = fsync
        self._cond = threading.Condition()
        self._pending: list[bytes] = []
        self._queued = 0  # tickets handed out
        self._synced = 0  # tickets up to this one are durable (or failed)
        self._failed: dict[int, str] = {}  # ticket -> error, for appends whose write failed
        self._leader_active = False
        self._fd: int | None = None
        self._segment_size = 0
        self._sequence = 0
        self._pid = os.getpid()
        self._writer_id = f"{time.time_ns():020d}-{os.getpid()}"
        self._size_estimate = 0
        self._size_checked_at = 0.0

    # --- public ------------------------------------------------------------------------------

    def append(self, payloads: Sequence[bytes]) -> None:
        """Durably append the records, all or none; raises ``AppendTooLarge``, ``SpoolFull`` or
        ``SpoolWriteError``."""
        data = b"".join(framing.encode(payload) for payload in payloads)
        if len(data) > self.max_bytes:
            raise AppendTooLarge(len(data), self.max_bytes)
        with self._cond:
            self._after_fork()
            if self._used_bytes() + len(data) > self.max_bytes:
                raise SpoolFull(f"the spool holds {self._size_estimate} of {self.max_bytes} bytes")
            self._pending.append(data)
            self._size_estimate += len(data)
            self._queued += 1
            ticket = self._queued
            while self._synced < ticket:
                if self._leader_active:
                    self._cond.wait()
                else:
                    self._lead()
            error = self._failed.pop(ticket, None)
        if error is not None:
            raise SpoolWriteError(error)

    def close(self) -> None:
        with self._cond:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)  # closing releases the flock: the segment is sealed
            self._fd = None

    # --- group commit ------------------------------------------------------------------------

    def _lead(self) -> None:
        """Write and sync everything queued; called with the lock held, releases it meanwhile."""
        batch, self._pending = self._pending, []
        upto = self._queued
        first = self._synced + 1
        self._leader_active = True
        self._cond.release()
        error: str | None = None
        try:
            self._write(b"".join(batch))
        except OSError as exc:
            error = f"spool write failed: {exc.strerror or exc}"
            self._abandon_segment()
        finally:
            self._cond.acquire()
            self._leader_active = False
            if error is not None:
                for ticket in range(first, upto + 1):
                    self._failed[ticket] = error
            self._synced = upto
            self._cond.notify_all()

    def _write(self, data: bytes) -> None:
        if self._fd is None or self._segment_size >= self.segment_bytes:
            self._rotate()
        assert self._fd is not None
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._segment_size += len(data)
        if self.fsync:
            os.fdatasync(self._fd)

    def _rotate(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.directory.mkdir(parents=True, exist_ok=True)
        self._sequence += 1
        name = f"{self._writer_id}-{self._sequence:06d}"
        temporary = self.directory / f".{name}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        # Lock before the segment becomes visible, so the shipper never takes it as sealed.
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.replace(temporary, self.directory / f"{name}{SEGMENT_SUFFIX}")
        if self.fsync:
            fsync_dir(self.directory)  # the new name must survive a crash too
        self._fd = fd
        self._segment_size = 0

    def _abandon_segment(self) -> None:
        # A failed write may have left a partial record; nothing more may follow it there.
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    # --- capacity --------------------------------------------------------------------------

    def _used_bytes(self) -> int:
        now = time.monotonic()
        if now - self._size_checked_at > SIZE_RECHECK_SECONDS:
            self._size_checked_at = now
            # Scan the directory without holding the lock other appenders wait on.
            self._cond.release()
            try:
                on_disk = spool_bytes(self.spool_dir)
            finally:
                self._cond.acquire()
            self._size_estimate = on_disk + sum(map(len, self._pending))
        return self._size_estimate

    def _after_fork(self) -> None:
        # A forked child must not share the parent's segment (or its lock).
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._writer_id = f"{time.time_ns():020d}-{self._pid}"
            self._fd = None
            self._sequence = 0
            self._pending = []
