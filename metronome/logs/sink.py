"""Log events into the durable spool: ``accept`` returns once they are fsynced."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from metronome import metrics
from metronome.logs.events import LogEvent
from metronome.logs.records import LogContext, log_entries
from metronome.spool.entry import encode_entry
from metronome.spool.writer import SpoolWriter


class SpoolEventSink:
    def __init__(self, writer: SpoolWriter, context: LogContext) -> None:
        self.writer = writer
        self.context = context

    def accept(self, events: Sequence[LogEvent]) -> None:
        """Raises ``AppendTooLarge``, ``SpoolFull`` or ``SpoolWriteError``; then nothing of the
        batch is stored and the sender must resend."""
        if events:
            self.writer.append([encode_entry(e) for e in log_entries(events, self.context)])
            for source, count in Counter(event.input for event in events).items():
                metrics.LOG_RECORDS.labels(source).inc(count)
