"""gunicorn settings for running the web process on its own (containers, systemd):

    METRONOME_ES_URL=http://127.0.0.1:9200 gunicorn -c config/gunicorn.conf.py \
        metronome.web.wsgi:app

`metronome serve` passes the same settings from config/metronome.yml itself: threaded workers
(server.workers x server.threads), each with a listening socket of its own (see
metronome/web/sockets.py), that read slow requests without holding a thread (see
metronome/web/slowclients.py). Unlike `serve`, gunicorn started this way does not first check
that nothing else listens on the address.
"""

import os
import sys

from metronome.config import load_settings
from metronome.serve.exposure import ExposureError, check_exposure
from metronome.serve.plan import ACCESS_LOG_FORMAT
from metronome.web import sockets as listeners
from metronome.web.sockets import pre_fork  # noqa: F401  (the gunicorn server hook)

_address = os.environ.get("METRONOME_BIND", "127.0.0.1:8080")
_host = _address.rpartition(":")[0] or _address
_settings = load_settings(overrides={"server": {"host": _host}})
# Refuses a public address while a site is open without keys (metronome/exposure.py).
try:
    for _warning in check_exposure(_settings):
        print(_warning, flush=True)
except ExposureError as _error:
    sys.exit(str(_error))
workers = int(os.environ.get("METRONOME_WORKERS", str(_settings.server.workers)))
threads = _settings.server.threads
if listeners.balanced(workers):
    bind = [_address] * workers  # one socket per worker; the kernel spreads connections
    reuse_port = True
    worker_class = listeners.WORKER_CLASS
else:
    bind = [_address]
    worker_class = listeners.SINGLE_WORKER_CLASS
# Slow clients hold no thread (metronome/web/slowclients.py); server.request_timeout bounds them.
keepalive = _settings.server.keepalive
worker_connections = _settings.server.worker_connections
graceful_timeout = 20
# server.access_log (in the config file, or METRONOME_SERVER__ACCESS_LOG=true): off by default.
accesslog = "-" if _settings.server.access_log else None
access_log_format = ACCESS_LOG_FORMAT
