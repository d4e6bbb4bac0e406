"""What goes wrong while sending, and whether trying again may help."""

from __future__ import annotations


class NotifyError(Exception):
    """A message could not be sent (or queued) on a channel; the text names the channel and
    says why, without any secret (password, webhook secret, a URL's path or query)."""

    def __init__(self, channel: str, reason: str) -> None:
        super().__init__(f"channel {channel!r}: {reason}")
        self.channel = channel
        self.reason = reason


class SendFailed(Exception):
    """One attempt failed. ``permanent``: trying again will not help (the receiver refused this
    message: a 4xx from a webhook, a 5xx reply to an address); else it is retried with
    backoff (the server down, a timeout, a 5xx, a 408 or 429, a refused login the operator can
    fix). The text is safe to record and show."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
