"""The shipper's checkpoints: per segment, the offset up to which Elasticsearch confirmed."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from metronome.fsutil import fsync_dir

CHECKPOINT_FILE = "checkpoints.json"


class Checkpoints:
    """A small JSON file replaced atomically (write, fsync, rename, fsync the directory)."""

    def __init__(self, spool_dir: Path, fsync: bool = True) -> None:
        self.path = spool_dir / CHECKPOINT_FILE
        self.fsync = fsync
        self._offsets: dict[str, int] = self._load()
        self._lock = threading.Lock()  # the shipper ships several segments at once

    def get(self, segment: str) -> int:
        with self._lock:
            return self._offsets.get(segment, 0)

    def advance(self, segment: str, offset: int) -> None:
        with self._lock:
            if offset < self._offsets.get(segment, 0):
                raise ValueError(f"checkpoint of {segment} cannot move back to {offset}")
            self._offsets[segment] = offset
            self._save()

    def forget(self, segment: str) -> None:
        with self._lock:
            if self._offsets.pop(segment, None) is not None:
                self._save()

    def _load(self) -> dict[str, int]:
        return read_checkpoints(self.path.parent)

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(self._offsets, handle, sort_keys=True)
            handle.flush()
            if self.fsync:
                os.fsync(handle.fileno())
        os.replace(temporary, self.path)
        if self.fsync:
            fsync_dir(self.path.parent)


def read_checkpoints(spool_dir: Path) -> dict[str, int]:
    """The confirmed offsets; readers in other processes see a whole file (atomic replace)."""
    try:
        data = json.loads((spool_dir / CHECKPOINT_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return {str(name): int(offset) for name, offset in data.items()}
