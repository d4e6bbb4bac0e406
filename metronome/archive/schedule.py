"""``metronome archive run --every SECONDS``: a run, a pause, again, until stopped.

Until the scheduler process exists (one per cluster, with a lease), `metronome serve` starts
this loop as a restartable child when ``archive.enabled`` is true. A failed run (the bucket or
Elasticsearch unreachable) is reported and tried again at the next interval; a stop request
(SIGTERM, Ctrl-C) ends a run between two pages and the loop at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from metronome.archive.errors import ArchiveError, Stopped


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
