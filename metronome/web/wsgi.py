"""The WSGI entry point gunicorn loads: ``gunicorn metronome.web.wsgi:app``."""

import gc

from metronome.web.app import create_app

app = create_app()
# What start-up made (the app, the user-agent parser's tables, settings, imported modules) lives
# as long as the worker. Frozen, it leaves the collector's generations, so a full collection
# scans only what requests left behind: measured under load (bench/ingest.py), a full
# collection took 53-61 ms per worker before, a stall for every request in flight, and
# 0.7-0.8 ms after.
gc.collect()
gc.freeze()
