"""The WSGI entry point gunicorn loads: ``gunicorn metronome.wsgi:app``."""

from metronome import create_app

app = create_app()
