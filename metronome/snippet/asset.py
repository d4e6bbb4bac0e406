"""The built snippet file as an HTTP asset: its bytes, gzip bytes and a content ETag.

Read once per process and again only when the file changes (a rebuild while running).
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str  # a short content hash; also the value of the ?v= that pins a version
    mtime_ns: int


class AssetFile:
    """One file on disk, cached in memory while its modification time stays the same."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._asset: Asset | None = None
        self._lock = threading.Lock()

    def load(self) -> Asset | None:
        """The current asset, or None while the file does not exist (not built yet)."""
        try:
            mtime_ns = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        with self._lock:
            if self._asset is None or self._asset.mtime_ns != mtime_ns:
                body = self.path.read_bytes()
                self._asset = Asset(
                    body=body,
                    gzipped=gzip.compress(body, compresslevel=9, mtime=0),
                    etag=hashlib.sha256(body).hexdigest()[:16],
                    mtime_ns=mtime_ns,
                )
            return self._asset
