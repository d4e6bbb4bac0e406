"""User agents as documents store them: the header cut to size, what it says, and whether
a machine sent it."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

import ua_parser

UA_MAX_CHARS = 512
Device = Literal["desktop", "mobile", "tablet", "bot", "other"]

# "bot" alone would flag Cubot phones.
_BOT = re.compile(
    r"(?<!cu)bot|crawl|spider|slurp|curl/|wget|python-requests|python-urllib|aiohttp|httpx"
    r"|go-http-client|okhttp|java/|libwww|scrapy|headless|phantomjs|selenium|puppeteer"
    r"|playwright|lighthouse|pingdom|uptime|statuscake|monitor|nagios|zabbix|check_http",
    re.IGNORECASE,
)
_OTHER_DEVICE = re.compile(r"smart-?tv|\btv\b|playstation|xbox|nintendo|crkey|roku", re.IGNORECASE)
_TABLET = re.compile(r"ipad|tablet|kindle|silk/|playbook", re.IGNORECASE)
_DESKTOP = re.compile(r"windows nt|macintosh|x11|\bcros\b", re.IGNORECASE)
_MOBILE_OS = frozenset(
    {"iOS", "Android", "Windows Phone", "Windows Mobile", "BlackBerry OS", "KaiOS", "Firefox OS"}
)


@dataclass(frozen=True)
class UserAgent:
    original: str
    name: str | None
    version: str | None
    os: str | None
    os_version: str | None
    device: Device
    bot: bool

    def as_field(self) -> dict[str, str]:
        known = {
            "original": self.original,
            "name": self.name,
            "version": self.version,
            "os": self.os,
            "os_version": self.os_version,
            "device": self.device,
        }
        return {key: value for key, value in known.items() if value is not None}


def user_agent_text(raw: str | None) -> str | None:
    """The header as stored and parsed: ``None`` when blank, else cut to ``UA_MAX_CHARS``.

    Cutting before parsing also bounds the cache: the key is never an 8 KB header.
    """
    if raw is None or not raw.strip():
        return None
    return raw[:UA_MAX_CHARS]


@functools.lru_cache(maxsize=4096)
def parse_user_agent(agent: str) -> UserAgent:
    """Cached because parsing costs ~2 ms and a site's traffic repeats a few hundred agents."""
    result = ua_parser.parse(agent)
    defaults = result.with_defaults()  # "Other" and no versions where the parser knew nothing
    browser, system = defaults.user_agent, defaults.os
    bot = _is_bot(result, agent)
    return UserAgent(
        original=agent,
        name=_known(browser.family),
        version=_version(browser.major, browser.minor, browser.patch, browser.patch_minor),
        os=_known(system.family),
        os_version=_version(system.major, system.minor, system.patch, system.patch_minor),
        device="bot" if bot else _device(result, agent),
        bot=bot,
    )


def _is_bot(result: ua_parser.Result, agent: str) -> bool:
    spider = result.device is not None and result.device.family == "Spider"
    return spider or _BOT.search(agent) is not None


def _device(result: ua_parser.Result, agent: str) -> Device:
    os_family = result.os.family if result.os else None
    brand = (result.device.brand if result.device else None) or ""
    if _OTHER_DEVICE.search(agent):
        return "other"
    if _TABLET.search(agent) or "Tablet" in brand:
        return "tablet"
    # Android tablets are told apart by the missing "Mobile" token (Google's own convention).
    if os_family == "Android" and "mobile" not in agent.lower():
        return "tablet"
    if os_family in _MOBILE_OS or "mobi" in agent.lower():
        return "mobile"
    if _DESKTOP.search(agent):
        return "desktop"
    return "other"


def _known(family: str) -> str | None:
    return None if family == "Other" else family


def _version(*parts: str | None) -> str | None:
    known: list[str] = []
    for part in parts:
        if part is None:
            break
        known.append(part)
    return ".".join(known) or None
