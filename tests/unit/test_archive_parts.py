"""Part files: gzipped NDJSON lines of {"_id", "_source"}, checksummed as written."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from typing import Any

import pytest

from metronome.archive.parts import PartWriter, copy_hashed, decode_line, encode_line, read_part

DOCS: list[tuple[str, dict[str, Any]]] = [
    ("h-1", {"@timestamp": "2024-03-01T10:00:00.000Z", "id": "ds-1", "price": 2.5}),
    ("h-2", {"@timestamp": "2024-03-01T11:00:00.000Z", "id": "zażółć", "url": {"host": "ex.org"}}),
    ("line\nbreak", {"message": 'a "quoted"\nline', "tags": ["x", "y"], "empty": {}}),
]


def write(docs: list[tuple[str, dict[str, Any]]]) -> tuple[bytes, int, str]:
    writer = PartWriter()
    for doc_id, source in docs:
        writer.add(doc_id, source)
    size, sha256 = writer.finish()
    data = writer.file.read()
    writer.close()
    return data, size, sha256


def test_a_part_reads_back_every_id_and_source_in_order() -> None:
    data, _, _ = write(DOCS)
    assert list(read_part(io.BytesIO(data))) == DOCS


def test_a_part_is_plain_gzipped_ndjson_one_document_per_line() -> None:
    data, _, _ = write(DOCS)
    lines = gzip.decompress(data).decode().splitlines()
    assert len(lines) == len(DOCS)
    assert json.loads(lines[1]) == {"_id": DOCS[1][0], "_source": DOCS[1][1]}


def test_size_and_checksum_are_those_of_the_stored_bytes() -> None:
    data, size, sha256 = write(DOCS)
    assert size == len(data)
    assert sha256 == hashlib.sha256(data).hexdigest()


def test_the_same_documents_give_the_same_bytes() -> None:
    # No time or name in the gzip header: writing a day again changes no checksum.
    assert write(DOCS) == write(DOCS)
    assert write(DOCS)[2] != write(DOCS[:2])[2]


@pytest.mark.parametrize(
    "line",
    [b"[]", b'{"_id": 1, "_source": {}}', b'{"_id": "a"}', b'{"_id": "a", "_source": []}'],
)
def test_lines_of_another_shape_are_refused(line: bytes) -> None:
    with pytest.raises(ValueError, match="_id"):
        decode_line(line)


def test_a_bad_line_is_named_by_its_number() -> None:
    data = gzip.compress(encode_line("a", {}) + b"\n" + b'{"_id": "b"}\n')
    with pytest.raises(ValueError, match="line 3"):
        list(read_part(io.BytesIO(data)))


def test_copy_hashed_copies_and_rewinds() -> None:
    target = io.BytesIO()
    payload = b"x" * 3_000_000
    assert copy_hashed(io.BytesIO(payload), target) == (
        len(payload),
        hashlib.sha256(payload).hexdigest(),
    )
    assert target.read() == payload


def test_an_abandoned_writer_closes_cleanly() -> None:
    writer = PartWriter()
    writer.add("a", {"x": 1})
    writer.close()
    assert writer.file.closed
