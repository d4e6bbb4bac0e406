"""One listening socket per gunicorn worker, so the kernel spreads connections evenly.

gunicorn's workers all poll one shared listening socket, and Linux wakes them in a fixed
order: the same worker wins nearly every ``accept``. With keep-alive connections (a load
balancer's pool, a busy client) one worker then serves most of the traffic on one core while
the other idles: measured here with 64 keep-alive connections, 58 went to one of two workers,
and the peak rate moved by 40 % from run to run with the split.

``metronome serve`` therefore binds the address once per worker with ``SO_REUSEPORT``
(``gunicorn_options``): the kernel hashes each new connection to one of the sockets. The master
keeps every socket open; ``pre_fork`` (a gunicorn server hook, run in the master) gives each new
worker the lowest slot no live worker holds, and ``BalancedThreadWorker`` polls only its own
socket. A worker that dies leaves its socket to the master, whose backlog keeps the
connections that arrive until the replacement takes the slot over; none is refused.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterable
from typing import Any

from metronome.web.slowclients import BufferingThreadWorker

WORKER_CLASS = "metronome.web.sockets.BalancedThreadWorker"
SINGLE_WORKER_CLASS = "metronome.web.slowclients.BufferingThreadWorker"  # one socket for all
HOOKS = "python:metronome.web.sockets"  # gunicorn reads ``pre_fork`` from this module


def supported() -> bool:
    """``SO_REUSEPORT`` spreads connections over the sockets on Linux; elsewhere (macOS, the
    BSDs) the last socket bound takes them all, so the shared socket stays."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def balanced(workers: int) -> bool:
    """Whether ``workers`` workers get a socket each (``gunicorn_options``,
    config/gunicorn.conf.py): with more than one, where the kernel spreads connections."""
    return workers > 1 and supported()


def gunicorn_options(bind: str, workers: int) -> list[str]:
    """The gunicorn options that bind ``bind``: once per worker where that balances."""
    if not balanced(workers):
        return ["--bind", bind, "--worker-class", SINGLE_WORKER_CLASS]
    binds = [option for _ in range(workers) for option in ("--bind", bind)]
    return [*binds, "--reuse-port", "--worker-class", WORKER_CLASS, "--config", HOOKS]


def free_slot(held: Iterable[int | None], sockets: int) -> int | None:
    """The lowest socket index no live worker holds; ``None`` when every one is held (more
    workers than sockets: the extra worker polls them all, as gunicorn's own worker does)."""
    taken = set(held)
    return next((slot for slot in range(sockets) if slot not in taken), None)


def pre_fork(server: Any, worker: Any) -> None:
    """gunicorn server hook, in the master before each fork: choose the worker's socket."""
    held = (getattr(other, "slot", None) for other in server.WORKERS.values())
    worker.slot = free_slot(held, len(server.LISTENERS))


class BalancedThreadWorker(BufferingThreadWorker):
    """The threaded worker (metronome.web.slowclients), polling only the listening socket of its
    slot."""

    slot: int | None = None
    sockets: list[Any]  # gunicorn's listener wrappers, one per --bind, the same in every worker

    def init_process(self) -> None:
        if self.slot is not None and self.slot < len(self.sockets):
            own = self.sockets[self.slot]
            for other in self.sockets:
                if other is not own:
                    other.close()  # this process's copy; the master keeps the socket
            self.sockets = [own]
        super().init_process()
