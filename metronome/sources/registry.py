"""Which source types exist: the built-in ones in ``ingesters/`` and any a third-party package
registers under the ``metronome.sources`` entry point group:

    [options.entry_points]
    metronome.sources =
        jira = metronome_jira:JiraSource

A type is imported only when a configured source uses it. The configuration keeps a source's
own options as given; its type's ``options_schema`` checks them here: ``check_source_options``
(the entry points call it right after loading the settings) and ``build_source``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from marshmallow import ValidationError

from metronome.config import ConfigError, Settings, SourceSettings, describe
from metronome.sources.base import Source

ENTRY_POINT_GROUP = "metronome.sources"
BUILTIN = {
    "github": "ingesters.github:GitHubSource",
    "s3_access_logs": "ingesters.s3_access_logs:S3AccessLogsSource",
    "ga4": "ingesters.ga4:Ga4Source",
    "prometheus": "ingesters.prometheus:PrometheusSource",
    "http_json": "ingesters.http_json:HttpJsonSource",
}


_registered: dict[str, type[Source]] = {}


class UnknownSourceType(LookupError):
    pass


def register(cls: type[Source]) -> type[Source]:
    """Make a source type known in this process (an application embedding Metronome, tests);
    packages should prefer the entry point. Usable as a class decorator."""
    _registered[cls.type_name] = cls
    return cls


def type_names() -> list[str]:
    """Every source type that can be configured, built-in first."""
    extra = sorted(
        ep.name for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in BUILTIN
    )
    return [*BUILTIN, *sorted(set(_registered) - set(BUILTIN)), *extra]


def source_type(name: str) -> type[Source]:
    if name in _registered:
        loaded: object = _registered[name]
    elif name in BUILTIN:
        module, _, attribute = BUILTIN[name].partition(":")
        loaded = getattr(importlib.import_module(module), attribute)
    else:
        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
        if not found:
            raise UnknownSourceType(
                f"Unknown source type {name!r}; the known types are {', '.join(type_names())}."
            )
        loaded = found[0].load()
    if not (isinstance(loaded, type) and issubclass(loaded, Source)):
        raise UnknownSourceType(f"Source type {name!r} does not name a Source class.")
    return loaded


def load_options(settings: SourceSettings) -> Mapping[str, Any]:
    """The source's options as its type's ``options_schema`` loads them; ``ValidationError``
    names what is wrong (an unknown type under ``type``)."""
    try:
        kind = source_type(settings.type)
    except UnknownSourceType as error:
        raise ValidationError({"type": [str(error)]}) from None
    loaded: Mapping[str, Any] = kind.options_schema().load(settings.options)
    return loaded


def check_source_options(settings: Settings, origin: str = "settings") -> None:
    """``ConfigError`` naming each wrong option of each source (``sources.<name>.<option>:
    message``), or an unknown type; ``origin`` says where the settings came from."""
    errors: dict[str, Any] = {}
    for name, source in settings.sources.items():
        try:
            load_options(source)
        except ValidationError as error:
            errors[name] = error.messages
    if errors:
        reasons = describe(ValidationError({"sources": errors}))
        raise ConfigError(f"invalid configuration ({origin}): {reasons}")


def build_source(settings: SourceSettings, default_site: str) -> Source:
    """The source, with its options loaded (``check_source_options`` has checked them)."""
    kind = source_type(settings.type)
    return kind(settings.name, settings.site or default_site, load_options(settings))
