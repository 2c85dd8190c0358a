"""The one vocabulary of time windows: what a screen, the API and the settings may ask for.

- ``Nd``: the last N days, today included (``1d`` is today, ``30d`` today and the 29 before);
- ``all``: all time, the span of the data;
- ``range``: from/to dates, given as their own parameters (never typed as a window).

Every reader of a window string goes through here, so one input is refused the same way,
with the same message, everywhere.
"""

from __future__ import annotations

import functools
import re
from datetime import date

ALL = "all"
RANGE = "range"
MAX_DAYS = 9999  # 27 years; the plausible time range is shorter anyway
# ASCII digits only: int() would read "٣٠" or "３０" as 30.
DAYS_RE = re.compile(r"([0-9]+)d", re.ASCII)  # whole string: fullmatch, so no "30d\n"
SHOWN_CHARS = 40  # of a refused value, quoted in the error


class WindowError(ValueError):
    """A window that is not in the vocabulary; the message names the field and the reason."""


def parse_window(raw: str, field: str = "window") -> str:
    """The window ``raw`` names, trimmed and lower-cased: ``Nd`` or ``all``.

    ``range`` is not accepted here: it is what from/to make, not something to type.
    """
    window = raw.strip().lower() if isinstance(raw, str) else raw
    if window == ALL:
        return ALL
    match = DAYS_RE.fullmatch(window) if isinstance(window, str) else None
    if match is None:
        raise WindowError(f"{field}: must be like 30d, 90d or all, got {_shown(raw)}")
    digits = match.group(1).lstrip("0")
    if not digits:
        raise WindowError(f"{field}: must be at least 1d")
    # Compare lengths first: int() of thousands of digits is slow, and refused past 4300.
    if len(digits) > len(str(MAX_DAYS)) or int(digits) > MAX_DAYS:
        raise WindowError(f"{field}: must be at most {MAX_DAYS}d, got {_shown(raw)}")
    return f"{digits}d"


def days_window(days: int) -> str:
    """The window of the last ``days`` days (``30`` -> ``"30d"``); parsed where it is used."""
    return f"{days}d"


def window_days(window: str) -> int | None:
    """How many days an ``Nd`` window spans; None for ``all`` and ``range``."""
    if window in (ALL, RANGE):
        return None
    return _days(window)


@functools.lru_cache(maxsize=256)
def _days(window: str) -> int:
    """``window_days`` of an ``Nd`` window, parsed once (a view's panels ask it dozens of times:
    labels, captions); a refused window raises each time (errors are not cached)."""
    return int(parse_window(window)[:-1])


def window_label(window: str, start: date | None = None, end: date | None = None) -> str:
    """The window in running text: "last 30 days", "all time", "2026-01-01 to 2026-01-31"."""
    if window == RANGE:
        return f"{_day(start, 'start')} to {_day(end, 'today')}"
    days = window_days(window)
    return "all time" if days is None else f"last {days} days"


def window_title(window: str, start: date | None = None, end: date | None = None) -> str:
    """The window as a title: "Last 30 days", "Today", "All time", "2026-01-01 to today"."""
    if window == RANGE:
        return window_label(window, start, end)
    days = window_days(window)
    if days is None:
        return "All time"
    return "Today" if days == 1 else f"Last {days} days"


def describe_previous_window(window: str) -> str:
    """How the period a window is compared with is named: "vs previous 30 days"."""
    if window == RANGE:
        return "vs previous period"
    days = window_days(window)
    if days is None:
        return "no earlier period to compare"
    return "vs previous day" if days == 1 else f"vs previous {days} days"


def _shown(raw: object) -> str:
    """``raw`` as an error message quotes it: repr, cut so a hostile value stays short."""
    text = repr(raw)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 1] + "…"


def _day(value: date | None, missing: str) -> str:
    return value.isoformat() if value else missing
