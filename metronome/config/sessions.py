"""``sessions:``: the browser sign-in, a read key exchanged for a signed cookie
(``metronome.web.sessions``).

    sessions:
      ttl_hours: 12                       # idle time after which a session ends (sliding)
      max_days: 7                         # a session ends this long after sign-in, used or not
      failed_sign_ins: {rate: 0.0167, burst: 10}   # per client address: 10, then one a minute
      secret: null                        # signs the cookies; empty: generated at first start

A wrong key counts against the address it came from; over the limit every sign-in from that
address (even with the right key) is refused with 429 until the bucket refills, so guessing
gains nothing. The secret is generated once into ``<spool.dir>/../keys/session-secret`` and read
by every worker; set it when several machines serve the same users.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from marshmallow import ValidationError
from marshmallow.validate import Length, Range

from metronome.config.ratelimits import Limit


@dataclass(frozen=True)
class SessionSettings:
    ttl_hours: Annotated[float, Range(min=0.01, max=24 * 30)] = 12.0
    max_days: Annotated[float, Range(min=0.01, max=90)] = 7.0
    # Failed sign-ins per client address (IPv6 by /64); a rate of 0 turns the limit off.
    failed_sign_ins: Limit = field(default_factory=lambda: Limit(1 / 60, 10))
    secret: Annotated[str | None, Length(min=32)] = field(default=None, repr=False)

    def check(self) -> None:
        if self.ttl_hours > self.max_days * 24:
            raise ValidationError(
                f"Must be at most max_days * 24 ({self.max_days * 24:g}).", "ttl_hours"
            )
