"""What an S3 error code means: one list for every part that talks to S3.

The archive (``metronome.archive.store``) and the S3 access-log source
(``ingesters.s3_access_logs``) both turn botocore's ``ClientError`` into a sentence that says
what to fix; the codes they recognise live here so they cannot drift apart.
"""

from __future__ import annotations

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

# S3 and S3-compatible stores (MinIO, Ceph, moto) name refused credentials these ways. An answer
# without a body (a HEAD request, a proxy in front) carries only its status as the code.
CREDENTIAL_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "ExpiredToken",
        "InvalidToken",
        "InvalidClientTokenId",
        "AuthorizationHeaderMalformed",
        "403",
        "Forbidden",
    }
)
MISSING_BUCKET_CODES = frozenset({"NoSuchBucket", "404", "NotFound"})
MISSING_KEY_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


def error_code(error: ClientError) -> str:
    """The error's code (``AccessDenied``), or its HTTP status when the answer had no body."""
    return str(error.response.get("Error", {}).get("Code") or "unknown")


def error_detail(error: ClientError) -> str:
    """Status, code and S3's message in one short phrase: ``403 AccessDenied: Access Denied``."""
    code = error_code(error)
    status = str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or "")
    message = str(error.response.get("Error", {}).get("Message") or "").strip()
    answered = code if status in ("", code) else f"{status} {code}"
    return f"{answered}: {message}" if message else answered
