"""What the commands share: the settings (read once, a source's options checked by its type),
an Elasticsearch that answers, printing, and stopping on signals."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import ParamSpec

import click
from elasticsearch import ApiError as EsApiError
from elasticsearch import TransportError

from metronome.config import ConfigError, Settings, config_origin, load_settings
from metronome.enrich.geo import GeoDatabaseError, geo_lookup
from metronome.es.embedded import EmbeddedElasticsearch

P = ParamSpec("P")


class Context:
    def __init__(self, config_file: str | None) -> None:
        self.config_file = config_file
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                settings = load_settings(self.config_file)
                if settings.sources:  # the registry imports every source type: only when needed
                    from metronome.sources.registry import check_source_options  # noqa: PLC0415

                    check_source_options(settings, config_origin(self.config_file))
                from metronome.dashboards.files import check_dashboard_files  # noqa: PLC0415

                check_dashboard_files(settings, config_origin(self.config_file))
                geo_lookup(settings.enrich.geo)  # a city database it cannot read stops it here
            except (ConfigError, GeoDatabaseError) as error:
                raise click.ClickException(str(error)) from None
            self._settings = settings
        return self._settings

    def reachable_settings(self) -> Settings:
        """The settings with the URL of a reachable Elasticsearch (embedded or configured)."""
        return with_reachable_es(self.settings)


pass_context = click.make_pass_decorator(Context)


def with_reachable_es(settings: Settings) -> Settings:
    if settings.elasticsearch.url:
        return settings
    node = EmbeddedElasticsearch(settings.elasticsearch.embedded, say=say)
    if not node.status().running:
        raise click.ClickException(
            "no elasticsearch.url is set and the embedded node is not running: "
            "start it with `metronome es start` or set METRONOME_ES_URL"
        )
    return dataclasses.replace(
        settings, elasticsearch=dataclasses.replace(settings.elasticsearch, url=node.url)
    )


def say(message: str) -> None:
    click.echo(message, err=False)
    sys.stdout.flush()


@contextlib.contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """SIGINT and SIGTERM set the event (work stops at the next safe point) while inside."""
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda signum, frame: stop.set())
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def elasticsearch_errors(kept: str = "") -> Callable[[Callable[P, None]], Callable[P, None]]:
    """A command's decorator: an Elasticsearch that does not answer is a one-line error (with
    ``kept``: what the command keeps there), not a traceback."""

    def decorate(command: Callable[P, None]) -> Callable[P, None]:
        @functools.wraps(command)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> None:
            try:
                command(*args, **kwargs)
            except (TransportError, EsApiError) as error:
                where = f"; {kept}" if kept else ""
                raise click.ClickException(
                    f"Elasticsearch did not answer as expected ({type(error).__name__}: {error})"
                    + where
                ) from None

        return wrapped

    return decorate
