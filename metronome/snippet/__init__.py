"""The browser tracking snippet, built from ``clients/js`` and served at ``GET /metronome.js``."""
