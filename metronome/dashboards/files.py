"""Dashboards as code: ``*.json``, ``*.yml`` and ``*.yaml`` files in ``dashboards.dir``
(default: ``dashboards/`` next to the configuration file), loaded at start, read-only.

Each file holds one definition, checked like one sent to the API (its queries for their
grammar: the streams' fields are not known before Elasticsearch is). A file that is not valid
stops the start with a message naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import yaml

from metronome.config import DEFAULT_CONFIG_FILE, ConfigError, Settings
from metronome.dashboards.builtins import builtin_dashboards
from metronome.dashboards.definition import Dashboard, parse_dashboard
from metronome.errors import ApiError
from metronome.hits.bodies import loads_json

SUFFIXES = (".json", ".yml", ".yaml")
MAX_FILE_BYTES = 256 * 1024


def dashboards_dir(settings: Settings, config_origin: str) -> Path:
    """Where the dashboard files are: the setting, else next to the configuration file."""
    if settings.dashboards.dir is not None:
        return settings.dashboards.dir
    config = Path(config_origin) if config_origin != "defaults" else DEFAULT_CONFIG_FILE
    return config.parent / "dashboards"


def load_dashboard_files(directory: Path) -> tuple[Dashboard, ...]:
    """Every dashboard file of ``directory`` (none when it does not exist), by file name;
    ``ConfigError`` naming the file and the field when one is not valid."""
    if not directory.is_dir():
        return ()
    dashboards: list[Dashboard] = []
    seen: dict[str, Path] = {}
    for path in sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES and p.is_file()):
        dashboard = _load(path)
        if dashboard.id in seen:
            raise ConfigError(
                f"dashboard file {path}: id {dashboard.id!r} is also the id in {seen[dashboard.id]}"
            )
        seen[dashboard.id] = path
        dashboards.append(dashboard)
    return tuple(dashboards)


def _load(path: Path) -> Dashboard:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read dashboard file {path}: {error.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"dashboard file {path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
        raw = loads_json(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, UnicodeDecodeError, yaml.YAMLError) as error:
        kind = "JSON" if path.suffix == ".json" else "YAML"
        raise ConfigError(f"dashboard file {path} is not valid {kind}: {error}") from None
    if isinstance(raw, dict) and raw.get("id") in {d.id for d in builtin_dashboards()}:
        raise ConfigError(
            f"dashboard file {path}: id: {raw['id']!r} is the id of a built-in "
            "dashboard (export it and change the copy's id)"
        )
    if isinstance(raw, dict) and raw.get("site") is not None:
        raise ConfigError(f"dashboard file {path}: site: a file's dashboard is for every site")
    try:
        return parse_dashboard(raw, lambda stream: None)
    except ApiError as error:
        raise ConfigError(f"dashboard file {path}: {error.message}") from None


def check_dashboard_files(settings: Settings, config_origin: str) -> None:
    """Load the files once, so that a bad one stops a command before anything starts."""
    load_dashboard_files(dashboards_dir(settings, config_origin))
