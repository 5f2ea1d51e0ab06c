"""A person's name for the device behind a session, from its User-Agent."""

from __future__ import annotations

import re

# Order matters: Edge and Opera also say Chrome, Chrome also says Safari.
_BROWSERS = (
    (re.compile(r"Edg(?:e|A|iOS)?/"), "Edge"),
    (re.compile(r"OPR/|Opera"), "Opera"),
    (re.compile(r"Firefox/|FxiOS/"), "Firefox"),
    (re.compile(r"Chrome/|CriOS/|Chromium/"), "Chrome"),
    (re.compile(r"Safari/"), "Safari"),
    (re.compile(r"^curl/"), "curl"),
    (re.compile(r"python-httpx|python-requests|aiohttp|Python"), "Python"),
)
_SYSTEMS = (
    (re.compile(r"iPhone|iPad|iPod"), "iOS"),
    (re.compile(r"Android"), "Android"),
    (re.compile(r"CrOS"), "ChromeOS"),
    (re.compile(r"Mac OS X|Macintosh"), "macOS"),
    (re.compile(r"Windows"), "Windows"),
    (re.compile(r"Linux|X11"), "Linux"),
)


def describe(user_agent: str) -> str:
    """Return e.g. "Firefox on Windows", "curl" or "Unknown device"."""
    browser = next((name for pattern, name in _BROWSERS if pattern.search(user_agent)), None)
    system = next((name for pattern, name in _SYSTEMS if pattern.search(user_agent)), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or ("Unknown device" if not user_agent else "Other client")
