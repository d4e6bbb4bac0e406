"""Web requests out of access logs: raw nginx/Apache ``combined`` (or ``common``) lines, and the
records Fluentd's ``nginx`` and ``apache2`` parsers produce (docs/server-logs.md).

Pure functions: a line or a record in, a ``WebRequest`` (or None: not an access log) out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

# host ident user [time] "request" status bytes ["referer" "agent"]; quoted fields may hold
# escaped quotes (Apache: \"; nginx escapes them as \x22).
_QUOTED = r'"((?:[^"\\]|\\.)*)"'
COMBINED = re.compile(
    r"^(?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] "
    rf"{_QUOTED} (?P<status>\d{{3}}|-) (?P<bytes>\d+|-)"
    rf"(?: {_QUOTED} {_QUOTED})?(?P<rest>.*)$"
)
REQUEST_LINE = re.compile(
    r"^(?P<method>[A-Z][A-Z_-]{0,19}) (?P<target>\S+)(?: (?P<protocol>HTTP/[\d.]+))?$"
)
LOG_TIME = "%d/%b/%Y:%H:%M:%S %z"
_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|.)")
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


@dataclass(frozen=True)
class WebRequest:
    client_ip: str | None
    user: str | None
    time: datetime | None  # from the log line; None when the record carries no time
    method: str | None
    path: str | None  # the request target as logged (path and query)
    protocol: str | None
    status: int | None
    bytes: int | None
    referrer: str | None
    user_agent: str | None
    request: str | None = None  # the raw request line when it is not METHOD TARGET PROTOCOL


def parse_line(line: str) -> WebRequest | None:
    """A combined or common access-log line, or None when the line is something else."""
    match = COMBINED.match(line.rstrip("\r\n"))
    if match is None:
        return None
    request, referrer, agent = (
        _unescape(text) if text is not None else None for text in match.group(5, 8, 9)
    )
    moment = _log_time(match["time"])
    if moment is None:
        return None
    method, path, protocol = _request_parts(request or "")
    return WebRequest(
        client_ip=_dash(match["client"]),
        user=_dash(match["user"]),
        time=moment,
        method=method,
        path=path,
        protocol=protocol,
        status=_int(match["status"]),
        bytes=_int(match["bytes"]),
        referrer=_dash(referrer),
        user_agent=_dash(agent),
        request=None if method else _dash(request),
    )


def from_parser_record(record: dict[str, Any]) -> WebRequest | None:
    """The fields of Fluentd's nginx/apache2 parsers (the time is the event's, not here).

    nginx keeps every value a string with "-" for missing; apache2 gives integers and null.
    nginx's ``remote`` is the client (its ``host`` is "-"); apache2's ``host`` is the client.
    """
    if not {"method", "path", "code"} <= record.keys():
        return None
    client = record.get("remote") if "remote" in record else record.get("host")
    return WebRequest(
        client_ip=_dash(_text(client)),
        user=_dash(_text(record.get("user"))),
        time=None,
        method=_dash(_text(record.get("method"))),
        path=_dash(_text(record.get("path"))),
        protocol=None,
        status=_int(record.get("code")),
        bytes=_int(record.get("size")),
        referrer=_dash(_text(record.get("referer"))),
        user_agent=_dash(_text(record.get("agent"))),
    )


@lru_cache(maxsize=4096)
def _log_time(text: str) -> datetime | None:
    """Neighbouring lines share their second: strptime once per distinct time text."""
    try:
        return datetime.strptime(text, LOG_TIME)
    except ValueError:
        return None


def _request_parts(request: str) -> tuple[str | None, str | None, str | None]:
    match = REQUEST_LINE.match(request)
    if match is None:
        return None, None, None
    return match["method"], match["target"], match["protocol"]


def _unescape(text: str) -> str:
    """Undo nginx's \\xXX and Apache's \\", \\\\, \\n escapes; bytes are read as UTF-8."""
    if "\\" not in text:
        return text
    out = bytearray()
    position = 0
    for match in _ESCAPE.finditer(text):
        out += text[position : match.start()].encode("utf-8", "surrogateescape")
        escape = match.group(1)
        if escape[0] == "x" and len(escape) == 3:
            out.append(int(escape[1:], 16))
        else:
            out += _SIMPLE_ESCAPES.get(escape, escape).encode("utf-8", "surrogateescape")
        position = match.end()
    out += text[position:].encode("utf-8", "surrogateescape")
    return out.decode("utf-8", "replace")


def _dash(text: str | None) -> str | None:
    return None if text in (None, "", "-") else text


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) <= 18:
        return int(value)
    return None
