"""What every screen poll reports besides the data: when the last good poll was, whether the
data source is in trouble (assets/nps_tv.js shows it); plus the page timings (screen poll
interval, nightly reload)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from app.config import Settings
from app.health import health_problems

if TYPE_CHECKING:
    from app.services import Services

# The poller keeps the failing exception's class name; anything else is not shown.
ERROR_CLASS_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,79}")


def build_status(services: Services) -> dict:
    """The small status every poll returns: when the last good poll was, how long ago, and
    ``trouble`` when the store is in trouble: the last poll failed, or writes keep failing, or
    no poll has succeeded for a while (with the error's class, never its text).

    The page keeps the last good data on screen and shows a notice while ``trouble`` is set.
    """
    poller = services.poller
    # A failed poll shows at once; failed writes and a stale snapshot as /health counts them.
    error = poller.last_error or health_problems(services)[1]
    trouble = {"trouble": error is not None, "error": _error_class(error)}
    last = poller.last_success
    if last is None:
        return {"ok": None, "age": None, "hhmm": None, **trouble}
    age = (datetime.now(UTC) - last).total_seconds()
    return {"ok": round(last.timestamp(), 3), "age": round(age, 2),
            "hhmm": format_hhmm(last, services.settings.timezone), **trouble}


def _error_class(error: str | None) -> str | None:
    if error is None:
        return None
    return error if ERROR_CLASS_RE.fullmatch(error) else "Error"


@lru_cache(maxsize=64)
def format_hhmm(moment: datetime, tz: str) -> str:
    """hh:mm of an instant in a time zone."""
    return moment.astimezone(ZoneInfo(tz)).strftime("%H:%M")


def screen_poll_ms(settings: Settings) -> int:
    """How often a screen asks: at most every second, so a new response shows within the
    server's poll interval plus one second (an unchanged answer costs microseconds)."""
    return int(min(settings.poll_seconds, 1.0) * 1000)


# An asking wall's full poll, whatever its asks say: this long after its last poll, and a
# random part of half this more (assets/nps_ask.js), so screens do not poll together.
SAFETY_NET_SECONDS = 30.0


def ask_seconds(settings: Settings, low_power: bool = False) -> float:
    """How often a wall screen asks whether its data changed (app/ask.py):
    ``NPS_TV_ASK_SECONDS``, or the poll interval when shorter (a change cannot show sooner
    than the poller reads it); a low-power screen ``NPS_TV_LOW_POWER_ASK_FACTOR`` times less
    often."""
    return min(settings.ask_seconds, settings.poll_seconds) * ask_factor(settings, low_power)


def ask_factor(settings: Settings, low_power: bool) -> float:
    """How many times less often a screen asks the server: NPS_TV_LOW_POWER_ASK_FACTOR on a
    low-power screen, else 1 (the one place both the poll and a cheaper ask read it)."""
    return settings.low_power_ask_factor if low_power else 1.0


def low_power(settings: Settings, screen_power: str | None) -> bool:
    """Whether a screen runs in low power: its ``?power=`` when given, else
    NPS_TV_WALL_POWER."""
    return (screen_power or settings.wall_power) == "low"


def reload_offset_seconds(screen_id: str, spread: float) -> float:
    """The stable share of a reload window ``spread`` seconds long that one screen waits:
    FNV-1a of its id, mixed (murmur3's finaliser) and scaled into [0, spread). Mirrors
    ``reloadOffset`` in assets/nps_tv.js (the browser keeps the id in localStorage), so a
    fleet's reloads spread evenly over the window."""
    value = 0x811C9DC5
    for byte in screen_id.encode("utf-8"):
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    for shift, factor in ((16, 0x85EBCA6B), (13, 0xC2B2AE35)):
        value = ((value ^ (value >> shift)) * factor) & 0xFFFFFFFF
    value ^= value >> 16
    return value / 2**32 * max(spread, 0.0)


def next_reload_at(hhmm: str, tz: str, now: datetime | None = None) -> int | None:
    """Epoch milliseconds of the next local ``hh:mm`` (at least a minute away); None if off."""
    try:
        hour, minute = (int(x) for x in hhmm.strip().split(":"))
        at = time(hour, minute)
    except ValueError:
        return None
    zone = ZoneInfo(tz)
    now = (now or datetime.now(UTC)).astimezone(zone)
    candidate = datetime.combine(now.date(), at, zone)
    if candidate <= now + timedelta(minutes=1):
        candidate = datetime.combine(now.date() + timedelta(days=1), at, zone)
    return int(candidate.timestamp() * 1000)
