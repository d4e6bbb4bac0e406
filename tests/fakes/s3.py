"""S3 for tests: moto in server mode, and a pass-through in front of it that can fail as S3 does.

The pass-through forwards every request to moto unchanged (so production code talks real S3
wire format through it) until told to misbehave:

- ``slow_down``: every request gets S3's throttling answer, ``503 SlowDown`` with S3's XML error
  body (docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html), which boto3 retries;
- ``garbage``: ``200`` with a body that is not XML;
- ``endless_listing``: a listing that says it is truncated but carries no continuation token;
- ``keyless_listing``: a listing whose one object has no key;
- ``no_such_key``: listings are answered, but reading any object gets ``404 NoSuchKey`` (as when
  a lifecycle rule deleted it in between).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import requests
from moto.server import ThreadedMotoServer
from werkzeug.wrappers import Request, Response

from tests.conftest import free_port
from tests.fakes.server import serving

Fault = Literal["slow_down", "garbage", "endless_listing", "keyless_listing", "no_such_key"]
# Hop-by-hop headers, and those `requests` already undid (it decodes and re-frames the body).
_NOT_FORWARDED = frozenset(
    {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}
)


@contextmanager
def moto_s3() -> Iterator[str]:
    """moto's S3 on a free port; its buckets live in this process (names must differ)."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


class FaultyS3:
    """The WSGI pass-through; ``fault`` None forwards, anything else misbehaves (see above)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.fault: Fault | None = None
        self.requests = 0
        self.session = requests.Session()

    def fail(self, fault: Fault = "slow_down") -> None:
        self.fault = fault

    def recover(self) -> None:
        self.fault = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.requests += 1
        request = Request(environ)
        if self.fault == "slow_down":
            response = _error(503, "SlowDown", "Please reduce your request rate.")
        elif self.fault == "garbage":
            response = Response(b"<html>not what S3 says</h", 200, content_type="text/html")
        elif self.fault == "endless_listing" and "list-type" in request.args:
            response = _listing(request.path.strip("/"), "", truncated=True)
        elif self.fault == "keyless_listing" and "list-type" in request.args:
            response = _listing(request.path.strip("/"), "<Contents><Size>3</Size></Contents>")
        elif self.fault == "no_such_key" and request.path.strip("/").count("/") >= 1:
            response = _error(404, "NoSuchKey", "The specified key does not exist.")
        else:
            response = self._forward(request, environ)
        return response(environ, start_response)

    def _forward(self, request: Request, environ: dict[str, Any]) -> Response:
        target = environ.get("RAW_URI") or environ.get("REQUEST_URI") or request.full_path
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in _NOT_FORWARDED
        }
        answer = self.session.request(
            request.method,
            f"{self.upstream}{target}",
            headers=headers,
            data=request.get_data(),
            allow_redirects=False,
            timeout=10,
        )
        kept = [
            (name, value)
            for name, value in answer.headers.items()
            if name.lower() not in _NOT_FORWARDED
        ]
        return Response(answer.content, answer.status_code, headers=kept)


@contextmanager
def faulty_s3(upstream: str) -> Iterator[tuple[FaultyS3, str]]:
    """The pass-through to ``upstream``, served on a free port: (controller, its URL)."""
    proxy = FaultyS3(upstream)
    with serving(proxy) as url:
        try:
            yield proxy, url
        finally:
            proxy.session.close()


def _error(status: int, code: str, message: str) -> Response:
    request_id = uuid.uuid4().hex[:16].upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<RequestId>{request_id}</RequestId><HostId>{uuid.uuid4().hex}</HostId></Error>"
    )
    return Response(
        body,
        status,
        content_type="application/xml",
        headers={"x-amz-request-id": request_id, "x-amz-id-2": uuid.uuid4().hex},
    )


def _listing(bucket: str, contents: str, truncated: bool = False) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Name>{bucket}</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys>"
        f"<IsTruncated>{str(truncated).lower()}</IsTruncated>{contents}</ListBucketResult>"
    )
    return Response(body, 200, content_type="application/xml")


def access_log_line(
    bucket: str,
    time: datetime,
    key: str | None,
    *,
    operation: str = "REST.GET.OBJECT",
    status: int = 200,
    remote_ip: str = "192.0.2.3",
    referrer: str | None = None,
    user_agent: str = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    request_id: str | None = None,
) -> str:
    """A line as S3 writes it in a server access log: all 27 fields of today's format."""
    owner = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
    encoded = quote(quote(key)) if key else "-"  # S3 logs keys URL-encoded twice
    method = operation.split(".")[1] if operation.startswith("REST.") else "GET"
    uri = f"{method} /{bucket}/{quote(key) if key else ''} HTTP/1.1"
    size = "3462" if key and status in (200, 206) else "-"
    fields = [
        owner,
        bucket,
        f"[{time:%d/%b/%Y:%H:%M:%S +0000}]",
        remote_ip,
        "-",
        request_id or uuid.uuid4().hex[:16].upper(),
        operation,
        encoded,
        f'"{uri}"',
        str(status),
        "-" if status < 400 else "NoSuchKey",
        size,
        size,
        "27",
        "21",
        f'"{referrer or "-"}"',
        f'"{user_agent}"',
        "-",
        "Vt4yHE0lZfKq0Fm0g1wTb9dZ1rXv7Jq7l3cMnOyqQ4o=",
        "SigV4",
        "TLS_AES_128_GCM_SHA256",
        "QueryString",
        f"{bucket}.s3.us-east-1.amazonaws.com",
        "TLSv1.3",
        "-",
        "-",
        "-",
    ]
    return " ".join(fields)
