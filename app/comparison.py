"""Segment comparison: the score of every value of one segment field, side by side.

For a view (window and filters) and a field such as ``region``, each value gets its responses,
score, margin and change against the previous window (with the significance test of
``app.metrics``). The ranking is fair to small groups: values are ranked by the **lower bound
of their 95% interval**, so three enthusiastic answers do not top a table of hundreds, and
only values with at least ``min_rank`` responses are ranked at all (the rest are listed after
them, unranked). The interval is the NPS margin's, computed on shares smoothed by one
promoter and one detractor (p = (P + 1)/(n + 3), d = (D + 1)/(n + 3), over n + 3): the plain
margin is 0 for a unanimous group, which would put 30 promoters out of 30 above 1,000 answers
at NPS 90; smoothed, 30 of 30 has a lower bound near 78. Computed from the snapshot's
per-combination counts, like the views: no database.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from app import metrics
from app.metrics import Z_95, Change, ScoreSummary
from app.rollup import Snapshot
from app.segments import OTHER
from app.views import View, combo_mask, epoch_day
from app.windows import ALL

RANKED_BY = ("lower bound of the 95% interval of the score (shares smoothed by one promoter "
             "and one detractor, so a small unanimous group is not taken at its word)")


@dataclass(frozen=True)
class ComparisonRow:
    """One value of the field: its score now, before, the change and its rank (None when
    it has fewer responses than the ranking needs)."""

    value: str
    current: ScoreSummary
    previous: ScoreSummary | None
    change: Change | None
    rank: int | None

    @property
    def lower_bound(self) -> float | None:
        """The low end of the smoothed 95% interval of the score: what the ranking sorts by."""
        if not self.current.enough or self.current.nps is None:
            return None
        return smoothed_lower_bound(*self.current.counts)

    def as_dict(self) -> dict:
        """The JSON (and CSV) shape of a row."""
        current = self.current
        return {
            "value": self.value, "rank": self.rank, "n": current.n,
            "nps": current.nps_display if current.enough else None,
            "margin_of_error": round(current.margin, 4)
            if current.enough and current.margin is not None else None,
            "lower_bound": round(self.lower_bound, 4) if self.lower_bound is not None else None,
            "promoters": current.promoters, "passives": current.passives,
            "detractors": current.detractors,
            "previous_n": self.previous.n if self.previous is not None else None,
            "previous_nps": self.previous.nps_display
            if self.previous is not None and self.previous.enough else None,
            "change": self.change.as_dict() if self.change is not None else None,
        }


@dataclass(frozen=True)
class Comparison:
    """The table for one field of one view."""

    field: str
    rows: tuple[ComparisonRow, ...]
    min_rank: int
    ranked_by: str = RANKED_BY


def smoothed_lower_bound(promoters: int, passives: int, detractors: int) -> float:
    """NPS − 1.96·SE on shares smoothed by one promoter and one detractor (see the module)."""
    n = promoters + passives + detractors + 3
    p, d = (promoters + 1) / n, (detractors + 1) / n
    return 100.0 * ((p - d) - Z_95 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n))


def compare_segments(snapshot: Snapshot, view: View, field: str, min_sample: int,
                     min_rank: int) -> Comparison:
    """Every value of ``field`` within the view's filters: ranked rows first (best lower
    bound first), then the values too small to rank (most responses first)."""
    mask = combo_mask(snapshot, view.request)
    current = _sums(snapshot, mask, field, view.start, view.end)
    previous = None
    if view.request.window != ALL:
        length = (view.end - view.start).days + 1
        p_end = view.start - timedelta(days=1)
        previous = _sums(snapshot, mask, field, p_end - timedelta(days=length - 1), p_end)
    rows = []
    # A value with answers only in the previous window is listed too (n 0 now).
    for value in sorted(set(current) | set(previous or {})):
        now = metrics.summarize(current.get(value, (0, 0, 0)), min_sample)
        before = metrics.summarize(previous.get(value, (0, 0, 0)), min_sample) \
            if previous is not None else None
        rows.append(ComparisonRow(value, now, before, metrics.compare_scores(now, before), None))
    return Comparison(field, _ranked(rows, max(min_rank, min_sample)), max(min_rank, min_sample))


def _ranked(rows: Sequence[ComparisonRow], min_rank: int) -> tuple[ComparisonRow, ...]:
    # The bucket of values past the per-field cap is a mix, not a segment: listed, never ranked.
    rankable = [r for r in rows if r.current.n >= min_rank and r.lower_bound is not None
                and r.value != OTHER]
    rankable.sort(key=lambda r: (-(r.lower_bound or 0.0), -r.current.n, r.value))
    rest = [r for r in rows if r not in rankable]
    rest.sort(key=lambda r: (-r.current.n, r.value))
    ranked = [ComparisonRow(r.value, r.current, r.previous, r.change, i + 1)
              for i, r in enumerate(rankable)]
    return tuple(ranked + rest)


def _sums(snapshot: Snapshot, mask: np.ndarray, field: str, first, last
          ) -> dict[str, tuple[int, int, int]]:
    """(promoters, passives, detractors) per value of ``field`` between two dates."""
    lo = max(epoch_day(first) - snapshot.day0, 0)
    hi = min(epoch_day(last) - snapshot.day0 + 1, snapshot.days)
    sums: dict[str, list[int]] = {}
    if hi <= lo or not snapshot.days:
        return {}
    per_combo = snapshot.counts[:, lo:hi].sum(axis=1, dtype=np.int64).tolist()
    for combo, keep, counts in zip(snapshot.combos, mask, per_combo, strict=True):
        value = combo.get(field)
        if not keep or not value or not any(counts):
            continue
        entry = sums.setdefault(value, [0, 0, 0])
        for j in range(3):
            entry[j] += counts[j]
    return {value: (e[0], e[1], e[2]) for value, e in sums.items()}
