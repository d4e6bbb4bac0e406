"""gunicorn settings for running the web process on its own (containers, systemd):

    METRONOME_ES_URL=http://127.0.0.1:9200 gunicorn -c config/gunicorn.conf.py metronome.wsgi:app

`metronome serve` passes the same settings from config/metronome.yml itself.
"""

import os

from metronome.config import load_settings
from metronome.serve import ACCESS_LOG_FORMAT

bind = os.environ.get("METRONOME_BIND", "0.0.0.0:8080")
workers = int(os.environ.get("METRONOME_WORKERS", "2"))
graceful_timeout = 20
# server.access_log (in the config file, or METRONOME_SERVER__ACCESS_LOG=true): off by default.
accesslog = "-" if load_settings().server.access_log else None
access_log_format = ACCESS_LOG_FORMAT
