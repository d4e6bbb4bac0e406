"""Read keys generated at first start, so no install runs with a key from the documentation.

A site whose configuration names no read key gets a random one, kept in
``<var>/keys/<site>.read-key`` (0600, created once even when several processes start
together; every process reads the same). ``metronome serve`` prints a new key once, when it
is made; later starts say where it is kept. Configure ``read_keys`` to choose your own.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from pathlib import Path

from metronome.config import Settings
from metronome.fsutil import load_or_create_secret

KEYS_DIR = "keys"
KEY_BYTES = 24


@dataclass(frozen=True)
class GeneratedKey:
    site: str | None  # a read key's site; None for the operators' keys (metronome.access.opskeys)
    key: str
    path: Path
    created: bool  # made by this call: the one time it is shown
    what: str = ""  # how the start-up banner names it; "": "Read key of site '<site>'"

    @property
    def label(self) -> str:
        return self.what or f"Read key of site {self.site!r}"


def key_path(var_dir: Path, site: str) -> Path:
    return var_dir / KEYS_DIR / f"{site}.read-key"


def with_generated_read_keys(
    settings: Settings, var_dir: Path
) -> tuple[Settings, list[GeneratedKey]]:
    """``settings`` with a generated read key for every site that has none configured."""
    generated: list[GeneratedKey] = []
    sites = dict(settings.sites)
    for name, site in settings.sites.items():
        if site.read_keys:
            continue
        path = key_path(var_dir, name)
        existed = path.exists()
        key = load_or_create_secret(None, path, make=_new_key).decode("ascii")
        generated.append(GeneratedKey(name, key, path, created=not existed))
        sites[name] = dataclasses.replace(site, read_keys=(key,))
    return dataclasses.replace(settings, sites=sites), generated


def _new_key() -> str:
    return "sk_" + secrets.token_urlsafe(KEY_BYTES)


def describe(keys: list[GeneratedKey]) -> list[str]:
    """Lines for the start-up banner: a new key in full (once), a kept one by its file."""
    lines = []
    for key in keys:
        if key.created:
            lines.append(f"{key.label} (generated now, shown once; kept in {key.path}): {key.key}")
        else:
            lines.append(f"{key.label}: in {key.path}")
    return lines
