"""The --every loop: runs until stopped, survives a failed run, ends on Stopped."""

from __future__ import annotations

import threading

from metronome.archive.errors import ArchiveError, Stopped
from metronome.archive.schedule import run_every


def test_runs_again_after_each_pause_until_stopped() -> None:
    stop = threading.Event()
    calls: list[int] = []

    def job() -> None:
        calls.append(1)
        if len(calls) == 3:
            stop.set()

    assert run_every(job, 0.001, stop, on_error=lambda error: None) == 3
    assert len(calls) == 3


def test_a_failed_run_is_reported_and_tried_again() -> None:
    stop = threading.Event()
    errors: list[str] = []
    calls: list[int] = []

    def job() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ArchiveError("cannot reach S3")
        stop.set()

    run_every(job, 0.001, stop, on_error=lambda error: errors.append(str(error)))
    assert errors == ["cannot reach S3"]
    assert len(calls) == 2


def test_a_stop_inside_a_run_ends_the_loop_without_waiting() -> None:
    stop = threading.Event()

    def job() -> None:
        stop.set()
        raise Stopped

    assert run_every(job, 3600, stop, on_error=lambda error: None) == 1


def test_a_stop_during_the_pause_ends_the_loop() -> None:
    stop = threading.Event()
    timer = threading.Timer(0.05, stop.set)
    timer.start()
    assert run_every(lambda: None, 3600, stop, on_error=lambda error: None) == 1
    timer.join()
