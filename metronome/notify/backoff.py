"""When to try a failed message again, and when to give up (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    first_retry: float = 60.0  # seconds after the first failure
    max_retry: float = 3600.0  # the longest wait between two attempts
    give_up_after: float = 3 * 86400.0  # seconds since the message was queued
    claim_ttl: float = 300.0  # seconds a claim holds; then another process may take it
    batch: int = 100  # messages per deliver_due


def retry_delay(attempts: int, policy: RetryPolicy) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: first_retry, doubled each
    time, capped at max_retry (1 min, 2, 4, 8, 16, 32, 60, 60...)."""
    exponent = min(max(attempts - 1, 0), 62)
    return float(min(policy.max_retry, policy.first_retry * 2.0**exponent))


def next_attempt(
    created_at: datetime, failed_at: datetime, attempts: int, policy: RetryPolicy
) -> datetime | None:
    """When to try again after a failure at ``failed_at``, or None: give up (the next attempt
    would come later than ``give_up_after`` since the message was queued)."""
    at = failed_at + timedelta(seconds=retry_delay(attempts, policy))
    if at - created_at > timedelta(seconds=policy.give_up_after):
        return None
    return at
