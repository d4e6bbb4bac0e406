"""``metronome archive run --every SECONDS``: a run, a pause, again, until stopped.

`metronome serve` starts this loop as a restartable child when ``archive.enabled`` is true, on
every instance; each run first takes the ``archive`` lease, so one instance archives at a time
and the others skip that turn. A failed run (the bucket or Elasticsearch unreachable) is
reported and tried again at the next interval; a stop request (SIGTERM, Ctrl-C) ends a run
between two pages and the loop at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from metronome.archive.errors import ArchiveError, Stopped
from metronome.sources.lease import LeaseStore, holding

ARCHIVE_LEASE = "archive"


def run_every(
    job: Callable[[], None],
    every: float,
    stop: threading.Event,
    on_error: Callable[[ArchiveError], None],
) -> int:
    """Run ``job`` every ``every`` seconds (from the end of one run to the start of the next)
    until ``stop`` is set; returns how many runs were started."""
    runs = 0
    while not stop.is_set():
        runs += 1
        try:
            job()
        except Stopped:
            break
        except ArchiveError as error:
            on_error(error)
        if stop.wait(every):
            break
    return runs


@dataclass(frozen=True)
class ArchiveLease:
    """One archive run at a time in the cluster: `metronome serve` on every instance with
    ``archive.enabled``, and a run by hand, take the ``archive`` lease before they start."""

    leases: LeaseStore
    holder: str
    ttl: float

    def run(self, job: Callable[[], None]) -> bool:
        """Run ``job`` holding the lease; False, without running it, when another has it."""
        with holding(self.leases, ARCHIVE_LEASE, self.holder, self.ttl) as held:
            if held:
                job()
            return held

    def busy_message(self) -> str:
        current = self.leases.current(ARCHIVE_LEASE)
        who = current.holder if current is not None else "another process"
        return f"{who} is archiving (lease {ARCHIVE_LEASE!r})"
