"""Which doors a configuration leaves open, and whether it may listen beyond this machine.

A site that takes hits without a key, answers ``/tock`` without one, or the keyless Allezon
endpoints (which return any cookie's whole history) are fine on 127.0.0.1, where only this
machine reaches them. On any other address they are open to whoever finds the port, so
``metronome serve`` (and ``config/gunicorn.conf.py``) refuse such an address unless
``server.public_without_keys`` says so explicitly, and then print a warning for every door.
The forward listener on a public address without ``shared_key`` is treated the same way.

``metrics.auth: none`` (``GET /metrics`` without a token) is a door its setting opens
explicitly: on a public address it is not refused, only warned about at every start.
"""

from __future__ import annotations

import ipaddress

from metronome.config import Settings

LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost", "ip6-loopback"})


class ExposureError(RuntimeError):
    """The configuration would serve open doors on a public address."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a listen address) is reachable from this machine only."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name, or 0.0.0.0 / :: (every interface)


def web_doors(settings: Settings) -> list[str]:
    """What the web process serves without a key, one sentence each."""
    doors = []
    for site in settings.sites.values():
        if site.write_auth == "none":
            doors.append(f"site {site.name!r} accepts hits without a key (write_auth: none)")
        if site.public_tock:
            doors.append(f"site {site.name!r} answers /tock without a key (public_tock: true)")
    if settings.allezon.enabled:
        allezon = settings.site(settings.allezon.site)
        if allezon is None or allezon.write_auth == "none":
            doors.append(
                "the Allezon endpoints are on (allezon.enabled): /user_profiles and /aggregates "
                "answer anyone, and /user_tags takes tags without a key"
            )
        else:
            doors.append(
                "the Allezon endpoints are on (allezon.enabled): /user_profiles and /aggregates "
                "answer anyone"
            )
    return doors


def forward_doors(settings: Settings) -> list[str]:
    forward = settings.logs.forward
    if forward.enabled and not forward.shared_key:
        return ["the forward listener takes log records without a shared key (logs.forward)"]
    return []


def check_exposure(settings: Settings) -> list[str]:
    """Warnings to print for the doors open to the network (empty when none are), or
    ``ExposureError`` naming them when the configuration has not accepted them."""
    public: list[str] = []
    explicit: list[str] = []  # opened by their own setting: warned about, never refused
    if not is_loopback(settings.server.host):
        public += [f"{door}, on {settings.server.host}" for door in web_doors(settings)]
        if settings.metrics.auth == "none":
            explicit.append(
                f"/metrics answers without a token (metrics.auth: none), on {settings.server.host}"
            )
    forward = settings.logs.forward
    if forward.enabled and not is_loopback(forward.host):
        public += [f"{door}, on {forward.host}" for door in forward_doors(settings)]
    warnings = [f"WARNING: open to the network: {door}." for door in explicit]
    if not public:
        return warnings
    if settings.server.public_without_keys:
        return [f"WARNING: open to the network: {door}." for door in public] + warnings
    raise ExposureError(
        "Refusing to listen beyond this machine with doors open to anyone:\n"
        + "".join(f"  - {door}\n" for door in public)
        + "Close them ("
        + "; ".join(_remedies(public))
        + "), or listen on 127.0.0.1 behind a reverse proxy. To serve them openly anyway, set "
        "server.public_without_keys: true."
    )


REMEDIES = (  # (what a door sentence says, how to close it)
    ("write_auth: none", "give the site write_auth: key and write_keys"),
    ("public_tock: true", "set the site's public_tock: false"),
    ("Allezon", "set allezon.enabled: false"),
    ("forward listener", "set logs.forward.shared_key"),
)


def _remedies(doors: list[str]) -> list[str]:
    return [fix for mark, fix in REMEDIES if any(mark in door for door in doors)]
