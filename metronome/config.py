"""Typed, validated settings: built-in defaults < YAML config file < METRONOME_* environment.

Settings are read once at start-up. A wrong value stops start-up with a message that names
the setting (``elasticsearch.url: Not a valid URL.``), never a traceback from deep inside.

Environment overrides address any setting by its path, sections joined by a double
underscore: ``METRONOME_ELASTICSEARCH__URL``, ``METRONOME_SERVER__PORT``,
``METRONOME_ELASTICSEARCH__EMBEDDED__HTTP_PORT``. ``METRONOME_ES_URL`` is a short alias of
``METRONOME_ELASTICSEARCH__URL``. ``METRONOME_CONFIG`` names the YAML file.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates,
    validates_schema,
)

from metronome.enrich.urls import DEFAULT_KEEP_PARAMS
from metronome.query.public_cache import PublicCacheSchema, PublicCacheSettings
from metronome.sources.settings import (
    SchedulerSchema,
    SchedulerSettings,
    SourceSettings,
    WebhookSchema,
    WebhookSettings,
    load_sources,
)
from metronome.web.ratelimit.settings import RateLimitSchema, RateLimitSettings

DEFAULT_CONFIG_FILE = Path("config/metronome.yml")
ENV_PREFIX = "METRONOME_"
ENV_ALIASES = {"METRONOME_ES_URL": ("elasticsearch", "url")}
FINGERPRINT = r"^[0-9A-Fa-f]{2}(:?[0-9A-Fa-f]{2}){31}\Z"  # SHA-256, with or without colons
INDEX_PREFIX_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")
SITE_NAME = r"^[A-Za-z0-9_.-]{1,64}\Z"
STREAM_NAME = r"^[a-z0-9_]{1,32}\Z"
BUCKET_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{1,254}\Z"
# Optional slashes at either end (removed); segments of S3's safe key characters.
KEY_PREFIX = r"^/?([A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*)?/?\Z"


class ConfigError(Exception):
    """The configuration cannot be used; the message names the setting and what is wrong."""


TRACKER_SCRIPT = Path(__file__).resolve().parents[1] / "clients" / "js" / "dist" / "metronome.js"


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 2
    threads: int = 8  # per worker; concurrent hits in one worker share an fsync
    # Slow clients (metronome/slowclients.py): a request must arrive whole within this many
    # seconds of its first byte, else 408; it holds no thread while it arrives.
    request_timeout: float = 10.0
    keepalive: int = 2  # seconds an idle kept-alive connection stays open
    # Open connections per worker (arriving, served or idle); under the usual 1024 open files.
    worker_connections: int = 500
    # gunicorn logs a line per request to stdout; off by default, which saves CPU per request.
    access_log: bool = False
    # The built JS snippet served at /metronome.js (`make js` builds it).
    tracker_script: Path = TRACKER_SCRIPT
    # Listen on a public address even while a site takes hits or reads without a key
    # (metronome/exposure.py): only when set, and with a warning for every open door.
    public_without_keys: bool = False


@dataclass(frozen=True)
class EmbeddedSettings:
    """The Elasticsearch node `metronome serve` starts when no URL is configured."""

    home: Path = Path("var/es-dist")
    data_dir: Path = Path("var/es")
    http_port: int = 9200
    heap: str = "1g"
    startup_timeout: float = 120.0
    # CPU priority, 0 (Metronome's own) to 19 (lowest): above 0 the node's background work
    # yields the CPU to the web workers, and its searches do too (docs/operations.md).
    nice: int = 0


@dataclass(frozen=True)
class ElasticsearchSettings:
    # Secrets (the URL may hold user:password@) are kept out of repr(): it reaches logs.
    url: str | None = field(default=None, repr=False)
    index_prefix: str = "metronome"
    request_timeout: float = 10.0
    # A secured cluster (Elastic Cloud, any production cluster): an API key ("id:key", or the
    # base64 "encoded" form Elasticsearch returns), or a user and password (basic auth).
    api_key: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    # TLS: the CA that signed the cluster's certificate (PEM), or the SHA-256 fingerprint of
    # its certificate (Elasticsearch prints it at first start); verify_certs: false trusts any.
    ca_certs: Path | None = None
    ssl_assert_fingerprint: str | None = None
    verify_certs: bool = True
    embedded: EmbeddedSettings = field(default_factory=EmbeddedSettings)


@dataclass(frozen=True)
class IngestSettings:
    max_body_bytes: int = 1_048_576  # as sent (compressed or not)
    max_decompressed_bytes: int = 4_194_304  # a gzip body may not inflate beyond this
    max_inflate_ratio: int = 100  # ... nor, past 1 MiB, beyond this many times its own size
    max_batch: int = 500
    max_log_records: int = 20_000  # records in one POST /ingest/logs body


@dataclass(frozen=True)
class SpoolSettings:
    """The local durable log between the web process and Elasticsearch."""

    dir: Path = Path("var/spool")
    max_bytes: int = 1_073_741_824  # when full, ingest answers 503 instead of filling the disk
    segment_bytes: int = 16_777_216


@dataclass(frozen=True)
class ShipperSettings:
    batch_docs: int = 1000
    batch_bytes: int = 8_388_608
    poll_interval: float = 0.2  # seconds between looks at an idle spool
    # After a pass that found less than a full batch, wait this long for the next: fewer, larger
    # _bulk requests (75 hits in one cost Elasticsearch a third of the CPU of five of 15).
    linger: float = 0.25
    max_backoff: float = 30.0  # seconds, the cap of the retry backoff
    concurrency: int = 2  # _bulk requests in flight at once (each for its own spool segment)


@dataclass(frozen=True)
class PrivacySettings:
    # drop: no IP stored; truncate: IPv4 /24, IPv6 /48; hash: daily-salted hash; full: as seen
    ip: Literal["drop", "truncate", "hash", "full"] = "truncate"
    # Secret for the daily visitor/IP salts; shared by every instance of a deployment.
    # Empty: one is generated on first start and kept in <spool.dir>/../visitor-secret.
    visitor_secret: str | None = field(default=None, repr=False)  # a secret: not in repr()
    # Query parameters kept in stored URLs (hits' url/referrer, server logs' url/referrer);
    # the rest and any fragment but a "#/route" are dropped: tokens, e-mail addresses.
    # "utm_*" keeps every name starting "utm_"; ["*"] keeps every parameter.
    keep_query_params: tuple[str, ...] = DEFAULT_KEEP_PARAMS


@dataclass(frozen=True)
class HitLimits:
    """What one hit may hold; per site, so a noisy site can be tightened alone."""

    max_params: int = 100
    max_value_chars: int = 1024
    max_future_seconds: int = 86_400  # clock skew allowance
    max_age_days: int | None = None  # None: any past time is accepted (back-fill)


@dataclass(frozen=True)
class AllezonSettings:
    """The Allezon-compatible endpoints (docs/allezon.md): on or off, and the site they use."""

    # Off unless enabled: the platform sends no keys, so /user_profiles would answer anyone.
    enabled: bool = False  # false: /user_tags, /user_profiles and /aggregates answer 404
    site: str = "allezon"  # where tags are stored and read; must be one of the sites


@dataclass(frozen=True)
class ItemPattern:
    """A path rule for access logs: ``(?P<id>...)`` names the item, ``(?P<format>...)`` a file."""

    pattern: str
    event: str | None = None  # default: download when the pattern has a format, else view


@dataclass(frozen=True)
class ForwardTlsSettings:
    """TLS on the forward listener (Fluentd's ``transport tls``): PEM files."""

    cert_file: Path
    key_file: Path
    ca_file: Path | None = None  # set: clients must present a certificate this CA signed


@dataclass(frozen=True)
class ForwardSettings:
    """The Fluentd/Fluent Bit forward protocol listener that `metronome serve` starts.

    The limits are those of ``metronome.logs.forward.limits.DecodeLimits`` (the defaults are
    the same; a test keeps them so) and apply once a connection has authenticated, or to
    every connection when no shared key is set."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 24224
    # Set it to require Fluentd's HELO/PING/PONG handshake; kept out of repr() (and so of logs).
    shared_key: str | None = field(default=None, repr=False)
    tls: ForwardTlsSettings | None = None  # None: plain TCP
    max_connections: int = 256  # more at once are closed as they arrive
    max_message_bytes: int = 16_777_216  # one message: Fluentd sends a buffer chunk as one
    max_decompressed_bytes: int = 67_108_864  # a CompressedPackedForward message, gunzipped
    max_array_length: int = 1_000_000  # elements of any array (Forward-mode entries)
    max_map_length: int = 65_536  # keys of any map (a record)
    max_string_bytes: int = 16_777_216  # any str or bin, PackedForward entries included


@dataclass(frozen=True)
class LogsSettings:
    """Server logs (stream ``logs``): where they are counted, and how paths map to items."""

    site: str | None = None  # the site log documents belong to; None: default_site
    items: tuple[ItemPattern, ...] = ()
    forward: ForwardSettings = field(default_factory=ForwardSettings)


@dataclass(frozen=True)
class ArchiveSettings:
    """Closed days of every stream copied to an S3-compatible bucket (``metronome archive``)."""

    enabled: bool = False  # true: `metronome serve` runs `metronome archive run --every interval`
    bucket: str | None = None
    key_prefix: str = "metronome"  # objects: <key_prefix>/<stream>/YYYY/MM/DD/part-N.ndjson.gz
    endpoint_url: str | None = None  # None: AWS S3; else any S3-compatible endpoint
    region: str | None = None  # None: from the AWS environment / config, if any
    # None: the standard AWS credential chain (environment, ~/.aws, instance role...).
    # Secrets: kept out of repr() so they never reach a log or an error message.
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    path_style: bool = False  # http://host/bucket/key instead of http://bucket.host/key
    part_docs: int = 100_000  # documents per part object
    streams: tuple[str, ...] = ("hits", "logs")
    interval: float = 3600.0  # seconds between scheduled runs
    grace: float = 3600.0  # seconds after a UTC day ends before it counts as closed


@dataclass(frozen=True)
class SiteSettings:
    """One tracked application (tenant) and who may write to and read from it."""

    name: str
    write_auth: Literal["key", "none"] = "key"
    write_keys: tuple[str, ...] = ()
    read_keys: tuple[str, ...] = field(default=(), repr=False)  # secrets: not in repr()
    allowed_origins: tuple[str, ...] = ()
    public_tock: bool = False
    limits: HitLimits = field(default_factory=HitLimits)
    # Secret keys of server-to-server intake (POST /ingest/logs); write keys, which web pages
    # publish, cannot send it. None: only a keyless site (write_auth: none) takes it.
    ingest_keys: tuple[str, ...] = field(default=(), repr=False)  # secrets: not in repr()


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    elasticsearch: ElasticsearchSettings = field(default_factory=ElasticsearchSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    spool: SpoolSettings = field(default_factory=SpoolSettings)
    shipper: ShipperSettings = field(default_factory=ShipperSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    allezon: AllezonSettings = field(default_factory=AllezonSettings)
    logs: LogsSettings = field(default_factory=LogsSettings)
    archive: ArchiveSettings = field(default_factory=ArchiveSettings)
    # Scheduled sources (metronome.sources, ingesters/): instance name -> settings.
    sources: Mapping[str, SourceSettings] = field(default_factory=dict)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    rate_limits: RateLimitSettings = field(default_factory=RateLimitSettings)
    public_tock_cache: PublicCacheSettings = field(default_factory=PublicCacheSettings)
    sites: Mapping[str, SiteSettings] = field(
        default_factory=lambda: {
            "default": SiteSettings(name="default", write_auth="none", public_tock=True),
        }
    )
    default_site: str = "default"
    # Whose read keys open the admin endpoints (/api/v1/sources...); None: default_site.
    admin_site: str | None = None

    def site(self, name: str) -> SiteSettings | None:
        return self.sites.get(name)


# --- schemas: what a valid setting is (the defaults live in the dataclasses above) ------


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class ServerSchema(_Strict):
    host = fields.String(validate=validate.Length(min=1))
    port = fields.Integer(validate=validate.Range(min=0, max=65535))
    workers = fields.Integer(validate=validate.Range(min=1, max=64))
    threads = fields.Integer(validate=validate.Range(min=1, max=256))
    request_timeout = fields.Float(validate=validate.Range(min=0.1, max=3600))
    keepalive = fields.Integer(validate=validate.Range(min=0, max=3600))
    worker_connections = fields.Integer(validate=validate.Range(min=1, max=100_000))
    access_log = fields.Boolean()
    tracker_script = fields.String(validate=validate.Length(min=1))
    public_without_keys = fields.Boolean()

    @validates_schema
    def check_connections(self, data: dict[str, Any], **_: Any) -> None:
        threads = data.get("threads", ServerSettings.threads)
        connections = data.get("worker_connections", ServerSettings.worker_connections)
        if connections <= threads:  # gunicorn keeps no connection alive then
            message = f"Must be more than server.threads ({threads})."
            raise ValidationError(message, "worker_connections")

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ServerSettings:
        if "tracker_script" in data:
            data["tracker_script"] = Path(data["tracker_script"])
        return ServerSettings(**data)


class EmbeddedSchema(_Strict):
    home = fields.String(validate=validate.Length(min=1))
    data_dir = fields.String(validate=validate.Length(min=1))
    http_port = fields.Integer(validate=validate.Range(min=1, max=65535))
    heap = fields.String(
        validate=validate.Regexp(r"^\d+[mMgG]\Z", error="Use a JVM size such as 512m or 1g.")
    )
    startup_timeout = fields.Float(validate=validate.Range(min=1))
    nice = fields.Integer(validate=validate.Range(min=0, max=19))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> EmbeddedSettings:
        for name in ("home", "data_dir"):
            if name in data:
                data[name] = Path(data[name])
        return EmbeddedSettings(**data)


class ElasticsearchSchema(_Strict):
    url = fields.Url(allow_none=True, require_tld=False, schemes={"http", "https"})
    index_prefix = fields.String(
        validate=validate.Regexp(
            INDEX_PREFIX_PATTERN,
            error="Use lowercase letters, digits, '-' and '_' (Elasticsearch index names).",
        ),
    )
    request_timeout = fields.Float(validate=validate.Range(min=0.1))
    api_key = fields.String(allow_none=True)
    username = fields.String(allow_none=True)
    password = fields.String(allow_none=True)
    ca_certs = fields.String(allow_none=True)
    ssl_assert_fingerprint = fields.String(
        allow_none=True,
        validate=validate.Regexp(
            FINGERPRINT, error="Use the certificate's SHA-256 fingerprint: 64 hex digits."
        ),
    )
    verify_certs = fields.Boolean()
    embedded = fields.Nested(EmbeddedSchema, load_default=EmbeddedSettings)

    @validates("ca_certs")
    def check_ca_certs(self, value: str | None, **_: Any) -> None:
        if value and not Path(value).is_file():
            raise ValidationError(f"No such file: {value}.")

    @validates_schema
    def check_credentials(self, data: dict[str, Any], **_: Any) -> None:
        if bool(data.get("username")) != bool(data.get("password")):
            where = "password" if data.get("username") else "username"
            raise ValidationError("Set both username and password, or neither.", where)
        if data.get("api_key") and data.get("username"):
            raise ValidationError("Set api_key or username/password, not both.", "api_key")

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ElasticsearchSettings:
        if data.get("url"):
            data["url"] = data["url"].rstrip("/")
        else:
            data["url"] = None
        for name in ("api_key", "username", "password", "ca_certs", "ssl_assert_fingerprint"):
            if name in data and not data[name]:
                data[name] = None
        if data.get("ca_certs"):
            data["ca_certs"] = Path(data["ca_certs"])
        return ElasticsearchSettings(**data)


class IngestSchema(_Strict):
    max_body_bytes = fields.Integer(validate=validate.Range(min=1024, max=100 * 1024 * 1024))
    max_decompressed_bytes = fields.Integer(
        validate=validate.Range(min=1024, max=1024 * 1024 * 1024)
    )
    max_inflate_ratio = fields.Integer(validate=validate.Range(min=2, max=100_000))
    max_batch = fields.Integer(validate=validate.Range(min=1, max=100_000))
    max_log_records = fields.Integer(validate=validate.Range(min=1, max=1_000_000))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> IngestSettings:
        return IngestSettings(**data)


class SpoolSchema(_Strict):
    dir = fields.String(validate=validate.Length(min=1))
    max_bytes = fields.Integer(validate=validate.Range(min=65_536))
    segment_bytes = fields.Integer(validate=validate.Range(min=4096))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> SpoolSettings:
        if "dir" in data:
            data["dir"] = Path(data["dir"])
        return SpoolSettings(**data)


class ShipperSchema(_Strict):
    batch_docs = fields.Integer(validate=validate.Range(min=1, max=100_000))
    batch_bytes = fields.Integer(validate=validate.Range(min=1024, max=100 * 1024 * 1024))
    poll_interval = fields.Float(validate=validate.Range(min=0.001, max=60))
    linger = fields.Float(validate=validate.Range(min=0, max=5))
    max_backoff = fields.Float(validate=validate.Range(min=0.01, max=3600))
    concurrency = fields.Integer(validate=validate.Range(min=1, max=32))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ShipperSettings:
        return ShipperSettings(**data)


class PrivacySchema(_Strict):
    ip = fields.String(validate=validate.OneOf(["drop", "truncate", "hash", "full"]))
    visitor_secret = fields.String(allow_none=True)
    keep_query_params = fields.List(
        fields.String(
            validate=validate.Regexp(
                r"^[^&=#\s]{1,128}\Z", error="Use a query parameter name (no &, =, # or spaces)."
            )
        )
    )

    @pre_load
    def split_names(self, data: Any, **_: Any) -> Any:
        # From the environment: METRONOME_PRIVACY__KEEP_QUERY_PARAMS=utm_*,ref. An empty one
        # (None) keeps no parameter.
        if isinstance(data, Mapping) and data.get("keep_query_params", "") is None:
            return {**data, "keep_query_params": []}
        return comma_lists(data, ("keep_query_params",))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> PrivacySettings:
        if not data.get("visitor_secret"):
            data["visitor_secret"] = None
        if "keep_query_params" in data:
            data["keep_query_params"] = tuple(dict.fromkeys(data["keep_query_params"]))
        return PrivacySettings(**data)


class AllezonSchema(_Strict):
    enabled = fields.Boolean()
    site = fields.String(validate=validate.Regexp(SITE_NAME, error="Not a valid site name."))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> AllezonSettings:
        return AllezonSettings(**data)


class ItemPatternSchema(_Strict):
    pattern = fields.String(required=True)
    event = fields.String(allow_none=True, validate=validate.Regexp(r"^[A-Za-z0-9_.:-]{1,64}\Z"))

    @validates("pattern")
    def check_pattern(self, value: str, **_: Any) -> None:
        try:
            compiled = re.compile(value)
        except re.error as error:
            raise ValidationError(f"Not a regular expression: {error}.") from None
        if "id" not in compiled.groupindex:
            raise ValidationError("The pattern needs a (?P<id>...) group naming the item.")

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ItemPattern:
        return ItemPattern(**data)


class ForwardTlsSchema(_Strict):
    cert_file = fields.String(required=True, validate=validate.Length(min=1))
    key_file = fields.String(required=True, validate=validate.Length(min=1))
    ca_file = fields.String(allow_none=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ForwardTlsSettings:
        ca_file = data.get("ca_file")
        return ForwardTlsSettings(
            Path(data["cert_file"]), Path(data["key_file"]), Path(ca_file) if ca_file else None
        )


class ForwardSchema(_Strict):
    enabled = fields.Boolean()
    host = fields.String(validate=validate.Length(min=1))
    port = fields.Integer(validate=validate.Range(min=0, max=65535))
    shared_key = fields.String(allow_none=True)
    tls = fields.Nested(ForwardTlsSchema, allow_none=True)
    max_connections = fields.Integer(validate=validate.Range(min=1, max=100_000))
    max_message_bytes = fields.Integer(validate=validate.Range(min=4096, max=1024 * 1024 * 1024))
    max_decompressed_bytes = fields.Integer(
        validate=validate.Range(min=4096, max=4 * 1024 * 1024 * 1024)
    )
    max_array_length = fields.Integer(validate=validate.Range(min=16, max=100_000_000))
    max_map_length = fields.Integer(validate=validate.Range(min=16, max=10_000_000))
    max_string_bytes = fields.Integer(validate=validate.Range(min=1024, max=1024 * 1024 * 1024))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ForwardSettings:
        if not data.get("shared_key"):
            data["shared_key"] = None
        return ForwardSettings(**data)


class LogsSchema(_Strict):
    site = fields.String(
        allow_none=True, validate=validate.Regexp(SITE_NAME, error="Not a valid site name.")
    )
    items = fields.List(fields.Nested(ItemPatternSchema))
    forward = fields.Nested(ForwardSchema)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> LogsSettings:
        if "items" in data:
            data["items"] = tuple(data["items"])
        return LogsSettings(**data)


class ArchiveSchema(_Strict):
    enabled = fields.Boolean()
    bucket = fields.String(
        allow_none=True,
        validate=validate.Regexp(BUCKET_NAME, error="Not a valid bucket name."),
    )
    key_prefix = fields.String(
        validate=validate.Regexp(
            KEY_PREFIX,
            error="Use path segments of letters, digits and !_.*'()- joined by '/'.",
        )
    )
    endpoint_url = fields.Url(allow_none=True, require_tld=False, schemes={"http", "https"})
    region = fields.String(allow_none=True, validate=validate.Length(min=1, max=64))
    access_key_id = fields.String(allow_none=True)
    secret_access_key = fields.String(allow_none=True)
    path_style = fields.Boolean()
    part_docs = fields.Integer(validate=validate.Range(min=1, max=10_000_000))
    streams = fields.List(
        fields.String(
            validate=validate.Regexp(
                STREAM_NAME, error="Use lowercase letters, digits and '_' (a stream name)."
            )
        ),
        validate=validate.Length(min=1, error="Name at least one stream."),
    )
    interval = fields.Float(validate=validate.Range(min=1))
    grace = fields.Float(validate=validate.Range(min=0))

    @validates_schema
    def check_archive(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("enabled") and not data.get("bucket"):
            raise ValidationError("Set a bucket to enable archiving.", "bucket")
        with_key = bool(data.get("access_key_id"))
        with_secret = bool(data.get("secret_access_key"))
        if with_key != with_secret:
            raise ValidationError(
                "Set both access_key_id and secret_access_key, or neither "
                "(then the standard AWS credential chain is used).",
                "secret_access_key" if with_key else "access_key_id",
            )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ArchiveSettings:
        for name in ("bucket", "endpoint_url", "region", "access_key_id", "secret_access_key"):
            if name in data and not data[name]:
                data[name] = None
        if data.get("endpoint_url"):
            data["endpoint_url"] = data["endpoint_url"].rstrip("/")
        if "key_prefix" in data:
            data["key_prefix"] = data["key_prefix"].strip("/")
        if "streams" in data:
            data["streams"] = tuple(dict.fromkeys(data["streams"]))
        return ArchiveSettings(**data)


class LimitsSchema(_Strict):
    max_params = fields.Integer(validate=validate.Range(min=1, max=10_000))
    max_value_chars = fields.Integer(validate=validate.Range(min=1, max=1_000_000))
    max_future_seconds = fields.Integer(validate=validate.Range(min=0))
    max_age_days = fields.Integer(allow_none=True, validate=validate.Range(min=1))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> HitLimits:
        return HitLimits(**data)


def comma_lists(data: Any, names: tuple[str, ...]) -> Any:
    """``data`` with each of ``names`` that is one string (as every value from the environment
    is) split at its commas into a list."""
    if not isinstance(data, Mapping):
        return data
    split = {
        name: [item.strip() for item in data[name].split(",") if item.strip()]
        for name in names
        if isinstance(data.get(name), str)
    }
    return {**data, **split} if split else data


# Keys shown in documentation and examples say so; a key that does is never accepted.
EXAMPLE_KEY_MARKS = ("example", "changeme", "change-me", "change_me", "your_", "your-")


def not_an_example_key(key: str) -> None:
    if any(mark in key.lower() for mark in EXAMPLE_KEY_MARKS):
        raise ValidationError(
            f"{key[:24]!r} is an example key from the documentation, which anyone can read: "
            "generate your own, e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(24))'."
        )


class SiteSchema(_Strict):
    write_auth = fields.String(load_default="key", validate=validate.OneOf(["key", "none"]))
    write_keys = fields.List(
        fields.String(validate=[validate.Length(min=8), not_an_example_key]), load_default=list
    )
    read_keys = fields.List(
        fields.String(validate=[validate.Length(min=8), not_an_example_key]), load_default=list
    )
    ingest_keys = fields.List(
        fields.String(validate=[validate.Length(min=16), not_an_example_key]), load_default=list
    )
    allowed_origins = fields.List(fields.String(), load_default=list)
    public_tock = fields.Boolean(load_default=False)
    limits = fields.Nested(LimitsSchema, load_default=HitLimits)

    @pre_load
    def split_key_lists(self, data: Any, **_: Any) -> Any:
        # From the environment: METRONOME_SITES__SHOP__READ_KEYS=sk_a,sk_b
        return comma_lists(data, ("write_keys", "read_keys", "ingest_keys"))

    @validates_schema
    def check_keys(self, data: dict[str, Any], **_: Any) -> None:
        if data["write_auth"] == "key" and not data["write_keys"]:
            raise ValidationError(
                "A site with write_auth: key needs at least one write key "
                "(or set write_auth: none).",
                "write_keys",
            )
        if set(data["write_keys"]) & set(data["read_keys"]):
            raise ValidationError("A key cannot be both a write key and a read key.", "read_keys")
        if set(data["ingest_keys"]) & (set(data["write_keys"]) | set(data["read_keys"])):
            raise ValidationError(
                "An ingest key is secret: it cannot also be a write key or a read key.",
                "ingest_keys",
            )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> SiteSettings:
        return SiteSettings(
            name="",  # set from the mapping key by SettingsSchema
            write_auth=data["write_auth"],
            write_keys=tuple(data["write_keys"]),
            read_keys=tuple(data["read_keys"]),
            allowed_origins=tuple(data["allowed_origins"]),
            public_tock=data["public_tock"],
            limits=data["limits"],
            ingest_keys=tuple(data["ingest_keys"]),
        )


class SettingsSchema(_Strict):
    server = fields.Nested(ServerSchema, load_default=ServerSettings)
    elasticsearch = fields.Nested(ElasticsearchSchema, load_default=ElasticsearchSettings)
    ingest = fields.Nested(IngestSchema, load_default=IngestSettings)
    spool = fields.Nested(SpoolSchema, load_default=SpoolSettings)
    shipper = fields.Nested(ShipperSchema, load_default=ShipperSettings)
    privacy = fields.Nested(PrivacySchema, load_default=PrivacySettings)
    allezon = fields.Nested(AllezonSchema, load_default=AllezonSettings)
    logs = fields.Nested(LogsSchema, load_default=LogsSettings)
    archive = fields.Nested(ArchiveSchema, load_default=ArchiveSettings)
    sources = fields.Raw(load_default=dict)  # checked per source type by load_sources
    scheduler = fields.Nested(SchedulerSchema, load_default=SchedulerSettings)
    webhooks = fields.Nested(WebhookSchema, load_default=WebhookSettings)
    rate_limits = fields.Nested(RateLimitSchema, load_default=RateLimitSettings)
    public_tock_cache = fields.Nested(PublicCacheSchema, load_default=PublicCacheSettings)
    sites = fields.Dict(
        keys=fields.String(validate=validate.Regexp(SITE_NAME)),
        values=fields.Nested(SiteSchema),
    )
    default_site = fields.String()
    admin_site = fields.String(allow_none=True)

    @validates("sites")
    def check_sites(self, value: dict[str, Any], **_: Any) -> None:
        if not value:
            raise ValidationError("Define at least one site.")

    @validates_schema
    def check_default_site(self, data: dict[str, Any], **_: Any) -> None:
        sites = data.get("sites") or Settings().sites
        default_site = data.get("default_site", Settings.default_site)
        if default_site not in sites:
            raise ValidationError(
                f"{default_site!r} is not one of the sites ({', '.join(sorted(sites))}).",
                "default_site",
            )

    @validates_schema
    def check_allezon_site(self, data: dict[str, Any], **_: Any) -> None:
        # Only endpoints that are on need their site.
        sites = data.get("sites") or Settings().sites
        allezon = data.get("allezon")
        if allezon is not None and allezon.enabled and allezon.site not in sites:
            message = f"{allezon.site!r} is not one of the sites ({', '.join(sorted(sites))})."
            raise ValidationError({"allezon": {"site": [message]}})

    @validates_schema
    def check_logs_site(self, data: dict[str, Any], **_: Any) -> None:
        sites = data.get("sites") or Settings().sites
        logs = data.get("logs")
        if logs is not None and logs.site is not None and logs.site not in sites:
            message = f"{logs.site!r} is not one of the sites ({', '.join(sorted(sites))})."
            raise ValidationError({"logs": {"site": [message]}})

    @validates_schema
    def check_admin_site(self, data: dict[str, Any], **_: Any) -> None:
        sites = data.get("sites") or Settings().sites
        admin = data.get("admin_site")
        if admin and admin not in sites:
            message = f"{admin!r} is not one of the sites ({', '.join(sorted(sites))})."
            raise ValidationError(message, "admin_site")

    @validates_schema
    def check_source_sites(self, data: dict[str, Any], **_: Any) -> None:
        sites = data.get("sites") or Settings().sites
        named: dict[str, Any] = {
            f"sources.{name}": (entry or {}).get("site")
            for name, entry in _mapping(data.get("sources")).items()
            if isinstance(entry, Mapping)
        }
        webhooks = data.get("webhooks")
        if webhooks is not None:
            named["webhooks.github"] = webhooks.github.site
        for where, site in named.items():
            if site and site not in sites:
                message = f"{site!r} is not one of the sites ({', '.join(sorted(sites))})."
                section, entry_name = where.split(".", 1)
                raise ValidationError({section: {entry_name: {"site": [message]}}})

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Settings:
        if "sources" in data:
            try:
                data["sources"] = load_sources(data["sources"])
            except ValidationError as error:
                raise ValidationError({"sources": error.messages}) from None
        if "sites" in data:
            data["sites"] = {
                name: dataclasses.replace(site, name=name) for name, site in data["sites"].items()
            }
        return Settings(**data)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


# --- loading -------------------------------------------------------------------------------


def load_settings(
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings from the file, then the environment, then explicit overrides.

    ``config_file`` defaults to ``$METRONOME_CONFIG``, else ``config/metronome.yml`` when it
    exists, else the built-in defaults alone.
    """
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    path = _choose_config_file(config_file, env)
    if path is not None:
        raw = read_config_file(path)
    raw = deep_merge(raw, env_overrides(env))
    if overrides:
        raw = deep_merge(raw, overrides)
    return settings_from_mapping(raw, source=str(path) if path else "defaults")


def settings_from_mapping(raw: Mapping[str, Any], source: str = "settings") -> Settings:
    try:
        settings = SettingsSchema().load(raw)
    except ValidationError as error:
        raise ConfigError(f"invalid configuration ({source}): " + describe(error)) from None
    assert isinstance(settings, Settings)
    return settings


def describe(error: ValidationError) -> str:
    """Flatten marshmallow's nested messages into `a.b: message` lines."""
    lines: list[str] = []

    def walk(node: Any, path: list[str]) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                walk(child, [*path, str(key)] if key != "_schema" else path)
        elif isinstance(node, list) and all(isinstance(m, str) for m in node):
            where = ".".join(path) or "(top level)"
            text = " ".join(node).replace("Unknown field.", "Unknown setting.")
            lines.append(f"{where}: {text}")
        elif isinstance(node, list):
            for child in node:
                walk(child, path)
        else:
            lines.append(f"{'.'.join(path)}: {node}")

    walk(error.messages, [])
    return "; ".join(lines)


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings at the top")
    return data


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """``METRONOME_SECTION__KEY=value`` pairs as a nested mapping (values stay strings)."""
    result: dict[str, Any] = {}
    for name, value in environ.items():
        if name in ENV_ALIASES:
            path: tuple[str, ...] = ENV_ALIASES[name]
        elif name.startswith(ENV_PREFIX) and "__" in name:
            path = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split("__"))
        else:
            continue
        node = result
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value if value != "" else None
    return result


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _choose_config_file(explicit: str | Path | None, environ: Mapping[str, str]) -> Path | None:
    if explicit is not None:
        return Path(explicit)
    if environ.get("METRONOME_CONFIG"):
        return Path(environ["METRONOME_CONFIG"])
    if DEFAULT_CONFIG_FILE.is_file():
        return DEFAULT_CONFIG_FILE
    return None


__all__ = [
    "AllezonSettings",
    "ArchiveSettings",
    "ConfigError",
    "ElasticsearchSettings",
    "EmbeddedSettings",
    "ForwardSettings",
    "ForwardTlsSettings",
    "HitLimits",
    "IngestSettings",
    "ItemPattern",
    "LogsSettings",
    "PrivacySettings",
    "SchedulerSettings",
    "ServerSettings",
    "Settings",
    "ShipperSettings",
    "SiteSettings",
    "SourceSettings",
    "SpoolSettings",
    "WebhookSettings",
    "load_settings",
    "settings_from_mapping",
]
