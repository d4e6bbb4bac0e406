"""``elasticsearch:``: the cluster, and the embedded node `metronome serve` starts without one."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from marshmallow import ValidationError, fields
from marshmallow.validate import Length, Range, Regexp

from metronome.config.declare import Loader, Then

INDEX_PREFIX = r"^[a-z0-9][a-z0-9_-]{0,63}\Z"
FINGERPRINT = r"^[0-9A-Fa-f]{2}(:?[0-9A-Fa-f]{2}){31}\Z"  # SHA-256, with or without colons


def url(**options: Any) -> fields.Field:
    """An http(s) URL, host names without a dot (``localhost``, a container's name) included."""
    return fields.Url(require_tld=False, schemes={"http", "https"}, **options)


URL = Loader(url)
NO_TRAILING_SLASH = Then(lambda value: value.rstrip("/"))


def existing_file(value: str | None) -> None:
    if value and not Path(value).is_file():
        raise ValidationError(f"No such file: {value}.")


@dataclass(frozen=True)
class EmbeddedSettings:
    """The Elasticsearch node `metronome serve` starts when no URL is configured."""

    home: Annotated[Path, Length(min=1)] = Path("var/es-dist")
    data_dir: Annotated[Path, Length(min=1)] = Path("var/es")
    http_port: Annotated[int, Range(min=1, max=65535)] = 9200
    heap: Annotated[str, Regexp(r"^\d+[mMgG]\Z", error="Use a JVM size such as 512m or 1g.")] = "1g"
    startup_timeout: Annotated[float, Range(min=1)] = 120.0
    # CPU priority, 0 (Metronome's own) to 19 (lowest): above 0 the node's background work
    # yields the CPU to the web workers, and its searches do too (docs/operations.md).
    nice: Annotated[int, Range(min=0, max=19)] = 0


@dataclass(frozen=True)
class ElasticsearchSettings:
    # Secrets (the URL may hold user:password@) are kept out of repr(): it reaches logs.
    url: Annotated[str | None, URL, NO_TRAILING_SLASH] = field(default=None, repr=False)
    index_prefix: Annotated[
        str,
        Regexp(
            INDEX_PREFIX,
            error="Use lowercase letters, digits, '-' and '_' (Elasticsearch index names).",
        ),
    ] = "metronome"
    request_timeout: Annotated[float, Range(min=0.1)] = 10.0
    # A secured cluster (Elastic Cloud, any production cluster): an API key ("id:key", or the
    # base64 "encoded" form Elasticsearch returns), or a user and password (basic auth).
    api_key: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    # TLS: the CA that signed the cluster's certificate (PEM), or the SHA-256 fingerprint of
    # its certificate (Elasticsearch prints it at first start); verify_certs: false trusts any.
    ca_certs: Annotated[Path | None, existing_file] = None
    ssl_assert_fingerprint: Annotated[
        str | None,
        Regexp(FINGERPRINT, error="Use the certificate's SHA-256 fingerprint: 64 hex digits."),
    ] = None
    verify_certs: bool = True
    embedded: EmbeddedSettings = field(default_factory=EmbeddedSettings)

    def check(self) -> None:
        if bool(self.username) != bool(self.password):
            where = "password" if self.username else "username"
            raise ValidationError("Set both username and password, or neither.", where)
        if self.api_key and self.username:
            raise ValidationError("Set api_key or username/password, not both.", "api_key")
