"""Google Analytics 4 (Data API) as a Metronome source: ``type: ga4``, stream ``ga4``."""

from ingesters.ga4.source import Ga4Source

__all__ = ["Ga4Source"]
