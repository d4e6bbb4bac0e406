"""Running a ``ForwardServer``: in the foreground until a signal (``metronome forward``), or
on its own event loop in a background thread (tests, embedding in another process)."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import fields
from types import TracebackType
from typing import Any

from metronome.config import ForwardSettings
from metronome.logs.events import EventSink
from metronome.logs.forward.limits import DecodeLimits
from metronome.logs.forward.server import ForwardCounters, ForwardServer
from metronome.logs.forward.tls import server_context


class ForwardServerThread:
    """A ``ForwardServer`` on its own event loop in a daemon thread (tests, embedding)::

    with ForwardServerThread(ForwardServer(sink, "127.0.0.1", 0)) as running:
        connect to running.port
    """

    def __init__(self, server: ForwardServer, grace: float = 5.0) -> None:
        self.server = server
        self.grace = grace
        self._thread = threading.Thread(target=self._run, name="forward-server", daemon=True)
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def counters(self) -> ForwardCounters:
        return self.server.counters

    def start(self, timeout: float = 10.0) -> ForwardServerThread:
        self._thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError("the forward server did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the forward server did not start: {self._error}") from self._error
        return self

    def stop(self, timeout: float = 30.0) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    def __enter__(self) -> ForwardServerThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            await self.server.start()
        except BaseException as error:
            self._error = error
            self._started.set()
            return
        self._started.set()
        try:
            await self._stop.wait()
        finally:
            await self.server.stop(self.grace)


Report = Callable[[ForwardCounters], None]


def server_options(settings: ForwardSettings) -> dict[str, Any]:
    """The ``ForwardServer`` keyword arguments that ``logs.forward`` sets (not host and port).
    Reads the TLS files: ``OSError`` or ``ssl.SSLError`` when they cannot be used."""
    # Each decoding limit is a forward setting of the same name.
    limits = DecodeLimits(
        **{item.name: getattr(settings, item.name) for item in fields(DecodeLimits)}
    )
    tls = settings.tls
    return {
        "shared_key": settings.shared_key,
        "limits": limits,
        "max_connections": settings.max_connections,
        "tls": None if tls is None else server_context(tls.cert_file, tls.key_file, tls.ca_file),
    }


def run_forward_server(
    host: str,
    port: int,
    sink: EventSink,
    shared_key: str | None = None,
    *,
    grace: float = 10.0,
    report: Report | None = None,
    report_every: float = 1.0,
    **options: Any,
) -> None:
    """Serve until SIGINT or SIGTERM, then stop gracefully (``metronome forward``).
    ``report`` gets the counters every ``report_every`` seconds and once at the end (metrics).
    ``options`` are the other keyword arguments of ``ForwardServer``."""
    server = ForwardServer(sink, host, port, shared_key=shared_key, **options)
    asyncio.run(_serve_until_signalled(server, grace, report, report_every))


async def _serve_until_signalled(
    server: ForwardServer, grace: float, report: Report | None, report_every: float
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    await server.start()
    try:
        while not stop.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), report_every)
            if report is not None:
                report(server.counters)
    finally:
        await server.stop(grace)
        if report is not None:
            report(server.counters)
