"""Filtered views of a snapshot: what one screen or one API call asks for.

A view is computed from the snapshot's numpy counts in memory (no SQL, no pandas) and
cached by (snapshot version, request, today), so many screens showing the same thing
cost one computation per poll.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from app import metrics
from app.changes import DEFAULT_MINIMUMS, Finding, Minimums, SegmentCounts, find_changes
from app.ingest.rules import TimeRange
from app.metrics import Change, ScoreSummary, TopicRow, TrendPoint
from app.periods import EPOCH, epoch_day, trend_frame
from app.rollup import Comment, Snapshot
from app.segments import split_values
from app.snapshot_sums import comment_combos, comment_times, every_per_day, micros, segment_values
from app.store.database import EventRow
from app.windows import ALL, RANGE, WindowError, parse_window, window_days, window_label


class RequestError(ValueError):
    """A view request that cannot be served; the message names the parameter and reason."""


@dataclass(frozen=True)
class ViewRequest:
    """What a screen asks for: a window and optional segment filters."""

    window: str = "30d"  # "<N>d", "all", or "range": the vocabulary of app/windows.py
    start: date | None = None  # with window="range"
    end: date | None = None
    segments: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def parse(cls, args: Mapping[str, str], segment_fields: tuple[str, ...],
              default_window: str, time_range: TimeRange | None = None,
              now: datetime | None = None) -> ViewRequest:
        """Build a request from query parameters; raise RequestError naming a bad one.

        from/to must lie in ``time_range`` (by default 2000-01-01 to tomorrow), the
        plausible range that every way in checks.
        """
        bounds = time_range or TimeRange()
        first, last = bounds.earliest.date(), bounds.latest(now).date()
        start, end = _parse_date(args, "from", first, last), _parse_date(args, "to", first, last)
        window = (args.get("window") or "").strip().lower()
        if start or end:
            if window and window != RANGE:
                raise RequestError("window: give either window or from/to, not both")
            if start and end and start > end:
                raise RequestError("from: must not be after to")
            window = RANGE
        else:
            try:
                window = parse_window(window or default_window)
            except WindowError as exc:
                raise RequestError(str(exc)) from None
        segments = []
        for name in segment_fields:
            values = tuple(sorted(set(split_values(args.get(name) or ""))))
            if values:
                segments.append((name, values))
        return cls(window=window, start=start, end=end, segments=tuple(segments))


def _parse_date(args: Mapping[str, str], name: str, first: date, last: date) -> date | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = date.fromisoformat(raw)  # refuses non-ASCII digits itself
    except ValueError:
        raise RequestError(f"{name}: must be a date like 2026-01-31, got {raw!r}") from None
    if not first <= value <= last:
        raise RequestError(f"{name}: must be between {first} and {last}, got {raw!r}")
    return value


@dataclass(frozen=True)
class View:
    """Everything the four panels and the summary endpoint show, for one request."""

    version: int
    as_of: datetime
    request: ViewRequest
    start: date
    end: date
    current: ScoreSummary
    previous: ScoreSummary | None
    delta: float | None
    change: Change | None  # the delta with its standard error and significance
    granularity: str
    trend: tuple[TrendPoint, ...]
    events: tuple[EventRow, ...]
    topics: tuple[TopicRow, ...]
    comments: tuple[Comment, ...]
    goal: float | None
    latest: Comment | None
    changes: tuple[Finding, ...] = ()  # "what changed": at most three significant changes
    minimums: Minimums = DEFAULT_MINIMUMS  # the counts a change needed to be told
    # With a segment filter: every other response of the window, and the filtered score
    # against it with its significance (None without a filter or with too few either side).
    rest: ScoreSummary | None = None
    versus_rest: Change | None = None
    # Per (data key, part): the part's needs and fingerprint last taken of this view, or of the
    # view it was carried over from (``app.view_cache.carry_over`` passes the dict on), so
    # ``app.parts.stamp`` sees the same objects again without writing them out to hash them.
    stamps: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def label(self) -> str:
        """The window in running text: "last 30 days", "all time", "2026-01-01 to …"."""
        return window_label(self.request.window, self.start, self.end)


def today_in(tz: str, now: datetime | None = None) -> date:
    """Today's date in the display time zone."""
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(tz)).date()


def _fromepoch_day(n: int) -> date:
    return EPOCH + timedelta(days=int(n))


def combo_mask(snapshot: Snapshot, request: ViewRequest) -> np.ndarray:
    """Which of the snapshot's segment combinations the request's filters keep."""
    mask = np.ones(len(snapshot.combos), dtype=bool)
    found = segment_values(snapshot)  # once per snapshot, not per screen
    for name, values in request.segments:
        rows = [found.row[key] for key in {(name, v) for v in values} if key in found.row]
        mask &= found.matrix[rows].any(axis=0)  # no row: no combination has the value
    return mask


def window_bounds(snapshot: Snapshot, request: ViewRequest, today: date,
                  per_day: np.ndarray) -> tuple[date, date]:
    """The window's first and last day (all time and open ranges: from ``per_day``'s data)."""
    if request.window == RANGE:
        last = request.end or today
        first = request.start or _first_day_with_data(snapshot.day0, per_day) or last
        return min(first, last), last
    days = window_days(request.window)
    if days is None:
        # All time is the span of the data, not up to today: a burst of answers years ago
        # would otherwise be one dot at the left of a month-by-month axis.
        first = _first_day_with_data(snapshot.day0, per_day)
        last = _last_day_with_data(snapshot.day0, per_day)
        return (first or today), (last or today)
    return today - timedelta(days=days - 1), today


def _first_day_with_data(day0: int, per_day: np.ndarray) -> date | None:
    """The first day with a counted response (of the filtered segments)."""
    nonzero = np.flatnonzero(per_day.sum(axis=1)) if len(per_day) else per_day
    return _fromepoch_day(day0 + nonzero[0]) if len(nonzero) else None


def _last_day_with_data(day0: int, per_day: np.ndarray) -> date | None:
    """The last day with a counted response (of the filtered segments)."""
    nonzero = np.flatnonzero(per_day.sum(axis=1)) if len(per_day) else per_day
    return _fromepoch_day(day0 + nonzero[-1]) if len(nonzero) else None


def _slice_sum(per_day: np.ndarray, day0: int, start: date, end: date) -> np.ndarray:
    """Sum of the rows of ``per_day`` (axis 0 = days from day0) between two dates, inclusive."""
    lo = max(epoch_day(start) - day0, 0)
    hi = min(epoch_day(end) - day0 + 1, per_day.shape[0])
    if hi <= lo:
        return np.zeros(per_day.shape[1:], dtype=np.int64)
    return per_day[lo:hi].sum(axis=0, dtype=np.int64)


@dataclass(frozen=True)
class ViewSums:
    """The additive counts a view is computed from, kept by the view cache so the next
    snapshot's view of the same request adds what moved (``view_cache.advance``: the work is
    in the new responses, not in every response the filter keeps). Do not modify."""

    per_day: np.ndarray  # (days, 3): the kept combinations' counts per day
    kept: np.ndarray  # the indices of the kept combinations, ascending
    bounds: tuple[date, date, date, date]  # the window's first and last day, the previous's
    topics: np.ndarray  # (2, topics, 3): mentions by category in the window, the previous
    tones: np.ndarray  # (topics, 3): the window's mentions by tone
    segments: np.ndarray  # (2, kept, 3): each kept combination in the window, the previous

    @property
    def nbytes(self) -> int:
        """The bytes its arrays hold."""
        return sum(a.nbytes for a in (self.per_day, self.kept, self.topics, self.tones,
                                      self.segments))


def previous_bounds(request: ViewRequest, start: date, end: date) -> tuple[date, date]:
    """The window before ``start``..``end``, as long; all time has none (the day before)."""
    if request.window == ALL:
        return start - timedelta(days=1), start - timedelta(days=1)
    p_end = start - timedelta(days=1)
    return p_end - timedelta(days=(end - start).days), p_end


def compute_sums(snapshot: Snapshot, request: ViewRequest, mask: np.ndarray,
                 today: date) -> ViewSums:
    """Every sum a view reads, from the snapshot's arrays (``mask``: ``combo_mask``)."""
    per_day = snapshot.counts[mask].sum(axis=0, dtype=np.int64) if snapshot.days \
        else np.zeros((0, 3), dtype=np.int64)
    start, end = window_bounds(snapshot, request, today, per_day)
    p_start, p_end = previous_bounds(request, start, end)
    topics = np.stack([_topic_sum(snapshot, mask, start, end),
                       _topic_sum(snapshot, mask, p_start, p_end)])
    tones = _tone_sum(snapshot, mask, start, end)
    segments = np.stack([_combo_sums(snapshot, mask, start, end),
                         _combo_sums(snapshot, mask, p_start, p_end)])
    return ViewSums(per_day, np.flatnonzero(mask), (start, end, p_start, p_end), topics,
                    tones, segments)


def build_view(snapshot: Snapshot, request: ViewRequest, *, min_sample: int, tz: str,
               goal: float | None = None, now: datetime | None = None,
               minimums: Minimums = DEFAULT_MINIMUMS, trends: dict | None = None,
               sums: ViewSums | None = None, mask: np.ndarray | None = None) -> View:
    """Compute the view of ``snapshot`` that ``request`` asks for; ``trends``, kept by the
    caller per request, lets the trend keep the points a change did not reach; ``sums``
    (``compute_sums``, or advanced from the previous snapshot's) saves summing them, and
    ``mask`` (``combo_mask``) finding them."""
    mask = combo_mask(snapshot, request) if mask is None else mask
    if sums is None:
        sums = compute_sums(snapshot, request, mask, today_in(tz, now))
    per_day = sums.per_day
    start, end, p_start, p_end = sums.bounds
    current_counts = _slice_sum(per_day, snapshot.day0, start, end)
    current = metrics.summarize(current_counts, min_sample)
    rest = rest_of(snapshot, request, current_counts, (start, end), min_sample)
    previous = None if request.window == ALL else metrics.summarize(
        _slice_sum(per_day, snapshot.day0, p_start, p_end), min_sample)

    granularity = metrics.choose_granularity((end - start).days + 1)
    trend = _build_trend(per_day, snapshot.day0, start, end, granularity, min_sample,
                         trends.setdefault(min_sample, {}) if trends is not None else None)

    topic_prev = sums.topics[1] if previous is not None else np.zeros_like(sums.topics[1])
    topics = metrics.build_topic_table(snapshot.topic_names, sums.topics[0].tolist(),
                                       topic_prev.tolist(), current, min_sample,
                                       sums.tones.tolist())

    first = datetime.combine(start, datetime.min.time(), ZoneInfo(tz))
    last = datetime.combine(end + timedelta(days=1), datetime.min.time(), ZoneInfo(tz))
    events = tuple(e for e in snapshot.events if first <= e.occurred_at < last)
    comments, latest = shown_comments(snapshot, request, (first, last), mask)
    segments = None
    if previous is not None:
        pinned = frozenset(name for name, values in request.segments if len(values) == 1)
        found = segment_values(snapshot)
        segments = SegmentCounts([snapshot.combos[i] for i in sums.kept.tolist()],
                                 sums.segments[0], sums.segments[1], pinned,
                                 (found.keys, found.matrix[:, sums.kept]))
    changes = find_changes(current, previous, topics, segments, request.window, minimums,
                           events)
    return View(
        version=snapshot.version, as_of=snapshot.as_of, request=request, start=start, end=end,
        current=current, previous=previous, delta=metrics.compute_delta(current, previous),
        change=metrics.compare_scores(current, previous), granularity=granularity, trend=trend,
        events=events, topics=topics, comments=comments, goal=goal, latest=latest,
        changes=changes, minimums=minimums, rest=rest,
        versus_rest=metrics.compare_scores(current, rest) if rest is not None else None)


def rest_of(snapshot: Snapshot, request: ViewRequest, counts: np.ndarray,
             window: tuple[date, date], min_sample: int) -> ScoreSummary | None:
    """The window's responses outside a segment filter ("the rest"); None without one."""
    if not request.segments or not snapshot.days:
        return None
    return metrics.summarize(_slice_sum(every_per_day(snapshot), snapshot.day0, *window)
                             - counts, min_sample)


def _topic_sum(snapshot: Snapshot, mask: np.ndarray, start: date, end: date) -> np.ndarray:
    """Each topic's (promoters, passives, detractors) mentions between two dates, inclusive.
    Days first (a view), then the combinations: only those days are copied, not the whole
    history of every kept combination (a fifth of a millisecond a view, on the demo)."""
    lo = max(epoch_day(start) - snapshot.day0, 0)
    hi = min(epoch_day(end) - snapshot.day0 + 1, snapshot.days)
    if hi <= lo:
        return np.zeros((len(snapshot.topic_names), 3), dtype=np.int64)
    return snapshot.topic_counts[:, lo:hi][mask].sum(axis=(0, 1), dtype=np.int64)


def _tone_sum(snapshot: Snapshot, mask: np.ndarray, start: date, end: date) -> np.ndarray:
    """Each topic's (positive, negative, neutral) mentions in the window: (topics, 3)."""
    lo = max(epoch_day(start) - snapshot.day0, 0)
    hi = min(epoch_day(end) - snapshot.day0 + 1, snapshot.days)
    if snapshot.tone_counts is None or hi <= lo:
        return np.zeros((len(snapshot.topic_names), 3), dtype=np.int64)
    # Days first (a view), then the combinations: only the window's days are copied.
    return snapshot.tone_counts[:, lo:hi][mask].sum(axis=(0, 1), dtype=np.int64)


def _build_trend(per_day: np.ndarray, day0: int, start: date, end: date, granularity: str,
                 min_sample: int, memo: dict | None = None) -> tuple[TrendPoint, ...]:
    """The trend points of the window, each rolling over the periods before it; ``memo``
    (by granularity) holds the last call's inputs and points for the same request, whose
    points up to the first changed period are kept (``metrics.build_trend_points``)."""
    labels, lo_whole, lo_shown, hi, first_in_window = trend_frame(
        start, end, granularity, day0, len(per_day))
    # Running totals: each period's sum is a difference of two rows, as _slice_sum's would be;
    # all periods at once (one by one, they were a third of a touched view's trend).
    running = np.zeros((len(per_day) + 1, 3), dtype=np.int64)
    np.cumsum(per_day, axis=0, dtype=np.int64, out=running[1:])
    whole = (running[hi] - running[lo_whole]).tolist()
    shown = (running[hi] - running[lo_shown]).tolist()
    points = metrics.build_trend_points(labels, shown, granularity, min_sample,
                                        rolling_counts=whole,
                                        known=memo.get(granularity) if memo is not None else None)
    if memo is not None:
        memo[granularity] = (labels, shown, whole, points)
    return points[first_in_window:]


def _combo_sums(snapshot: Snapshot, mask: np.ndarray, first: date, last: date) -> np.ndarray:
    """Each kept combination's counts between two dates, inclusive: (kept, 3)."""
    lo = max(epoch_day(first) - snapshot.day0, 0)
    hi = min(epoch_day(last) - snapshot.day0 + 1, snapshot.days)
    if hi <= lo:
        return np.zeros((int(mask.sum()), 3), dtype=np.int64)
    # Days first (a view), then the combinations: only the window's days are copied.
    return snapshot.counts[:, lo:hi][mask].sum(axis=1, dtype=np.int64)


def shown_comments(snapshot: Snapshot, request: ViewRequest, bounds: tuple[datetime, datetime],
                   mask: np.ndarray | None = None
                   ) -> tuple[tuple[Comment, ...], Comment | None]:
    """The snapshot's comments created within ``bounds`` that the request's filters keep
    (``mask``: its ``combo_mask``, when known), and the gong's newest response if kept."""
    times = comment_times(snapshot)
    inside = np.flatnonzero((times >= micros(bounds[0])) & (times < micros(bounds[1])))
    if request.segments and len(inside):
        # By each comment's combination (found once per snapshot), not its segments one by one.
        kept = combo_mask(snapshot, request) if mask is None else mask
        combos = comment_combos(snapshot)[inside]
        keep, known = np.zeros(len(combos), dtype=bool), combos >= 0
        keep[known] = kept[combos[known]]
        for j in np.flatnonzero(combos < 0).tolist():  # segments none of the combinations
            keep[j] = _matches(snapshot.comments[inside[j]].segments, request)
        inside = inside[keep]
    comments = tuple(snapshot.comments[i] for i in inside.tolist())
    latest = snapshot.latest if snapshot.latest and _matches(snapshot.latest.segments, request) \
        else None
    return comments, latest


def _matches(segments: Mapping[str, str], request: ViewRequest) -> bool:
    return all(segments.get(name) in values for name, values in request.segments)
