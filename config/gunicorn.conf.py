"""gunicorn settings for running the web process on its own (containers, systemd):

    METRONOME_ES_URL=http://127.0.0.1:9200 gunicorn -c config/gunicorn.conf.py metronome.wsgi:app

`metronome serve` passes the same settings from config/metronome.yml itself.
"""

import os

bind = os.environ.get("METRONOME_BIND", "0.0.0.0:8080")
workers = int(os.environ.get("METRONOME_WORKERS", "2"))
graceful_timeout = 20
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
