"""The S3 error codes the archive and the S3 access-log source share."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from metronome.s3errors import (
    CREDENTIAL_CODES,
    MISSING_BUCKET_CODES,
    MISSING_KEY_CODES,
    error_code,
    error_detail,
)


def client_error(status: int, code: str | None, message: str | None = None) -> ClientError:
    error: dict[str, Any] = {}
    if code is not None:
        error["Code"] = code
    if message is not None:
        error["Message"] = message
    response = {"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "ListObjectsV2")


def test_a_refusal_with_a_body_gives_its_code_status_and_message() -> None:
    error = client_error(403, "AccessDenied", "Access Denied")
    assert error_code(error) == "AccessDenied"
    assert error_detail(error) == "403 AccessDenied: Access Denied"
    assert error_code(error) in CREDENTIAL_CODES


def test_a_head_answer_has_only_its_status_and_still_reads_as_what_it_is() -> None:
    forbidden = client_error(403, "403")  # botocore's code for a HEAD without a body
    assert error_detail(forbidden) == "403"
    assert error_code(forbidden) in CREDENTIAL_CODES
    missing = client_error(404, "404")
    assert error_code(missing) in MISSING_BUCKET_CODES
    assert error_code(missing) in MISSING_KEY_CODES


def test_an_answer_without_a_code_says_unknown_and_is_no_credential_error() -> None:
    error = client_error(500, None)
    assert error_code(error) == "unknown"
    assert error_detail(error) == "500 unknown"
    assert error_code(error) not in CREDENTIAL_CODES | MISSING_BUCKET_CODES


def test_a_missing_key_is_not_taken_for_a_missing_bucket() -> None:
    assert error_code(client_error(404, "NoSuchKey")) not in MISSING_BUCKET_CODES
    assert error_code(client_error(404, "NoSuchBucket")) not in MISSING_KEY_CODES


def test_without_a_status_the_code_and_message_remain() -> None:
    error = ClientError({"Error": {"Code": "SlowDown", "Message": "Reduce your rate"}}, "PutObject")
    assert error_detail(error) == "SlowDown: Reduce your rate"
