"""Kibana saved objects and Grafana provisioning generated from Metronome's own dashboard
definitions (``plan`` reads a definition once; ``kibana`` and ``grafana`` render it)."""
