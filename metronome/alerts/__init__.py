"""Alerts: rules on any metric the query model answers and on the pipeline's health, evaluated
by the scheduler as small state machines, their notifications sent through ``metronome.notify``
(docs/alerts.md)."""
