"""One line of an S3 server access log (the format AWS documents), parsed without I/O.

Fields are separated by single spaces; the time is bracketed (``[06/Feb/2019:00:00:38 +0000]``),
Request-URI, Referer and User-Agent are double-quoted (they may hold spaces and ``\\"``), and
any field may be ``-``. AWS appends new fields over the years, so fields past the ones known
here are ignored, and older lines that stop early are accepted as long as they reach the HTTP
status (``MIN_FIELDS``): that is all a request needs to be counted. A line that cannot be read
raises ``UnparsableLine`` saying why; the caller keeps it rather than dropping it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from urllib.parse import unquote

FIELDS = (
    "bucket_owner",
    "bucket",
    "time",
    "remote_ip",
    "requester",
    "request_id",
    "operation",
    "key",
    "request_uri",
    "http_status",
    "error_code",
    "bytes_sent",
    "object_size",
    "total_time",
    "turn_around_time",
    "referer",
    "user_agent",
    "version_id",
    "host_id",
    "signature_version",
    "cipher_suite",
    "authentication_type",
    "host_header",
    "tls_version",
    "access_point_arn",
    "acl_required",
    "source_region",
)
MIN_FIELDS = FIELDS.index("http_status") + 1
# Keys are logged URL-encoded twice, except by these operations, which encode them once
# (Yelp Engineering, "S3 server access logs at scale", 2025-09-26).
SINGLE_ENCODED_OPERATIONS = frozenset({"BATCH.DELETE.OBJECT", "S3.EXPIRE.OBJECT"})

# A token ends at a space or at the end of the line; a quoted one may hold \" and \\.
_TOKEN = re.compile(r'\[(?P<bracket>[^\]]*)\]|"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^ ]+)')
_UNESCAPE = re.compile(r'\\([\\"])')
_TIME = re.compile(
    r"(?P<day>\d{2})/(?P<month>[A-Z][a-z]{2})/(?P<year>\d{4}):"
    r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2}) (?P<sign>[+-])(?P<hh>\d{2})(?P<mm>\d{2})"
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}
_REQUEST_LINE = re.compile(
    r"(?P<method>[A-Z][A-Z_-]{0,19}) (?P<target>\S+)(?: HTTP/(?P<version>[\d.]+))?"
)


class UnparsableLine(ValueError):
    """The line is not an S3 access log record; the message says why."""


@dataclass(frozen=True)
class Token:
    text: str
    quoted: bool  # written in quotes: "-" there is a dash, not a missing value


@dataclass(frozen=True)
class AccessRecord:
    """One request. ``None`` is a value the line logged as ``-`` or did not have (older lines)."""

    time: datetime | None
    bucket_owner: str | None = None
    bucket: str | None = None
    remote_ip: str | None = None
    requester: str | None = None
    request_id: str | None = None
    operation: str | None = None
    key: str | None = None  # URL-decoded
    request_uri: str | None = None  # as logged: "GET /bucket/key?x=1 HTTP/1.1"
    method: str | None = None  # ...and its parts, when it has that shape
    target: str | None = None
    http_version: str | None = None
    http_status: int | None = None
    error_code: str | None = None
    bytes_sent: int = 0  # logged as "-" when zero
    object_size: int | None = None
    total_time_ms: int | None = None
    turn_around_ms: int | None = None
    referrer: str | None = None
    user_agent: str | None = None
    version_id: str | None = None
    host_id: str | None = None
    signature_version: str | None = None
    cipher_suite: str | None = None
    auth_type: str | None = None
    host_header: str | None = None
    tls_version: str | None = None
    access_point_arn: str | None = None
    acl_required: bool | None = None
    source_region: str | None = None
    unknown_fields: int = 0  # trailing fields newer than this parser (ignored)


def parse_line(line: str) -> AccessRecord:
    """The record of one log line (without its line break); raises ``UnparsableLine``."""
    tokens = tokenize(line)
    if len(tokens) < MIN_FIELDS:
        raise UnparsableLine(
            f"{len(tokens)} fields; a record has at least {MIN_FIELDS} (up to the HTTP status)"
        )
    values = {name: _value(token) for name, token in zip(FIELDS, tokens, strict=False)}
    operation = values.get("operation")
    method, target, version = _request_parts(values.get("request_uri"))
    raw_key = values.get("key")
    return AccessRecord(
        time=parse_time(values["time"]) if values["time"] is not None else None,
        bucket_owner=values["bucket_owner"],
        bucket=values["bucket"],
        remote_ip=values["remote_ip"],
        requester=values["requester"],
        request_id=values["request_id"],
        operation=operation,
        key=decode_key(raw_key, operation) if raw_key is not None else None,
        request_uri=values["request_uri"],
        method=method,
        target=target,
        http_version=version,
        http_status=_integer(values, "http_status"),
        error_code=values.get("error_code"),
        bytes_sent=_integer(values, "bytes_sent") or 0,
        object_size=_integer(values, "object_size"),
        total_time_ms=_integer(values, "total_time"),
        turn_around_ms=_integer(values, "turn_around_time"),
        referrer=values.get("referer"),
        user_agent=values.get("user_agent"),
        version_id=values.get("version_id"),
        host_id=values.get("host_id"),
        signature_version=values.get("signature_version"),
        cipher_suite=values.get("cipher_suite"),
        auth_type=values.get("authentication_type"),
        host_header=values.get("host_header"),
        tls_version=values.get("tls_version"),
        access_point_arn=values.get("access_point_arn"),
        acl_required=_yes(values.get("acl_required")),
        source_region=values.get("source_region"),
        unknown_fields=max(0, len(tokens) - len(FIELDS)),
    )


def tokenize(line: str) -> list[Token]:
    """The space-separated fields; brackets and quotes removed, escaped quotes undone."""
    tokens: list[Token] = []
    position, end = 0, len(line)
    while position < end:
        if line[position] == " ":
            position += 1  # tolerate doubled spaces
            continue
        match = _TOKEN.match(line, position)
        if match is None:  # pragma: no cover - the bare alternative matches any non-space
            raise UnparsableLine(f"no field at column {position + 1}")
        if match.end() < end and line[match.end()] != " ":
            raise UnparsableLine(
                f"field {len(tokens) + 1} (column {position + 1}) does not end at a space"
            )
        if (bracketed := match.group("bracket")) is not None:
            tokens.append(Token(bracketed, quoted=True))
        elif (quoted := match.group("quoted")) is not None:
            tokens.append(Token(_UNESCAPE.sub(r"\1", quoted), quoted=True))
        else:
            tokens.append(Token(match.group("bare"), quoted=False))
        position = match.end()
    return tokens


@lru_cache(maxsize=4096)  # a log object's lines share a few seconds
def parse_time(text: str) -> datetime:
    """``06/Feb/2019:00:00:38 +0000`` (month names in English, whatever the locale)."""
    match = _TIME.fullmatch(text)
    month = _MONTHS.get(match["month"]) if match else None
    if match is None or month is None:
        raise UnparsableLine(f"time {text[:40]!r} is not like 06/Feb/2019:00:00:38 +0000")
    offset = timedelta(hours=int(match["hh"]), minutes=int(match["mm"]))
    try:
        moment = datetime(
            int(match["year"]),
            month,
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            tzinfo=timezone(-offset if match["sign"] == "-" else offset),
        )
    except ValueError as error:
        raise UnparsableLine(f"time {text!r}: {error}") from None
    return moment.astimezone(UTC)


def decode_key(raw: str, operation: str | None) -> str:
    once = unquote(raw)
    return once if operation in SINGLE_ENCODED_OPERATIONS else unquote(once)


def _value(token: Token) -> str | None:
    return None if token.text == "-" or (token.quoted and not token.text) else token.text


def _integer(values: dict[str, str | None], name: str) -> int | None:
    text = values.get(name)
    if text is None:
        return None
    if not text.isascii() or not text.isdigit():
        raise UnparsableLine(f"{name} {text[:40]!r} is not a number")
    return int(text)


def _yes(text: str | None) -> bool | None:
    if text is None:
        return None
    return text.lower() == "yes"


def _request_parts(request_uri: str | None) -> tuple[str | None, str | None, str | None]:
    if request_uri is None:
        return None, None, None
    match = _REQUEST_LINE.fullmatch(request_uri)
    if match is None:
        return None, None, None
    return match["method"], match["target"], match["version"]
