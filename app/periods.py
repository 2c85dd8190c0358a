"""A view's periods: the days as the snapshot counts them, the periods (days, weeks, months)
of a window, and the trend's periods, found once per window (``trend_frame``)."""

from __future__ import annotations

import functools
from datetime import date, timedelta

import numpy as np

from app import metrics

EPOCH = date(1970, 1, 1)


def epoch_day(d: date) -> int:
    """Days from 1970-01-01 to ``d`` (the snapshot's day axis counts from ``day0`` in these)."""
    return (d - EPOCH).days


def period_starts(start: date, end: date, granularity: str) -> list[date]:
    """The first day of each period (day, week from Monday, month) from ``start``'s to
    ``end``'s."""
    if granularity == "day":
        return [start + timedelta(days=i) for i in range((end - start).days + 1)]
    if granularity == "week":
        first = start - timedelta(days=start.weekday())
        return [first + timedelta(weeks=i) for i in range((end - first).days // 7 + 1)]
    starts, d = [], date(start.year, start.month, 1)
    while d <= end:
        starts.append(d)
        d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return starts


def periods_before(start: date, granularity: str, count: int) -> date:
    """The first day of the period ``count`` periods before the one holding ``start``."""
    if granularity == "day":
        return start - timedelta(days=count)
    if granularity == "week":
        return start - timedelta(days=start.weekday(), weeks=count)
    months = start.year * 12 + start.month - 1 - count
    return date(months // 12, months % 12 + 1, 1)


@functools.lru_cache(maxsize=256)  # ~10 KB each at most (100 periods): ~2.5 MB when full
def trend_frame(start: date, end: date, granularity: str, day0: int, days: int
                ) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray, int]:
    """The trend's periods for a window: (their labels, where each period's counts start in
    the running totals, where its shown counts start (the period holding the window's first
    day shows only its days in the window), where each ends, how many periods lead the
    window). The same for every change of a day; shared, so none of it can be changed (a
    tuple, read-only arrays)."""
    # The rolling line starts with the periods before the window, so its first points are
    # as steady as the rest instead of resting on a single day.
    lead = metrics.ROLLING_PERIODS[granularity] - 1
    starts = period_starts(periods_before(start, granularity, lead), end, granularity)
    bounds = starts[1:] + [end + timedelta(days=1)]

    def row(day: date) -> int:  # the running totals' row of a day, within the data's days
        return min(max(epoch_day(day) - day0, 0), days)

    lo_whole = np.array([row(s) for s in starts], dtype=np.intp)
    lo_shown = np.array([row(start) if s < start < b else row(s)
                         for s, b in zip(starts, bounds, strict=True)], dtype=np.intp)
    hi = np.maximum(np.array([row(b) for b in bounds], dtype=np.intp), lo_whole)
    for array in (lo_whole, lo_shown, hi):
        array.flags.writeable = False
    first_in_window = sum(1 for b in bounds if b <= start)
    return tuple(s.isoformat() for s in starts), lo_whole, lo_shown, hi, first_in_window
