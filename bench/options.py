"""Command-line pieces the benches share: the parser of a bench that prints one JSON object,
comma-separated list values, and the options every bench that starts Elasticsearch and
Metronome's processes takes (``add_run_options``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Collection, Sequence
from typing import Any

from metronome.config import EmbeddedSettings, ServerSettings


def bench_parser(what: str) -> tuple[argparse.ArgumentParser, Callable[..., Any]]:
    """The parser of a bench that prints one JSON object, and its ``add_argument``."""
    parser = argparse.ArgumentParser(description=f"{what} (prints one JSON object)")
    return parser, parser.add_argument


def int_list(text: str) -> list[int]:
    """``1,8,32``: whole numbers separated by commas."""
    return [int(part) for part in text.split(",") if part.strip()]


def name_list(text: str) -> list[str]:
    """``accept,e2e``: names separated by commas."""
    return [name for name in text.split(",") if name]


def subset_of(allowed: Collection[str], what: str) -> Callable[[str], list[str]]:
    """A ``name_list`` of names in ``allowed`` only: any other is refused as an unknown
    ``what`` (the option's plural, e.g. ``phases``)."""

    def names(text: str) -> list[str]:
        chosen = name_list(text)
        unknown = set(chosen) - set(allowed)
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {what}: {', '.join(sorted(unknown))}")
        return chosen

    return names


def add_subset_option(parser: argparse.ArgumentParser, name: str, allowed: Sequence[str]) -> None:
    """``--<name>``: a comma-separated subset of ``allowed``, all of them by default."""
    parser.add_argument(
        f"--{name}",
        type=subset_of(allowed, name),
        default=list(allowed),
        help=f"comma-separated subset of {','.join(allowed)}",
    )


def add_run_options(
    parser: argparse.ArgumentParser,
    *,
    heap: str,
    keep: str,
    nice: bool = False,
    warm_up: str | None = None,
    loadgen: bool = False,
) -> None:
    """The options of a bench that runs its own Elasticsearch and Metronome's processes:
    ``--es-heap`` (default ``heap``), ``--es-nice`` (with ``nice``: the embedded node's
    ``elasticsearch.embedded.nice``), ``--es-url``, the warm-up's ``--es-warmup-seconds`` and
    ``--es-warmup-rate`` (with ``warm_up``: what it indexes, for ``warm_up_elasticsearch``),
    ``--workers`` and ``--threads`` (``metronome serve``'s defaults), ``--keep`` (the
    temporary directory, which holds ``keep``), and with ``loadgen`` the hidden ``--loadgen
    SPEC`` that runs the script as its own load generator (``run_bench``)."""
    server = ServerSettings()
    add = parser.add_argument
    add("--es-heap", default=heap)
    if nice:
        add(
            "--es-nice",
            type=int,
            choices=range(20),
            default=EmbeddedSettings().nice,
            metavar="0-19",
            help="CPU priority of the embedded node, as elasticsearch.embedded.nice (default: "
            "its default)",
        )
    add("--es-url", help="use this Elasticsearch instead of starting one")
    if warm_up is not None:
        add(
            "--es-warmup-seconds",
            type=float,
            default=120.0,
            help=f"{warm_up} indexed at a steady rate before measuring, so no phase meets a "
            "cold JVM (0: none)",
        )
        add("--es-warmup-rate", type=float, default=1000.0, help=f"{warm_up}/s during the warm-up")
    add("--workers", type=int, default=server.workers)
    add("--threads", type=int, default=server.threads)
    add("--keep", action="store_true", help=f"keep the temporary directory ({keep})")
    if loadgen:
        add("--loadgen", help=argparse.SUPPRESS)
