"""How a failed durable append is answered over HTTP: one place for every write endpoint.

A full spool asks the client to retry (503 + Retry-After, which Fluentd, Fluent Bit and the JS
snippet all retry); an append larger than the whole spool can never fit (413, refused for good).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from metronome import metrics
from metronome.errors import ApiError
from metronome.spool.writer import AppendTooLarge, SpoolFull, SpoolWriteError


@contextmanager
def durable_append(what: str = "hits") -> Iterator[None]:
    """Wrap a spool append; its failures leave as the API errors above. ``what`` names the
    records in the messages ("hits", "log records")."""
    try:
        yield
    except AppendTooLarge as error:
        raise ApiError(
            413,
            "larger_than_spool",
            f"The {what} of this request take {error.size} bytes in the spool, more than the "
            f"whole spool may hold (spool.max_bytes: {error.max_bytes} bytes); nothing was "
            "accepted. Send them in smaller batches.",
        ) from None
    except SpoolFull:
        metrics.SPOOL_FULL.inc()
        raise ApiError(
            503,
            "spool_full",
            f"Metronome is holding as many unshipped {what} as it may; nothing was accepted. "
            "Retry later.",
            headers={"Retry-After": "30"},
        ) from None
    except SpoolWriteError:
        raise ApiError(
            503,
            "spool_unavailable",
            f"{what.capitalize()} cannot be stored durably right now; nothing was accepted. "
            "Retry later.",
            headers={"Retry-After": "10"},
        ) from None
