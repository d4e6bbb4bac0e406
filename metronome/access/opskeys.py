"""The operators' keys, generated at first start like the read keys (``readkeys``).

- The **admin key** opens the admin endpoints (``/api/v1/sources``...), which no site's read
  key opens: with none in ``admin_keys``, one is kept in ``<var>/keys/admin.key``.
- The **metrics token** reads ``GET /metrics`` (so does an admin key): with ``metrics.auth:
  token`` and no ``metrics.token``, one is kept in ``<var>/keys/metrics.token``, a file a
  Prometheus server can read as its ``credentials_file``.

Each file is 0600 and created once even when several processes start together.
``metronome serve`` shows a new one once, and later says where it is kept.
"""

from __future__ import annotations

import dataclasses
import secrets
from pathlib import Path

from metronome.access.readkeys import KEY_BYTES, KEYS_DIR, GeneratedKey, with_generated_read_keys
from metronome.config import Settings
from metronome.fsutil import load_or_create_secret

ADMIN_KEY_FILE = "admin.key"
METRICS_TOKEN_FILE = "metrics.token"


def admin_key_path(var_dir: Path) -> Path:
    return var_dir / KEYS_DIR / ADMIN_KEY_FILE


def metrics_token_path(var_dir: Path) -> Path:
    return var_dir / KEYS_DIR / METRICS_TOKEN_FILE


def with_generated_keys(settings: Settings, var_dir: Path) -> tuple[Settings, list[GeneratedKey]]:
    """``settings`` with every key that is generated when none is configured: the sites' read
    keys, the admin key and the metrics token; and those keys, for the start-up banner."""
    settings, generated = with_generated_read_keys(settings, var_dir)
    if not settings.admin_keys:
        admin = _kept(admin_key_path(var_dir), "ak_", "Admin key")
        settings = dataclasses.replace(settings, admin_keys=(admin.key,))
        generated.append(admin)
    if settings.metrics.auth == "token" and settings.metrics.token is None:
        token = _kept(metrics_token_path(var_dir), "mt_", "Metrics token")
        metrics = dataclasses.replace(settings.metrics, token=token.key)
        settings = dataclasses.replace(settings, metrics=metrics)
        generated.append(token)
    return settings, generated


def _kept(path: Path, prefix: str, what: str) -> GeneratedKey:
    existed = path.exists()
    key = load_or_create_secret(None, path, make=lambda: prefix + secrets.token_urlsafe(KEY_BYTES))
    return GeneratedKey(None, key.decode("ascii"), path, created=not existed, what=what)
