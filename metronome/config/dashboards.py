"""``dashboards:``: dashboards as code, and where shared dashboards may be embedded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from marshmallow.validate import Regexp

from metronome.config.declare import NULL_IS_EMPTY, SPLIT, Each, Then

# A CSP source expression for frame-ancestors: 'self' or a scheme://host[:port] (a leading
# "*." allowed in the host); nothing that could end the directive (spaces, ";", ",").
ORIGIN = Regexp(
    r"^(?:'self'|https?://(?:\*\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::[0-9]{1,5})?)\Z",
    error="Use 'self' or an origin such as https://intranet.example.org (no path).",
)
UNIQUE = Then(lambda items: tuple(dict.fromkeys(items)))


@dataclass(frozen=True)
class DashboardSettings:
    # Dashboard files (*.json, *.yml, *.yaml) loaded read-only at start; None: the directory
    # "dashboards" next to the configuration file (config/dashboards/ by default).
    dir: Path | None = None
    # Origins whose pages may show a shared dashboard in an iframe (CSP frame-ancestors of
    # /share/*); empty: none may. From the environment: comma-separated.
    embed_origins: Annotated[tuple[str, ...], SPLIT, NULL_IS_EMPTY, Each(ORIGIN), UNIQUE] = ()
