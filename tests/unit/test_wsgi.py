"""The WSGI entry point gunicorn workers load."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import gc
before = gc.get_freeze_count()
import metronome.web.wsgi
print(before, gc.get_freeze_count(), type(metronome.web.wsgi.app).__name__)
"""


def test_the_worker_freezes_what_start_up_made_so_full_collections_skip_it() -> None:
    env = {**os.environ, "METRONOME_ES_URL": "http://127.0.0.1:1"}  # never contacted here
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    before, after, app_type = result.stdout.split()
    assert int(before) == 0
    assert int(after) > 10_000  # the app, its modules and tables: tens of thousands of objects
    assert app_type == "Flask"
