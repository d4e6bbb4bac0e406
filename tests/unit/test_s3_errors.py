"""The S3 error codes and sentences the archive and the S3 access-log source share."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import (  # type: ignore[import-untyped]
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
)
from botocore.parsers import ResponseParserError  # type: ignore[import-untyped]

from metronome.s3.errors import (
    CREDENTIAL_CODES,
    MISSING_BUCKET_CODES,
    MISSING_KEY_CODES,
    S3Location,
    describe_s3_error,
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


# --- the sentences ------------------------------------------------------------------------

LOGS = S3Location(
    bucket="logs-bucket",
    prefix="logs/",
    endpoint_url="http://127.0.0.1:9000",
    role="log bucket",
    permissions="that they may s3:GetObject",
)


def test_each_failure_says_what_failed_on_which_bucket_and_what_to_fix() -> None:
    where = "(s3://logs-bucket/logs/ at http://127.0.0.1:9000)"
    refused = describe_s3_error(client_error(403, "AccessDenied", "Denied"), LOGS, "listing logs/")
    assert refused == (
        f"S3 refused the credentials (403 AccessDenied: Denied) while listing logs/ {where}: "
        "check access_key_id and secret_access_key (or the AWS environment) and that they may "
        "s3:GetObject"
    )
    assert describe_s3_error(client_error(404, "NoSuchBucket"), LOGS, "listing logs/") == (
        "the log bucket 'logs-bucket' does not exist at http://127.0.0.1:9000 (bucket)"
    )
    assert describe_s3_error(client_error(503, "SlowDown"), LOGS, "reading k") == (
        f"S3 answered 503 SlowDown while reading k {where}"
    )
    unparsable = ResponseParserError("Unable to parse response\nmore")
    assert describe_s3_error(unparsable, LOGS, "reading k") == (
        f"S3 gave an unreadable answer while reading k {where}: Unable to parse response"
    )


def test_settings_are_named_as_their_section_names_them_and_aws_s3_is_the_default() -> None:
    archive = S3Location(bucket="b", prefix="metronome", role="archive bucket", settings="archive.")
    missing = describe_s3_error(NoCredentialsError(), archive, "listing metronome/")
    assert missing.startswith("no S3 credentials for s3://b/metronome at AWS S3: ")
    assert "archive.access_key_id and archive.secret_access_key" in missing
    assert "AWS_ACCESS_KEY_ID" in missing
    unreachable = EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
    assert describe_s3_error(unreachable, LOGS, "listing logs/").startswith(
        "cannot reach S3 at http://127.0.0.1:9000 while listing logs/: "
    )
