"""Secrets stay out of what Metronome prints: access-log lines, reprs of the settings."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from gunicorn.config import Config
from gunicorn.glogging import Logger

from metronome.serve import ACCESS_LOG_FORMAT


def test_the_access_log_line_leaves_the_query_string_out() -> None:
    environ = {
        "REMOTE_ADDR": "203.0.113.7",
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/tock/dataset-42?key=sk_shop_read_0001&email=ann%40example.org",
        "PATH_INFO": "/tock/dataset-42",
        "QUERY_STRING": "key=sk_shop_read_0001&email=ann%40example.org",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    response = SimpleNamespace(status="400 BAD REQUEST", sent=120, headers=[])
    atoms = Logger(Config()).atoms(response, [], environ, timedelta(milliseconds=3))
    line = ACCESS_LOG_FORMAT % atoms
    assert line == '203.0.113.7 "GET /tock/dataset-42 HTTP/1.1" 400 120 3ms'
