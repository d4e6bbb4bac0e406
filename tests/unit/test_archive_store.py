"""Bucket errors as one clear line, never with the secret; the S3 client as configured."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (  # type: ignore[import-untyped]
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
)

from metronome.archive.errors import ArchiveError
from metronome.archive.store import S3Store, build_s3_client, location
from metronome.config import ArchiveSettings
from metronome.s3.errors import describe_s3_error

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
SETTINGS = ArchiveSettings(
    bucket="archive-bucket",
    endpoint_url="http://127.0.0.1:9000",
    region="eu-central-1",
    access_key_id="AKIDEXAMPLE",
    secret_access_key=SECRET,
    path_style=True,
)
LOCATION = location(SETTINGS)


def client_error(code: str, message: str = "", operation: str = "ListObjectsV2") -> Any:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@pytest.mark.parametrize("code", ["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied"])
def test_refused_credentials_are_named_without_the_secret(code: str) -> None:
    text = describe_s3_error(client_error(code, "The key is wrong"), LOCATION, "listing x/")
    assert "refused the credentials" in text
    assert "archive.access_key_id" in text
    assert code in text
    assert SECRET not in text
    assert "\n" not in text


def test_a_forbidden_head_bucket_is_a_credentials_problem() -> None:
    text = describe_s3_error(client_error("403"), LOCATION, "checking bucket 'archive-bucket'")
    assert "refused the credentials" in text


@pytest.mark.parametrize(
    ("code", "doing"),
    [("NoSuchBucket", "listing x/"), ("404", "checking bucket 'archive-bucket'")],
)
def test_a_missing_bucket_is_named(code: str, doing: str) -> None:
    text = describe_s3_error(client_error(code), LOCATION, doing)
    assert text == (
        "the archive bucket 'archive-bucket' does not exist at http://127.0.0.1:9000 "
        "(archive.bucket)"
    )


def test_an_unreachable_endpoint_is_named() -> None:
    error = EndpointConnectionError(endpoint_url="http://127.0.0.1:9000/archive-bucket")
    text = describe_s3_error(error, LOCATION, "listing x/")
    assert text.startswith("cannot reach S3 at http://127.0.0.1:9000 while listing x/")


def test_missing_credentials_point_at_both_ways_to_set_them() -> None:
    text = describe_s3_error(NoCredentialsError(), LOCATION, "listing x/")
    assert "archive.access_key_id" in text
    assert "AWS_ACCESS_KEY_ID" in text


def test_other_answers_keep_code_and_message() -> None:
    text = describe_s3_error(client_error("SlowDown", "Reduce your rate"), LOCATION, "writing k")
    assert text == (
        "S3 answered SlowDown: Reduce your rate while writing k "
        "(s3://archive-bucket/metronome at http://127.0.0.1:9000)"
    )


def test_without_a_bucket_there_is_no_store() -> None:
    with pytest.raises(ArchiveError, match=r"archive\.bucket is not set"):
        S3Store(ArchiveSettings())


def test_secrets_are_not_in_the_settings_repr() -> None:
    text = repr(SETTINGS)
    assert SECRET not in text
    assert "AKIDEXAMPLE" not in text
    assert "archive-bucket" in text


def test_the_client_uses_endpoint_region_and_path_style() -> None:
    client = build_s3_client(SETTINGS)
    assert client.meta.endpoint_url == "http://127.0.0.1:9000"
    assert client.meta.region_name == "eu-central-1"
    assert client.meta.config.s3["addressing_style"] == "path"
    credentials = client._request_signer._credentials
    assert (credentials.access_key, credentials.secret_key) == ("AKIDEXAMPLE", SECRET)


def test_unset_credentials_come_from_the_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-env")
    client = build_s3_client(ArchiveSettings(bucket="archive-bucket", region="us-east-1"))
    assert client._request_signer._credentials.access_key == "AKIDFROMENV"
    assert client.meta.config.s3["addressing_style"] == "auto"
