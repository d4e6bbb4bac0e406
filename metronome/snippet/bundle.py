"""The built dashboard app (``clients/app/dist``, ``make app``): which files ``manifest.json``
names. The web app serves them; the reports load the same files into a headless browser."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

APP_DIST = Path(__file__).resolve().parents[2] / "clients" / "app" / "dist"
ASSET_NAME = re.compile(r"^app\.[A-Za-z0-9_-]{6,32}\.(js|css)$")


@dataclass(frozen=True)
class Manifest:
    js: str
    css: str


def read_manifest(dist: Path) -> Manifest | None:
    """The built file names, or None when the app was not built (or the build is broken)."""
    try:
        data = json.loads((dist / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    js, css = data.get("js"), data.get("css")
    names = (js, css)
    if not all(isinstance(name, str) and ASSET_NAME.match(name) for name in names):
        return None
    return Manifest(js=str(js), css=str(css))
