"""The one place an Elasticsearch client is built. Everything else receives it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from elastic_transport import TlsError, TransportError
from elasticsearch import ApiError, AuthenticationException, AuthorizationException, Elasticsearch

from metronome.config import ElasticsearchSettings
from metronome.es.serializer import ElasticsearchJson


class ElasticsearchNotConfigured(RuntimeError):
    """No URL is configured and no embedded node was started to provide one."""


class ElasticsearchUnusable(RuntimeError):
    """The cluster answered the start-up check with a refusal, or not at all; says which."""


def build_client(settings: ElasticsearchSettings) -> Elasticsearch:
    if not settings.url:
        raise ElasticsearchNotConfigured(
            "elasticsearch.url is not set: run `metronome serve` (which starts the embedded "
            "Elasticsearch) or set METRONOME_ES_URL"
        )
    return Elasticsearch(
        settings.url,
        request_timeout=settings.request_timeout,
        retry_on_timeout=True,
        max_retries=2,
        serializer=ElasticsearchJson(),
        **client_options(settings),
    )


def client_options(settings: ElasticsearchSettings) -> dict[str, Any]:
    """Credentials and TLS settings as the client takes them; only those that are set, so a
    plain http:// URL gets no TLS option (the client refuses some of them there)."""
    options: dict[str, Any] = {}
    if settings.api_key:
        # "id:key" as a pair; otherwise the base64 "encoded" form, sent as it is.
        key_id, colon, key = settings.api_key.partition(":")
        options["api_key"] = (key_id, key) if colon else settings.api_key
    if settings.username:
        options["basic_auth"] = (settings.username, settings.password or "")
    if settings.ca_certs is not None:
        options["ca_certs"] = str(settings.ca_certs)
    if settings.ssl_assert_fingerprint:
        options["ssl_assert_fingerprint"] = settings.ssl_assert_fingerprint
    if not settings.verify_certs:
        options["verify_certs"] = False
        options["ssl_show_warn"] = False  # chosen in the settings: no warning per request
    return options


def redact_url(url: str) -> str:
    """``url`` as it may be printed: a password in it becomes ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def check_connection(client: Elasticsearch, url: str) -> None:
    """One request before start-up goes on, so that wrong credentials, an untrusted
    certificate or a wrong URL stop it with a sentence naming the problem (and the setting)
    instead of a stack trace from the first component that touches Elasticsearch."""
    where = redact_url(url)
    try:
        client.cluster.health()
    except AuthenticationException:
        raise ElasticsearchUnusable(
            f"Elasticsearch at {where} refused the credentials (401 Unauthorized): check "
            "elasticsearch.username and elasticsearch.password, or elasticsearch.api_key"
        ) from None
    except AuthorizationException as error:
        raise ElasticsearchUnusable(
            f"Elasticsearch at {where} accepted the credentials but does not allow them to "
            f"read the cluster health (403 Forbidden: {_reason(error)}); give the user or API "
            "key the monitor cluster privilege and rights on the metronome-* indices"
        ) from None
    except TlsError as error:
        raise ElasticsearchUnusable(
            f"Elasticsearch at {where}: the TLS connection failed ({error.message}); set "
            "elasticsearch.ca_certs to the cluster's CA certificate or "
            "elasticsearch.ssl_assert_fingerprint to its certificate's SHA-256 fingerprint"
        ) from None
    except ApiError as error:
        raise ElasticsearchUnusable(
            f"Elasticsearch at {where} answered {error.meta.status}: {_reason(error)}"
        ) from None
    except TransportError as error:
        raise ElasticsearchUnusable(
            f"Elasticsearch at {where} did not answer ({type(error).__name__}: "
            f"{error.message}); check elasticsearch.url"
        ) from None


def _reason(error: ApiError) -> str:
    body = error.body if isinstance(error.body, dict) else {}
    detail = body.get("error")
    if isinstance(detail, dict) and detail.get("reason"):
        return str(detail["reason"])
    return str(error.message)
