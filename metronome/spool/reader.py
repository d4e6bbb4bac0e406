"""Reading the spool: which segments exist, whether each is sealed, and its records."""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from metronome.spool import framing
from metronome.spool.writer import SEGMENT_SUFFIX, segments_dir


@dataclass(frozen=True)
class Segment:
    name: str
    path: Path


@dataclass(frozen=True)
class Chunk:
    records: list[framing.Record]
    tail: framing.Tail
    size: int  # the segment's size when it was read


def list_segments(spool_dir: Path) -> list[Segment]:
    """Every segment, oldest first (names start with the writer's start time)."""
    directory = segments_dir(spool_dir)
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(SEGMENT_SUFFIX))
    except FileNotFoundError:
        return []
    return [Segment(name=name, path=directory / name) for name in names]


def is_sealed(segment: Segment) -> bool:
    """True when no process writes the segment any more (its writer closed it or died)."""
    try:
        fd = os.open(segment.path, os.O_RDONLY)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # also releases our shared lock
    return True


def read_chunk(segment: Segment, offset: int, max_records: int, max_bytes: int) -> Chunk:
    """Whole records from ``offset``: at most ``max_records`` and about ``max_bytes``."""
    with open(segment.path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        handle.seek(offset)
        buffer = handle.read(max(max_bytes, 0))
        records, tail = framing.decode(buffer, base=offset)
        if not records and tail is framing.Tail.INCOMPLETE and offset + len(buffer) < size:
            # One record larger than max_bytes: read exactly that record.
            header = buffer[: framing.HEADER.size]
            length, _ = framing.HEADER.unpack(header)
            handle.seek(offset)
            buffer = handle.read(framing.HEADER.size + length)
            records, tail = framing.decode(buffer, base=offset)
    if len(records) > max_records:
        records = records[:max_records]
        tail = framing.Tail.END
    elif tail is framing.Tail.INCOMPLETE and offset + len(buffer) < size:
        tail = framing.Tail.END  # the batch was cut by max_bytes, not by the file's end
    return Chunk(records=records, tail=tail, size=size)


def remove_segment(segment: Segment) -> None:
    segment.path.unlink(missing_ok=True)
