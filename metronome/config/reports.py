"""``reports:``: dashboards rendered as PDF and PNG by a headless Chromium (metronome.reports)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from marshmallow.validate import Length, Range


@dataclass(frozen=True)
class ReportSettings:
    # false: the PDF and PNG downloads answer 503 and no browser is ever started (XLSX works).
    enabled: bool = True
    # The Chromium executable (Debian's `chromium` package; `make run` installs it).
    browser: Annotated[Path, Length(min=1)] = Path("/usr/bin/chromium")
    # Seconds one render may take (page, charts, PDF or PNG) before it is given up (503).
    timeout: Annotated[float, Range(min=1, max=600)] = 60.0
    # Renders that may wait for the one running, per worker process; more are refused (429).
    queue: Annotated[int, Range(min=0, max=100)] = 4
    # Seconds without a render after which a worker closes its browser (started again lazily).
    idle_seconds: Annotated[float, Range(min=1)] = 300.0
