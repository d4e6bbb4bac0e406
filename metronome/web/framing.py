"""Whether the bytes received on a connection hold a whole HTTP/1.1 request yet.

The web workers (``metronome.web.slowclients``) read a request in their poller and give it to a
thread only once it is all there, so a client that sends slowly costs a buffer, not a thread.
This module only looks at the bytes; gunicorn's parser still parses them, and answers the
malformed ones. Whenever the bytes say nothing clear (a malformed length, a framing this does
not know), the verdict is ``READY``: the thread then reads as gunicorn always did, within the
request's deadline.
"""

from __future__ import annotations

import enum

HEAD_END = b"\r\n\r\n"
MAX_CHUNK_LINE = 1024  # a chunk-size line longer than this is garbage: gunicorn answers 400


class Verdict(enum.Enum):
    HEAD = "head"  # the header section is still arriving
    BODY = "body"  # the headers are in, the body is still arriving
    READY = "ready"  # a thread may take the request now without waiting for the client
    HEAD_TOO_LARGE = "head_too_large"  # the header section exceeds the limit: answer 431


def verdict(
    received: bytes | bytearray, max_head: int, max_body: int, head_from: int = 0
) -> Verdict:
    """The verdict on the first request in ``received``.

    ``head_from``: where to start looking for the end of the headers, when the bytes before
    it are known not to hold it (the last verdict was ``HEAD``), so that a header section
    sent a byte at a time is not searched again from the start for every byte.

    A body is waited for only up to ``max_body`` bytes: a larger one is refused (413) by the
    app before it reads it. ``Expect: 100-continue`` is ready after the headers, since the
    client waits for the interim answer the thread sends.
    """
    end = received.find(HEAD_END, max(0, head_from - len(HEAD_END) + 1))
    if end < 0:
        return Verdict.HEAD_TOO_LARGE if len(received) > max_head else Verdict.HEAD
    if end + len(HEAD_END) > max_head:
        return Verdict.HEAD_TOO_LARGE
    headers = _headers(bytes(received[:end]))
    body = memoryview(received)[end + len(HEAD_END) :]
    if "expect" in headers:
        return Verdict.READY
    if "transfer-encoding" in headers:
        if headers["transfer-encoding"].strip().lower() != "chunked":
            return Verdict.READY  # gunicorn refuses (or handles) other codings at once
        return _chunked_verdict(body, max_body)
    if "content-length" in headers:
        text = headers["content-length"].strip()
        if not text.isdigit() or not text.isascii():
            return Verdict.READY  # gunicorn answers 400
        length = int(text)
        if length > max_body or len(body) >= length:
            return Verdict.READY
        return Verdict.BODY
    return Verdict.READY


def _headers(head: bytes) -> dict[str, str]:
    """The header fields that frame a body, by lower-case name (the last one of a name wins;
    gunicorn refuses a request with conflicting lengths)."""
    wanted = {"content-length", "transfer-encoding", "expect"}
    found: dict[str, str] = {}
    for line in head.split(b"\r\n")[1:]:
        name, colon, value = line.partition(b":")
        key = name.strip().decode("latin-1").lower()
        if colon and key in wanted:
            found[key] = value.decode("latin-1")
    return found


def _chunked_verdict(body: memoryview, max_body: int) -> Verdict:
    """Walk the chunks received so far: ``READY`` at the last chunk and its trailers, or when
    the decoded size passes ``max_body`` (the app refuses it) or the framing is garbage."""
    data = body.tobytes()
    position = 0
    decoded = 0
    while True:
        line_end = data.find(b"\r\n", position)
        if line_end < 0:
            return Verdict.BODY if len(data) - position <= MAX_CHUNK_LINE else Verdict.READY
        size_text = data[position:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return Verdict.READY
        position = line_end + 2
        if size == 0:  # the last chunk; then trailer lines up to an empty line
            if data.startswith(b"\r\n", position) or data.find(HEAD_END, position - 2) >= 0:
                return Verdict.READY
            return Verdict.BODY
        decoded += size
        if decoded > max_body:
            return Verdict.READY
        if len(data) < position + size + 2:
            return Verdict.BODY
        position += size + 2
