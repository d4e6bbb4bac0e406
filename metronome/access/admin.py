"""Who may call the operators' endpoints: the admin endpoints (``/api/v1/sources``...) take an
admin key, ``GET /metrics`` the metrics token or an admin key (unless ``metrics.auth: none``).
Both only as ``Authorization: Bearer <key>``: a key in the URL is refused, as for reads.

A site's key is never enough: a read key shows one site's data, while the admin endpoints show
the whole deployment (sources, their errors and cursors). A known key of another kind gets a
403 that names the key needed, so a user holding a read key learns what to use instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from metronome.access.sites import bearer_token, one_of
from metronome.config import Settings
from metronome.errors import ApiError

URL_KEY_PARAMS = ("key", "token")
ADMIN_KEY = (
    "an admin key (admin_keys; without one configured, metronome serve generates one at first "
    "start and keeps it in var/keys/admin.key)"
)
METRICS_TOKEN = (
    "the metrics token (metrics.token; without one configured, metronome serve generates one "
    "at first start and keeps it in var/keys/metrics.token) or an admin key"
)


def check_admin_key(settings: Settings, authorization: str | None, args: Mapping[str, str]) -> None:
    """Pass with an admin key; else the JSON error saying which key is needed."""
    key = _bearer_only(authorization, args)
    if key is not None and one_of(key, settings.admin_keys):
        return
    _refuse(settings, key, "This endpoint", ADMIN_KEY)


def check_metrics_key(
    settings: Settings, authorization: str | None, args: Mapping[str, str]
) -> None:
    """Pass with the metrics token or an admin key, or anyone under ``metrics.auth: none``."""
    if settings.metrics.auth == "none":
        return
    key = _bearer_only(authorization, args)
    token = settings.metrics.token
    accepted = (*settings.admin_keys, *((token,) if token else ()))
    if key is not None and one_of(key, accepted):
        return
    _refuse(settings, key, "/metrics", METRICS_TOKEN)


def _refuse(settings: Settings, key: str | None, what: str, needed: str) -> None:
    how = "sent as Authorization: Bearer <key>"
    if key is None:
        raise ApiError(401, "missing_key", f"{what} needs {needed}, {how}.", field="key")
    if one_of(key, _site_keys(settings)):
        raise ApiError(
            403,
            "admin_key_required",
            f"That is a site's key, which cannot open it: {what} needs {needed}, {how}.",
            field="key",
        )
    raise ApiError(401, "invalid_key", f"That key cannot open it: {what} needs {needed}.", "key")


def _bearer_only(authorization: str | None, args: Mapping[str, str]) -> str | None:
    if any(name in args for name in URL_KEY_PARAMS):
        raise ApiError(
            400,
            "key_in_url",
            "Send the key in the Authorization header (Authorization: Bearer <key>), not in "
            "the URL: URLs end up in logs and browser history.",
            field="key",
        )
    return bearer_token(authorization)


def _site_keys(settings: Settings) -> Iterable[str]:
    for site in settings.sites.values():
        yield from (*site.read_keys, *site.write_keys, *site.ingest_keys)
