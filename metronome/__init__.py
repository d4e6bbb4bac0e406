"""Metronome: self-hosted usage analytics on Elasticsearch.

Importing the package imports nothing else: each process loads only what it runs (the web app
factory is ``metronome.web.app.create_app``).
"""

from metronome.version import VERSION

__version__ = VERSION
