"""The report renderer's browser in a real Chromium, with small stand-in app bundles: the page
reaches no network (every request but the bundle's is aborted), a page that never draws is
given up after ``reports.timeout``, renders beyond the queue are refused at once, and the
browser is started lazily, once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from metronome.config import ReportSettings
from metronome.dashboards.builtins import builtin_dashboards
from metronome.dashboards.data import PageState
from metronome.reports import ReportBusy, ReportData, ReportFailed, ReportRenderer
from tests.conftest import free_port

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(autouse=True)
def _chromium_installed() -> None:
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: `make test` installs Debian's chromium"


def bundle(tmp_path: Path, script: str) -> Path:
    """A dist directory as `make app` leaves it, with ``script`` as the app."""
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "app.TESTTEST.js").write_text(script)
    (dist / "app.TESTTEST.css").write_text("body { margin: 0 }")
    (dist / "manifest.json").write_text(json.dumps({"js": "app.TESTTEST.js",
                                                    "css": "app.TESTTEST.css"}))  # fmt: skip
    return dist


def report() -> ReportData:
    web = next(d for d in builtin_dashboards() if d.id == "web")
    page = PageState("7d", "day", "UTC", None)
    return ReportData(web, {"widgets": {}}, page, "default", "Web", datetime.now(UTC))


DRAWN = "document.documentElement.dataset.reportDrawn = '1';"


class Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Recorder.seen.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[str]:
    Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_page_reaches_no_network(tmp_path: Path, listener: str) -> None:
    script = f"""
      const data = JSON.parse(document.getElementById('report-data').textContent);
      document.body.textContent = 'Report of ' + data.title;
      const tries = [fetch('{listener}/fetch').catch(() => 'refused'),
                     new Promise((done) => {{ const i = new Image(); i.onerror = done;
                                               i.onload = done; i.src = '{listener}/image'; }}),
                     fetch('/api/v1/query').catch(() => 'refused')];
      window.open('{listener}/window');  // a navigation: neither mixed content nor CORS stops it
      Promise.all(tries).then(() => {{ {DRAWN} }});
    """
    renderer = ReportRenderer(ReportSettings(timeout=20), dist=bundle(tmp_path, script))
    try:
        png = renderer.png(report())
        assert png.startswith(b"\x89PNG")
    finally:
        renderer.close()
    assert Recorder.seen == []


def test_a_page_that_never_draws_is_given_up_and_the_next_render_works(tmp_path: Path) -> None:
    dist = bundle(tmp_path, "/* draws nothing */")
    renderer = ReportRenderer(ReportSettings(timeout=2), dist=dist)
    try:
        with pytest.raises(ReportFailed, match="did not draw"):
            renderer.pdf(report())
        (dist / "app.TESTTEST.js").write_text(DRAWN)
        assert renderer.pdf(report()).startswith(b"%PDF")
        assert renderer.worker.launches == 1  # one browser for both
        assert renderer.worker.run(lambda browser: len(browser.contexts), timeout=5) == 0
    finally:
        renderer.close()


def test_a_page_that_throws_fails_at_once_naming_the_error(tmp_path: Path) -> None:
    script = "setTimeout(() => { null.map(String); }, 50);"  # a script error, never drawn
    renderer = ReportRenderer(ReportSettings(timeout=60), dist=bundle(tmp_path, script))
    try:
        started = time.monotonic()
        with pytest.raises(ReportFailed, match="did not draw: Cannot read properties of null"):
            renderer.pdf(report())
        assert time.monotonic() - started < 20  # not the 60 s timeout
    finally:
        renderer.close()


def test_renders_beyond_the_queue_are_refused_at_once(tmp_path: Path) -> None:
    renderer = ReportRenderer(ReportSettings(timeout=20, queue=0), dist=bundle(tmp_path, DRAWN))
    started, release = threading.Event(), threading.Event()

    def hold(browser: Any) -> int:
        started.set()
        release.wait(20)
        return 1

    try:
        assert renderer.worker.launches == 0  # nothing started before the first render
        holder = threading.Thread(target=lambda: renderer.worker.run(hold, timeout=20))
        holder.start()
        assert started.wait(30)
        with pytest.raises(ReportBusy):
            renderer.png(report())
        release.set()
        holder.join(30)
        assert renderer.png(report()).startswith(b"\x89PNG")  # free again
    finally:
        release.set()
        renderer.close()
