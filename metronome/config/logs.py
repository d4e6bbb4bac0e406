"""``logs:``: server logs (stream ``logs``), where they are counted, how paths map to items,
and the Fluentd/Fluent Bit forward listener."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from marshmallow import ValidationError
from marshmallow.validate import Length, Range, Regexp

from metronome.config.sites import VALID_SITE_NAME

MIB = 1024 * 1024


def item_pattern(value: str) -> None:
    try:
        compiled = re.compile(value)
    except re.error as error:
        raise ValidationError(f"Not a regular expression: {error}.") from None
    if "id" not in compiled.groupindex:
        raise ValidationError("The pattern needs a (?P<id>...) group naming the item.")


@dataclass(frozen=True)
class ItemPattern:
    """A path rule for access logs: ``(?P<id>...)`` names the item, ``(?P<format>...)`` a file."""

    pattern: Annotated[str, item_pattern]
    # default: download when the pattern has a format, else view
    event: Annotated[str | None, Regexp(r"^[A-Za-z0-9_.:-]{1,64}\Z")] = None


@dataclass(frozen=True)
class ForwardTlsSettings:
    """TLS on the forward listener (Fluentd's ``transport tls``): PEM files."""

    cert_file: Annotated[Path, Length(min=1)]
    key_file: Annotated[Path, Length(min=1)]
    ca_file: Path | None = None  # set: clients must present a certificate this CA signed


@dataclass(frozen=True)
class ForwardSettings:
    """The Fluentd/Fluent Bit forward protocol listener that `metronome serve` starts.

    The limits are those of ``metronome.logs.forward.limits.DecodeLimits`` (the defaults are
    the same; a test keeps them so) and apply once a connection has authenticated, or to
    every connection when no shared key is set."""

    enabled: bool = True
    host: Annotated[str, Length(min=1)] = "127.0.0.1"
    port: Annotated[int, Range(min=0, max=65535)] = 24224
    # Set it to require Fluentd's HELO/PING/PONG handshake; kept out of repr() (and so of logs).
    shared_key: str | None = field(default=None, repr=False)
    tls: ForwardTlsSettings | None = None  # None: plain TCP
    # more at once are closed as they arrive
    max_connections: Annotated[int, Range(min=1, max=100_000)] = 256
    # one message: Fluentd sends a buffer chunk as one
    max_message_bytes: Annotated[int, Range(min=4096, max=1024 * MIB)] = 16_777_216
    # a CompressedPackedForward message, gunzipped
    max_decompressed_bytes: Annotated[int, Range(min=4096, max=4096 * MIB)] = 67_108_864
    # elements of any array (Forward-mode entries)
    max_array_length: Annotated[int, Range(min=16, max=100_000_000)] = 1_000_000
    max_map_length: Annotated[int, Range(min=16, max=10_000_000)] = 65_536  # keys of any map
    # any str or bin, PackedForward entries included
    max_string_bytes: Annotated[int, Range(min=1024, max=1024 * MIB)] = 16_777_216


@dataclass(frozen=True)
class LogsSettings:
    """Server logs (stream ``logs``): where they are counted, and how paths map to items."""

    # the site log documents belong to; None: default_site
    site: Annotated[str | None, VALID_SITE_NAME] = None
    items: tuple[ItemPattern, ...] = ()
    forward: ForwardSettings = field(default_factory=ForwardSettings)
