"""Settings from built-in defaults < YAML config file < METRONOME_* environment.

Environment overrides address any setting by its path, sections joined by a double
underscore: ``METRONOME_ELASTICSEARCH__URL``, ``METRONOME_SERVER__PORT``,
``METRONOME_ELASTICSEARCH__EMBEDDED__HTTP_PORT``. ``METRONOME_ES_URL`` is a short alias of
``METRONOME_ELASTICSEARCH__URL``; ``METRONOME_ADMIN_KEYS`` sets ``admin_keys``.
``METRONOME_CONFIG`` names the YAML file.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from marshmallow import Schema, ValidationError

from metronome.config.declare import section_schema
from metronome.config.settings import Settings

DEFAULT_CONFIG_FILE = Path("config/metronome.yml")
ENV_PREFIX = "METRONOME_"
ENV_ALIASES = {
    "METRONOME_ES_URL": ("elasticsearch", "url"),
    "METRONOME_ADMIN_KEYS": ("admin_keys",),  # a top-level setting: no double underscore
}
# Settings that no longer exist, and what replaced them: a stronger message than "Unknown".
RETIRED = {
    "admin_site": "Removed: no site's read key opens the admin endpoints any more. They take an "
    "admin key: set admin_keys, or use the one generated at first start (var/keys/admin.key).",
}


class ConfigError(Exception):
    """The configuration cannot be used; the message names the setting and what is wrong."""


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


def config_origin(
    config_file: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """Where ``load_settings`` reads the settings from, as its messages name it."""
    path = _choose_config_file(config_file, os.environ if environ is None else environ)
    return str(path) if path else "defaults"


def settings_from_mapping(raw: Mapping[str, Any], source: str = "settings") -> Settings:
    try:
        retired = {name: [why] for name, why in RETIRED.items() if name in raw}
        if retired:
            raise ValidationError(retired)
        settings = _schema().load(raw)
    except ValidationError as error:
        raise ConfigError(f"invalid configuration ({source}): " + describe(error)) from None
    assert isinstance(settings, Settings)
    return settings


@functools.cache
def _schema() -> Schema:
    return section_schema(Settings, Settings())


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
