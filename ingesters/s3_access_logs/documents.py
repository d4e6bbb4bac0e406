"""Documents of the ``s3`` stream out of parsed lines, without I/O.

A request becomes ``kind: "request"``; a download of an object (``GET`` of a download
operation answered 200 or 206) also gets ``event: "download"``, ``id`` and ``format`` (the key's
extension, lower case), as the downloads of the ``logs`` stream do. By default (``download_id:
stem``) the id is the key without that extension, so ``datasets/42.csv`` and ``datasets/42.kml``
are two formats of one item: ``GET /tock/datasets/42?stream=s3`` answers its downloads by
format (``/tock`` reads a trailing ``.csv`` as the export format, so a whole key would not do
there). ``download_id: key`` keeps the whole key instead. A line that does not parse becomes
``kind: "unparsed"`` with the raw line in ``message``: kept and queryable, not lost.

The natural key is the log object's key and the line's number: log objects never change, so
a line read again gets the same id (request ids are not used: nothing promises they are unique
across log files).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal

from ingesters.s3_access_logs.keys import LogObject
from ingesters.s3_access_logs.parse import AccessRecord, UnparsableLine, parse_line
from metronome.enrich.geo import Geo
from metronome.enrich.ips import parse_ip, truncate_ip
from metronome.enrich.requests import web_request_fields
from metronome.sources.base import Document

IpMode = Literal["full", "truncate", "drop"]
DownloadId = Literal["stem", "key"]
DOWNLOAD_STATUSES = frozenset({200, 206})
DEFAULT_DOWNLOAD_OPERATIONS = ("REST.GET.OBJECT", "WEBSITE.GET.OBJECT")
_EXTENSION = re.compile(r"[A-Za-z0-9]{1,10}")


@dataclass(frozen=True)
class RecordMapping:
    """How records become fields (from the source's options)."""

    download_operations: Collection[str] = DEFAULT_DOWNLOAD_OPERATIONS
    ip_mode: IpMode = "full"
    download_id: DownloadId = "stem"
    geo: Geo | None = None  # the location lookups (enrich.geo) of remote_ip; None: no geo


def line_document(log: LogObject, number: int, line: str, mapping: RecordMapping) -> Document:
    """The document of line ``number`` (from 1) of ``log``: a request, or the unparsed line."""
    key = f"{log.key}#{number}"
    where = {"log_object": log.key, "log_line": number}
    try:
        record = parse_line(line)
    except UnparsableLine as error:
        fields = {"kind": "unparsed", "message": line, "parse_error": str(error), **where}
        return Document(key, log.time, fields)
    fields = {**request_fields(record, mapping), **where}
    if record.time is None:
        fields["time_missing"] = True  # dated by its log object instead
    return Document(key, record.time or log.time, fields)


def request_fields(record: AccessRecord, mapping: RecordMapping) -> dict[str, Any]:
    fields: dict[str, Any] = {"kind": "request", "bytes_sent": record.bytes_sent}
    plain = {
        "bucket": record.bucket,
        "bucket_owner": record.bucket_owner,
        "key": record.key,
        "operation": record.operation,
        "requester": record.requester,
        "request_id": record.request_id,
        "host_id": record.host_id,
        "error_code": record.error_code,
        "object_size": record.object_size,
        "total_time_ms": record.total_time_ms,
        "turn_around_ms": record.turn_around_ms,
        "version_id": record.version_id,
        "signature_version": record.signature_version,
        "cipher_suite": record.cipher_suite,
        "auth_type": record.auth_type,
        "host_header": record.host_header,
        "tls_version": record.tls_version,
        "access_point_arn": record.access_point_arn,
        "acl_required": record.acl_required,
        "source_region": record.source_region,
        "remote_ip": _remote_ip(record.remote_ip, mapping.ip_mode),
    }
    fields.update((name, value) for name, value in plain.items() if value is not None)
    fields.update(
        web_request_fields(
            method=record.method,
            status=record.http_status,
            version=record.http_version,
            request_line=record.request_uri,
            target=record.target,
            referrer=record.referrer,
            user_agent=record.user_agent,
        )
    )
    fields.update(download_fields(record, mapping))
    if mapping.geo is not None and record.remote_ip:
        geo = mapping.geo.lookup(record.remote_ip)  # before ip_mode truncates or drops it
        if geo is not None:
            fields["geo"] = geo
    return fields


def download_fields(record: AccessRecord, mapping: RecordMapping) -> dict[str, str]:
    """``event``, ``id`` and ``format`` when the record is a download of an object."""
    if (
        record.operation not in mapping.download_operations
        or record.http_status not in DOWNLOAD_STATUSES
        or not record.key
    ):
        return {}
    extension = key_format(record.key)
    if extension is None:
        return {"event": "download", "id": record.key}
    item = record.key[: -len(extension) - 1] if mapping.download_id == "stem" else record.key
    return {"event": "download", "id": item, "format": extension.lower()}


def key_format(key: str) -> str | None:
    """The extension of the key's last segment as written: ``data/Report.CSV`` -> ``CSV``."""
    stem, dot, extension = key.rpartition("/")[2].rpartition(".")
    if not (dot and stem and _EXTENSION.fullmatch(extension)):
        return None
    return extension


def _remote_ip(text: str | None, mode: IpMode) -> str | None:
    if text is None or mode == "drop":
        return None
    if mode == "full":
        return text
    address = parse_ip(text)
    return str(truncate_ip(address)) if address is not None else None
