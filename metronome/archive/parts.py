"""Part files: gzipped NDJSON, one ``{"_id": ..., "_source": ...}`` per line.

A part is written to a temporary file (not memory) while the SHA-256 of its compressed bytes
is computed on the way, so archiving a day of any size holds one page of documents at a time.
The gzip header carries no name and no time: the same documents give the same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import tempfile
from collections.abc import Iterator
from typing import IO, Any, Protocol

COMPRESS_LEVEL = 6  # zlib's default: most of level 9's ratio at a fraction of its CPU
CHUNK = 1 << 20
SPOOL_MEMORY = 8 << 20  # a downloaded part stays in memory up to this, then goes to disk


def encode_line(doc_id: str, source: dict[str, Any]) -> bytes:
    return (
        json.dumps({"_id": doc_id, "_source": source}, ensure_ascii=False, separators=(",", ":"))
        + "\n"
    ).encode()


def decode_line(line: bytes) -> tuple[str, dict[str, Any]]:
    """``(id, source)`` of one line; ValueError for anything else."""
    record = json.loads(line)
    if (
        not isinstance(record, dict)
        or not isinstance(record.get("_id"), str)
        or not isinstance(record.get("_source"), dict)
    ):
        raise ValueError('a line must be {"_id": "...", "_source": {...}}')
    return record["_id"], record["_source"]


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class _Hashing:
    """A write-only file that hashes and counts what goes through it."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.target.write(data)

    def flush(self) -> None:
        self.target.flush()


class PartWriter:
    """One part being written: ``add`` documents, then ``finish`` to get the file to upload."""

    def __init__(self) -> None:
        # Lives as long as the writer: close() (or the archiver's finally) removes it.
        self.file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self._hashing = _Hashing(self.file)
        self._gzip = gzip.GzipFile(
            filename="",
            mode="wb",
            fileobj=self._hashing,
            compresslevel=COMPRESS_LEVEL,
            mtime=0,
        )
        self.docs = 0

    def add(self, doc_id: str, source: dict[str, Any]) -> None:
        self._gzip.write(encode_line(doc_id, source))
        self.docs += 1

    def finish(self) -> tuple[int, str]:
        """Close the gzip stream; ``(bytes, sha256)``, and ``file`` rewound for reading."""
        self._gzip.close()
        self.file.flush()
        self.file.seek(0)
        return self._hashing.size, self._hashing.digest.hexdigest()

    def close(self) -> None:
        if not self._gzip.closed:  # abandoned half-written: end the stream before the file
            self._gzip.close()
        self.file.close()


def copy_hashed(source: Readable, target: IO[bytes]) -> tuple[int, str]:
    """Copy a readable stream (a file or an S3 body) into ``target``; ``(bytes, sha256)``."""
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
        target.write(chunk)
    target.flush()
    target.seek(0)
    return size, digest.hexdigest()


def spooled_file() -> IO[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)


def read_part(file: IO[bytes]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every ``(id, source)`` of a part file, in order; ValueError names a bad line."""
    with gzip.GzipFile(fileobj=file, mode="rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield decode_line(line)
            except ValueError as error:
                raise ValueError(f"line {number}: {error}") from None
