"""One headless Chromium per process, owned by one thread.

Playwright's synchronous API may only be used from the thread that started it, and web
workers serve requests from several threads: so a single daemon thread starts the browser at
the first render (never at import or start-up), runs the renders one at a time from a bounded
queue, and closes the browser after ``idle_seconds`` without work (the next render starts it
again). A render that waits longer than the queue allows is refused at once (``ReportBusy``);
one that does not finish in time is given up (``ReportFailed``).
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

# Headless without a sandbox (containers, root) and quiet: no calls to Google's services.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--mute-audio",
)
LAUNCH_SECONDS = 30.0  # what starting the browser may add to a render's time


class ReportUnavailable(Exception):
    """Reports cannot be rendered here (no browser, no Playwright, the app not built)."""


class ReportBusy(Exception):
    """Too many renders are waiting in this process."""


class ReportFailed(Exception):
    """A render failed or took longer than allowed."""


Job = Callable[[Any], Any]  # called with a playwright Browser


class BrowserWorker:
    def __init__(self, executable: Path, *, queue_limit: int, idle_seconds: float) -> None:
        self.executable = executable
        self.idle_seconds = idle_seconds
        self.queue_limit = queue_limit
        self._jobs: queue.Queue[tuple[Job, Future[Any]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._pending = 0  # renders running or waiting
        self.launches = 0  # browsers started (the bench and tests read it)

    def run(self, job: Callable[[Any], T], timeout: float) -> T:
        """``job(browser)`` on the browser's thread; its result or its exception."""
        with self._lock:
            if self._pending > self.queue_limit:  # one running, queue_limit waiting
                raise ReportBusy("Other reports are being rendered; try again shortly.")
            self._pending += 1
        try:
            self._start()
            future: Future[Any] = Future()
            self._jobs.put((job, future))
            waited = timeout * (self.queue_limit + 1) + LAUNCH_SECONDS
            try:
                result: T = future.result(timeout=waited)
            except FutureTimeout:
                future.cancel()
                raise ReportFailed(f"The report took longer than {timeout:g} s.") from None
            return result
        finally:
            with self._lock:
                self._pending -= 1

    def close(self) -> None:
        """Stop the thread (and its browser); a later ``run`` starts them again."""
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(None)
            thread.join(timeout=10)

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="metronome-reports", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415  (only when used)

        playwright: Any = None
        browser: Any = None
        try:
            while True:
                try:
                    item = self._jobs.get(timeout=self.idle_seconds if browser else None)
                except queue.Empty:
                    browser, playwright = _shut(browser, playwright)
                    continue
                if item is None:
                    return
                job, future = item
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    if browser is None or not browser.is_connected():
                        browser, playwright = _shut(browser, playwright)
                        playwright = sync_playwright().start()
                        browser = playwright.chromium.launch(
                            executable_path=str(self.executable), args=list(CHROMIUM_ARGS)
                        )
                        self.launches += 1
                    future.set_result(job(browser))
                except BaseException as error:  # handed to the caller, never lost
                    future.set_exception(error)
        finally:
            _shut(browser, playwright)


def _shut(browser: Any, playwright: Any) -> tuple[None, None]:
    for close in (browser and browser.close, playwright and playwright.stop):
        if close:
            try:
                close()
            except Exception as error:  # a browser that died already
                log.debug("closing the report browser: %s", error)
    return None, None


_workers: list[BrowserWorker] = []


def register(worker: BrowserWorker) -> BrowserWorker:
    """Close the worker's browser when the process exits."""
    if not _workers:
        atexit.register(_close_all)
    _workers.append(worker)
    return worker


def _close_all() -> None:
    for worker in _workers:
        worker.close()
