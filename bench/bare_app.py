"""The accept-rate baseline: a bare Flask app on the same gunicorn settings as Metronome.

``POST /tick`` appends the raw body to a file (no fsync, no parsing) and answers 202;
``GET /healthz`` answers so the bench can wait for it. The file is ``$BENCH_BARE_SINK``.

    BENCH_BARE_SINK=/tmp/sink gunicorn --worker-class gthread ... bench.bare_app:app
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from flask import Flask, Response, request

SINK_ENV = "BENCH_BARE_SINK"
ACCEPTED = b'{"accepted":1}\n'

app = Flask(__name__)
_sink = Path(os.environ.get(SINK_ENV) or Path(tempfile.gettempdir()) / "metronome-bare-sink")
# O_APPEND: each os.write lands whole at the end, whichever worker or thread writes.
_fd = os.open(_sink, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)


@app.post("/tick")
def tick() -> Response:
    os.write(_fd, request.get_data(cache=False) + b"\n")
    return Response(ACCEPTED, status=202, mimetype="application/json")


@app.get("/healthz")
def healthz() -> Response:
    return Response(b'{"status":"ok"}\n', mimetype="application/json")
