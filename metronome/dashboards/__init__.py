"""Dashboards as data: definitions (``definition``), the built-in ones (``builtin/``), where
the others come from (files, the store) and how a dashboard's widgets are answered together
(``data``). No Flask: ``metronome.web.views.dashboards`` serves them."""
