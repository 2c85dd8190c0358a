"""The size-bounded cache of views, and the step that carries a view over to the next
snapshot when the change did not touch what it filters (issue 13, item 3).

A new response touches one segment combination. A screen whose filters leave that
combination out shows the same counts, trend, topics and "what changed" as before; only the
snapshot's version, the rest of the responses (the score against the rest), the newest
comments (a global list) and the gong's response can differ. Such a view is the previous
one with those few fields computed again (``carry_over``), instead of every sum again.
Which combinations a change touched is found once per snapshot, when the poller publishes it
(``Snapshot.touched``), from its arrays against the previous snapshot's, so anything that
moves a count (a new row, an edit, a re-tag, a row coming into range) is seen, whatever
caused it; the old arrays are not kept.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from app import metrics
from app.changes import DEFAULT_MINIMUMS, Minimums
from app.rollup import Snapshot
from app.views import (
    View,
    ViewRequest,
    ViewSums,
    build_view,
    combo_mask,
    compute_sums,
    epoch_day,
    rest_of,
    shown_comments,
    today_in,
    window_bounds,
)

# What the kept trend inputs (a label and two count lists a period, and every point, the ones
# before the window too) hold per point: 500-870 bytes measured with tracemalloc on the demo's
# 7d, 30d, 90d and all-time views, rounded up.
TREND_BYTES = 900
# What a view's part stamps (``View.stamps``: each part's needs and fingerprint) hold for one
# screen's data key: 8.9-9.1 KB measured with tracemalloc on the demo's 30d, 90d+segment and
# all-time walls, rounded up (a view shown under several data keys, e.g. both themes, holds
# this once per key), the long needs' item hashes (8 bytes an item, ``parts.stamp``), and
# the other needs' text, kept so a need that is the same object is not written out again:
# 4.1 KB median, 5.2 KB at most, over 60 of the demo's distinct walls (sys.getsizeof).
STAMP_BYTES = 16_000


def estimate_view_bytes(view: View) -> int:
    """A rough upper estimate of the memory a cached view holds on its own.

    Comments are shared with the snapshot, so only their references count; the request
    counts whole, since a long segment filter list lives in the cache key too.
    """
    request = sum(len(name) + sum(len(v) + 60 for v in values)
                  for name, values in view.request.segments)
    # Per-item weights measured with tracemalloc on real views (rounded up).
    return (6_000 + 2 * request + 1_200 * len(view.trend) + 800 * len(view.topics)
            + 600 * len(view.changes) + 16 * (len(view.comments) + len(view.events)))


def touched_combos(before: Snapshot, after: Snapshot) -> np.ndarray | None:
    """Which of ``after``'s combinations have any count (scores, topics, tones) other than in
    ``before``: a bool per combination; None when the two cannot be compared that way (the
    day axis, the topics or the events moved: every view is computed again)."""
    if (before.day0 != after.day0 or before.days != after.days
            or before.topic_names != after.topic_names or before.events != after.events
            or (before.tone_counts is None) != (after.tone_counts is None)):
        return None
    old = len(before.combos)
    if len(after.combos) < old or after.combos[:old] != before.combos:
        return None
    touched = np.ones(len(after.combos), dtype=bool)  # combinations new since: touched
    moved = (after.counts[:old] != before.counts).any(axis=(1, 2))
    moved |= (after.topic_counts[:old] != before.topic_counts).any(axis=(1, 2, 3))
    if after.tone_counts is not None:
        moved |= (after.tone_counts[:old] != before.tone_counts).any(axis=(1, 2, 3))
    touched[:old] = moved
    return touched


# A change touching more combinations than this (an import, a re-tag) gives no delta: every
# touched view sums its counts again, which costs about what adding that many would.
DELTA_COMBOS = 16


@dataclass(frozen=True)
class CountDelta:
    """What moved between snapshot ``base`` and the next one, in the combinations it touched
    and on the days it touched: the new counts minus the old (an edit or an exclusion takes
    away as much as it adds), so a touched view adds it to its sums (``advance``)."""

    base: int  # the version the delta starts from
    combos: np.ndarray  # (k,) indices of the touched combinations
    days: np.ndarray  # (d,) indices on the day axis where any count moved
    counts: np.ndarray  # (k, d, 3) int64
    topic_counts: np.ndarray  # (k, d, topics, 3) int64
    tone_counts: np.ndarray | None  # (k, d, topics, 3) int64


def count_delta(before: Snapshot, after: Snapshot, touched: np.ndarray | None
                ) -> CountDelta | None:
    """``after``'s counts minus ``before``'s where ``touched`` says they moved; None when the
    two are not comparable, the change added combinations or touched too many."""
    if touched is None or len(after.combos) != len(before.combos):
        return None
    combos = np.flatnonzero(touched)
    if len(combos) > DELTA_COMBOS:
        return None

    def moved(new: np.ndarray, old: np.ndarray) -> np.ndarray:
        return new[combos].astype(np.int64) - old[combos]

    counts = moved(after.counts, before.counts)
    topics = moved(after.topic_counts, before.topic_counts)
    tones = None if after.tone_counts is None else moved(after.tone_counts, before.tone_counts)
    hit = counts.any(axis=(0, 2)) | topics.any(axis=(0, 2, 3))
    if tones is not None:
        hit |= tones.any(axis=(0, 2, 3))
    days = np.flatnonzero(hit)
    return CountDelta(before.version, combos, days, counts[:, days], topics[:, days],
                      None if tones is None else tones[:, days])


def advance(sums: ViewSums, snapshot: Snapshot, request: ViewRequest, mask: np.ndarray,
            today: date) -> ViewSums | None:
    """The sums of the previous snapshot's view of ``request`` plus ``snapshot.delta``: the
    same arrays ``compute_sums`` would give, at the cost of the moved counts; None when
    they cannot be advanced (no delta, or the window's days moved with the data)."""
    delta = snapshot.delta
    if (not isinstance(delta, CountDelta) or delta.base != snapshot.version - 1
            or len(sums.per_day) != snapshot.days or len(mask) != len(snapshot.combos)):
        return None
    hit = mask[delta.combos]
    combos, days = delta.combos[hit], delta.days
    per_day = sums.per_day.copy()
    per_day[days] += delta.counts[hit].sum(axis=0, dtype=np.int64)
    start, end = window_bounds(snapshot, request, today, per_day)
    if (start, end) != sums.bounds[:2]:  # all time or an open range moved with its data
        return None
    topics, tones, segments = sums.topics.copy(), sums.tones.copy(), sums.segments.copy()
    where = np.searchsorted(sums.kept, combos)  # their rows among the kept combinations
    for w, (first, last) in enumerate((sums.bounds[:2], sums.bounds[2:])):
        inside = ((days >= epoch_day(first) - snapshot.day0)
                  & (days <= epoch_day(last) - snapshot.day0))
        if not inside.any():
            continue
        topics[w] += delta.topic_counts[hit][:, inside].sum(axis=(0, 1), dtype=np.int64)
        segments[w, where] += delta.counts[hit][:, inside].sum(axis=1, dtype=np.int64)
        if w == 0 and delta.tone_counts is not None:
            tones += delta.tone_counts[hit][:, inside].sum(axis=(0, 1), dtype=np.int64)
    return dataclasses.replace(sums, per_day=per_day, topics=topics, tones=tones,
                               segments=segments)


def carry_over(view: View, snapshot: Snapshot, tz: str, min_sample: int,
               mask: np.ndarray | None = None) -> View:
    """``view`` (of the previous snapshot) in ``snapshot``, which changed none of the
    combinations its filters keep: the same sums, with the fields that read beyond them
    (the rest, the newest comments, the gong's response) taken again."""
    request = view.request
    counts = np.array(view.current.counts, dtype=np.int64)
    rest = rest_of(snapshot, request, counts, (view.start, view.end), min_sample)
    first = datetime.combine(view.start, datetime.min.time(), ZoneInfo(tz))
    last = datetime.combine(view.end + timedelta(days=1), datetime.min.time(), ZoneInfo(tz))
    comments, latest = shown_comments(snapshot, request, (first, last), mask)
    return dataclasses.replace(
        view, version=snapshot.version, as_of=snapshot.as_of, comments=comments,
        latest=latest, rest=rest,
        versus_rest=metrics.compare_scores(view.current, rest) if rest is not None else None)


class ViewCache:
    """An LRU of views keyed by (snapshot version, request, today), bounded by size; a view
    the newest change left alone is carried over from the one before (``carry_over``)."""

    def __init__(self, max_bytes: int = 16 * 2**20):
        self.max_bytes = max_bytes
        self.bytes = 0
        self.built = self.carried = self.advanced = 0  # advanced: built from the delta
        # key -> (view, its estimated bytes, the trend's inputs and points by min sample and
        # granularity: a touched view of the next snapshot computes only the trend points
        # from the first period the change reached, ``views._build_trend``; its sums, which
        # the next snapshot's view advances by the change, ``advance``; its combination mask,
        # which the next snapshot's view keeps when the combinations did not change)
        self._items: OrderedDict[tuple, tuple[View, int, dict, ViewSums, np.ndarray]] = \
            OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, snapshot: Snapshot, request: ViewRequest, *, min_sample: int, tz: str,
            goal: float | None = None, now: datetime | None = None,
            minimums: Minimums = DEFAULT_MINIMUMS) -> View:
        """The cached view, carried over, advanced or computed on a miss."""
        today = today_in(tz, now)
        key = (snapshot.version, request, today)
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
                return item[0]
            previous, touched, trends, sums, mask = self._previous(snapshot, request, today)
        if mask is None or touched is None or len(mask) != len(snapshot.combos):
            mask = combo_mask(snapshot, request)  # else the same combinations (touched_combos)
        if (previous is not None and touched is not None and previous.goal == goal
                and previous.minimums == minimums
                and previous.current.min_sample == min_sample
                and not (touched & mask).any()):
            view = carry_over(previous, snapshot, tz, min_sample, mask)
            self.carried += 1  # its trend and sums are the previous one's
        else:
            sums = advance(sums, snapshot, request, mask, today) if sums is not None else None
            self.advanced += sums is not None
            if sums is None:
                sums = compute_sums(snapshot, request, mask, today)
            view = build_view(snapshot, request, min_sample=min_sample, tz=tz, goal=goal,
                              now=now, minimums=minimums, trends=trends, sums=sums,
                              mask=mask)
            if previous is not None:  # parts whose needs did not move keep their stamps
                view.stamps.update(previous.stamps)
            self.built += 1
        size = estimate_view_bytes(view) + STAMP_BYTES + sums.nbytes + mask.nbytes
        size += TREND_BYTES * sum(len(kept[3]) for by_granularity in trends.values()
                                  for kept in by_granularity.values())
        with self._lock:
            old = self._items.pop(key, None)
            self.bytes -= old[1] if old else 0
            self._items[key] = (view, size, trends, sums, mask)
            self.bytes += size
            while self.bytes > self.max_bytes and self._items:
                self.bytes -= self._items.popitem(last=False)[1][1]
        return view

    def _previous(self, snapshot: Snapshot, request: ViewRequest, today
                  ) -> tuple[View | None, np.ndarray | None, dict, ViewSums | None,
                             np.ndarray | None]:
        """(the request's cached view of the snapshot before ``snapshot``, the combinations
        touched between them, a copy of that view's trend inputs to start from, its sums, its
        combination mask); Nones and {} when that view is not cached. Under the lock."""
        found = self._items.get((snapshot.version - 1, request, today))
        if found is None:
            return None, None, {}, None, None
        return (found[0], snapshot.touched, {k: dict(v) for k, v in found[2].items()},
                found[3], found[4])
