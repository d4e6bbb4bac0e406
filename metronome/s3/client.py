"""One way to build an S3 client, for AWS and S3-compatible stores (MinIO, Ceph, Garage, moto).

The endpoint, region, credentials and path-style addressing come from the caller's settings;
credentials that are not set come from the standard AWS chain (environment, ``~/.aws``,
instance role). Checksums are only sent where S3 requires them: many S3-compatible servers
refuse the newer default ones.
"""

from __future__ import annotations

from typing import Any, Protocol

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]


class S3Account(Protocol):
    """The settings an S3 client is built from (the archive's, a log bucket's)."""

    @property
    def endpoint_url(self) -> str | None: ...
    @property
    def region(self) -> str | None: ...
    @property
    def access_key_id(self) -> str | None: ...
    @property
    def secret_access_key(self) -> str | None: ...
    @property
    def path_style(self) -> bool: ...


def s3_client(
    account: S3Account,
    *,
    total_attempts: int,
    connect_timeout: float,
    read_timeout: float,
    user_agent: str,
) -> Any:
    """A boto3 S3 client; ``total_attempts`` counts the first request and its retries."""
    session = boto3.session.Session(
        aws_access_key_id=account.access_key_id,
        aws_secret_access_key=account.secret_access_key,
        region_name=account.region,
    )
    config = Config(
        s3={"addressing_style": "path" if account.path_style else "auto"},
        retries={"mode": "standard", "total_max_attempts": max(1, total_attempts)},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        user_agent_extra=user_agent,
    )
    return session.client("s3", endpoint_url=account.endpoint_url, config=config)
