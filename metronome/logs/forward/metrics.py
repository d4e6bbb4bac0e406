"""The forward listener's counters as Prometheus counters (``metronome_forward_total{what}``),
added to what ``GET /metrics`` reports for every process."""

from __future__ import annotations

from metronome import metrics
from metronome.logs.forward.server import ForwardCounters


class CounterMirror:
    """Adds what the counters grew by since the last call (Prometheus counters only grow)."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def __call__(self, counters: ForwardCounters) -> None:
        for what, total in counters.snapshot().items():
            grown = total - self._seen.get(what, 0)
            if grown > 0:
                metrics.FORWARD.labels(what).inc(grown)
                self._seen[what] = total
