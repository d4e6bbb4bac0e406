"""A process that dies at a chosen point of an alert test (the evaluator killed after queueing
a notification and before saving the rule's state)."""

from __future__ import annotations


class Crash(BaseException):
    """The process dies here (not an ``Exception``: nothing on the way catches it)."""
