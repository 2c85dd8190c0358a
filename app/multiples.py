"""Small multiples beside the segment comparison: one small trend per value of the compared
field, from the snapshot like the table (no database).

Each multiple is the value's rolling score per trend period (the same periods and the same
trailing window as the trend panel's rolling line: 7 days, 4 weeks or 3 months), so a value
is read against its own past and against the overall line drawn faintly behind it (the view's
own rolling score). Only the values the table ranks best are drawn (``MULTIPLES_CAP``, in the
table's order: ranked by the lower bound first, then the unranked by size); every multiple
shares one y range, so two shapes can be compared by eye. A point whose rolling sum is under
the minimum sample is left out (a gap), never drawn as a confident dot, and a value with
fewer responses in the window than the ranking needs is marked ``thin`` (drawn grey and
labelled so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np

from app.comparison import Comparison
from app.metrics import ROLLING_PERIODS
from app.periods import period_starts, periods_before
from app.rollup import Snapshot
from app.views import View, combo_mask, epoch_day

MULTIPLES_CAP = 12
Y_STEP = 10  # the shared y range is padded out to multiples of this


@dataclass(frozen=True)
class Multiple:
    """One value's small trend: rolling scores per period (None under the minimum)."""

    value: str
    rank: int | None
    n: int  # responses in the window
    nps: int | None  # the window's displayed score (None under the minimum)
    thin: bool  # fewer responses than the ranking needs: drawn grey, labelled
    points: tuple[float | None, ...]


@dataclass(frozen=True)
class Multiples:
    """The small multiples of one comparison: shared periods, y range and overall line."""

    field: str
    granularity: str
    starts: tuple[str, ...]  # ISO first day of each period (the view's trend periods)
    overall: tuple[float | None, ...]  # the view's rolling score per period
    items: tuple[Multiple, ...]
    y_range: tuple[float, float]
    total: int  # values in the table; more than len(items) means some were left out

    @property
    def left_out(self) -> int:
        """How many of the table's values have no multiple."""
        return self.total - len(self.items)


def build_multiples(snapshot: Snapshot, view: View, table: Comparison, min_sample: int,
                    cap: int = MULTIPLES_CAP) -> Multiples:
    """The multiples of ``table`` (a ``compare_segments`` result for ``view``)."""
    rows = table.rows[:cap]
    granularity = view.granularity
    lead = ROLLING_PERIODS[granularity] - 1
    shown = len(view.trend)
    every = period_starts(periods_before(view.start, granularity, lead), view.end,
                           granularity)
    starts = every[-shown:] if shown else []
    overall = tuple(p.rolling.nps if p.rolling.enough else None for p in view.trend)
    counts = _value_period_counts(snapshot, view, table.field, [r.value for r in rows], every)
    rolling = _rolling(counts, ROLLING_PERIODS[granularity])[:, len(every) - shown:]
    items = tuple(
        Multiple(row.value, row.rank, row.current.n,
                 row.current.nps_display if row.current.enough else None,
                 row.current.n < table.min_rank,
                 _scores(rolling[i], min_sample))
        for i, row in enumerate(rows))
    return Multiples(table.field, granularity, tuple(s.isoformat() for s in starts), overall,
                     items, shared_range(items, overall), len(table.rows))


def _value_period_counts(snapshot: Snapshot, view: View, field: str, values: list[str],
                         starts: list[date]) -> np.ndarray:
    """(values, periods, 3) counts: each value's responses per period (whole periods, the
    last ending with the view), within the view's filters."""
    out = np.zeros((len(values), len(starts), 3), dtype=np.int64)
    if not values or not starts or not snapshot.days:
        return out
    index = {value: i for i, value in enumerate(values)}
    mask = combo_mask(snapshot, view.request)
    which = np.array([index.get(c.get(field), -1) if keep else -1
                      for c, keep in zip(snapshot.combos, mask, strict=True)], dtype=np.int64)
    picked = np.flatnonzero(which >= 0)
    first = epoch_day(starts[0]) - snapshot.day0
    last = epoch_day(view.end) - snapshot.day0 + 1
    lo, hi = min(max(first, 0), snapshot.days), min(max(last, 0), snapshot.days)
    if not len(picked) or hi <= lo:
        return out
    days = np.zeros((len(values), hi - lo, 3), dtype=np.int64)
    # Only the window's days of the picked combinations are read, then summed per value.
    np.add.at(days, which[picked], snapshot.counts[picked, lo:hi])
    cum = np.concatenate([np.zeros((len(values), 1, 3), dtype=np.int64),
                          np.cumsum(days, axis=1)], axis=1)
    edges = [epoch_day(s) - snapshot.day0 for s in starts] + [last]
    cut = np.clip(np.array(edges) - lo, 0, hi - lo)
    return cum[:, cut[1:]] - cum[:, cut[:-1]]


def _rolling(counts: np.ndarray, k: int) -> np.ndarray:
    """Trailing sums over ``k`` periods (fewer at the start), per value."""
    cum = np.concatenate([np.zeros_like(counts[:, :1]), np.cumsum(counts, axis=1)], axis=1)
    ends = np.arange(1, counts.shape[1] + 1)
    return cum[:, ends] - cum[:, np.maximum(ends - k, 0)]


def _scores(rolling: np.ndarray, min_sample: int) -> tuple[float | None, ...]:
    """NPS per period from (periods, 3) counts; None under the minimum sample."""
    result: list[float | None] = []
    for promoters, passives, detractors in rolling.tolist():
        n = promoters + passives + detractors
        result.append(100.0 * (promoters - detractors) / n if n and n >= min_sample else None)
    return tuple(result)


def shared_range(items: tuple[Multiple, ...], overall: tuple[float | None, ...]
                 ) -> tuple[float, float]:
    """One y range for every multiple: the lowest and highest score drawn (overall line
    included), padded out to the next multiple of ``Y_STEP``, within −100…+100."""
    drawn = [v for item in items for v in item.points if v is not None]
    drawn += [v for v in overall if v is not None]
    if not drawn:
        return (-100.0, 100.0)
    low = max(-100.0, Y_STEP * math.floor(min(drawn) / Y_STEP))
    high = min(100.0, Y_STEP * math.ceil(max(drawn) / Y_STEP))
    if high - low < 2 * Y_STEP:  # a flat line still gets some room above and below
        low, high = max(-100.0, low - Y_STEP), min(100.0, high + Y_STEP)
    return (low, high)
