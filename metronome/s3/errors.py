"""S3 failures as one line: what failed, on which bucket, and what to fix.

The archive (``metronome.archive.store``) and the S3 access-log source
(``ingesters.s3_access_logs``) both talk to S3 and both turn botocore's failures into these
sentences; each describes its bucket with an ``S3Location`` (where it is, and how its user names
the settings to fix). Messages never contain the secret key.
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import (  # type: ignore[import-untyped]
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.parsers import ResponseParserError  # type: ignore[import-untyped]

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


@dataclass(frozen=True)
class S3Location:
    """A bucket (and key prefix) as messages name it, and the settings that configure it."""

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None  # None: AWS S3
    role: str = "bucket"  # what the bucket is for: "archive bucket", "log bucket"
    settings: str = ""  # how the settings are named before their key: "archive." or ""
    permissions: str = "the bucket's policy"  # what to check besides the credentials

    @property
    def endpoint(self) -> str:
        return self.endpoint_url or "AWS S3"

    @property
    def where(self) -> str:
        """``s3://bucket/prefix at endpoint``."""
        return f"s3://{self.bucket}/{self.prefix} at {self.endpoint}"


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


def describe_s3_error(error: Exception, location: S3Location, doing: str) -> str:
    """One line: what went wrong with the bucket while ``doing`` what, and what to check."""
    keys = f"{location.settings}access_key_id and {location.settings}secret_access_key"
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return (
            f"no S3 credentials for {location.where}: set {keys}, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or another AWS credential source: ~/.aws, an instance role)"
        )
    if isinstance(error, BotoConnectionError | HTTPClientError):
        return f"cannot reach S3 at {location.endpoint} while {doing}: {error}"
    if isinstance(error, ClientError):
        code, detail = error_code(error), error_detail(error)
        if code in CREDENTIAL_CODES:
            return (
                f"S3 refused the credentials ({detail}) while {doing} ({location.where}): "
                f"check {keys} (or the AWS environment) and {location.permissions}"
            )
        if code in MISSING_BUCKET_CODES:  # 404 alone: HEAD of the bucket (objects: NoSuchKey)
            return (
                f"the {location.role} {location.bucket!r} does not exist at {location.endpoint} "
                f"({location.settings}bucket)"
            )
        return f"S3 answered {detail} while {doing} ({location.where})"
    if isinstance(error, ResponseParserError):
        text = str(error).strip()
        first_line = text.splitlines()[0] if text else "unreadable"
        return f"S3 gave an unreadable answer while {doing} ({location.where}): {first_line}"
    return f"S3 failed while {doing} ({location.where}): {error}"
