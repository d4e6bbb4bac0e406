"""Which Elasticsearch last ran on the embedded node's data, and whether this one may open it.

Elasticsearch upgrades a node's data in place when a newer release of the same major starts on
it, and from then on older releases cannot read it: they fail deep inside Lucene with an error
about a missing codec that does not say what happened. So the embedded node records the release
that ran on its data (``<data dir>/elasticsearch.version``) after every start, and
:func:`data_verdict` decides, before the JVM starts, between going ahead, going ahead with a
note that the data is being upgraded (one-way), and stopping with a message saying what to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

VERSION_FILE = "elasticsearch.version"
_SERVER_JAR = re.compile(r"^elasticsearch-(\d+)\.(\d+)\.(\d+)\.jar$")
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    message: str | None  # what to tell the operator; None when there is nothing to say


def parse_version(text: str) -> tuple[int, int, int] | None:
    match = _VERSION.match(text.strip())
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def home_version(home: Path) -> str | None:
    """The release of the resolved Elasticsearch home, from its server jar's name."""
    for jar in sorted((home / "lib").glob("elasticsearch-*.jar")):
        match = _SERVER_JAR.match(jar.name)
        if match:
            return ".".join(match.groups())
    return None


def recorded_version(data_dir: Path) -> str | None:
    try:
        return (data_dir / VERSION_FILE).read_text().strip() or None
    except OSError:
        return None


def has_node_data(data_dir: Path) -> bool:
    """True when a node has already written its state under ``data_dir`` (``data/_state``)."""
    return (data_dir / "data" / "_state").is_dir()


def record_version(data_dir: Path, version: str) -> None:
    (data_dir / VERSION_FILE).write_text(version + "\n")


def data_verdict(recorded: str | None, has_data: bool, running: str, data_dir: Path) -> Verdict:
    """May release ``running`` open the data in ``data_dir``, last opened by ``recorded``?

    ``recorded`` is None for data of a node started before the release was recorded (8.14.3,
    the release Metronome embedded then), or when there is no data yet (``has_data`` False).
    """
    if not has_data:
        return Verdict(True, None)
    if recorded is None:
        return Verdict(
            True,
            f"The data in {data_dir} was written by an earlier Elasticsearch; {running} upgrades "
            "it as it starts. This is one-way: keep a copy of that directory first if you may "
            "go back to an earlier Metronome.",
        )
    old, new = parse_version(recorded), parse_version(running)
    if old is None or new is None or old == new:
        return Verdict(True, None)
    if old[0] != new[0]:
        return Verdict(
            False,
            f"The data in {data_dir} was written by Elasticsearch {recorded}, another major "
            f"release than {running}: it cannot be opened in place. Move the directory aside to "
            "start with an empty node (the old data stays in the moved directory).",
        )
    if old > new:
        return Verdict(
            False,
            f"The data in {data_dir} was written by Elasticsearch {recorded}, newer than the "
            f"{running} this Metronome embeds, and Elasticsearch cannot go back to an older "
            "release. Run the newer Metronome, or move the directory aside to start with an "
            "empty node (the old data stays in the moved directory).",
        )
    return Verdict(
        True,
        f"Upgrading the data in {data_dir} from Elasticsearch {recorded} to {running} as it "
        "starts. This is one-way: keep a copy of that directory first if you may go back.",
    )
