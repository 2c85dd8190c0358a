"""Pure NPS arithmetic: one definition for the wall, the API, exports and tests.

Conventions (docs/architecture.md): promoters score 9-10, passives 7-8, detractors 0-6;
NPS = %promoters - %detractors from raw counts; the displayed score is an integer rounded
half away from zero; the three displayed percentages sum to 100 (largest remainder);
the 95% margin is 1.96 * sqrt(100^2 * (p + d - (p - d)^2) / n). A change between two
NPS values is significant when |delta| > 1.96 * SE, SE = sqrt(Var1 + Var2) with that variance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

PROMOTER, PASSIVE, DETRACTOR = 0, 1, 2
CATEGORY_NAMES = ("promoter", "passive", "detractor")
PROMOTER_MIN, PASSIVE_MIN = 9, 7  # 9-10 promoters, 7-8 passives, 0-6 detractors
# Inclusive score range of each category, by name (API filters use it).
CATEGORY_RANGES = {"promoter": (PROMOTER_MIN, 10), "passive": (PASSIVE_MIN, PROMOTER_MIN - 1),
                   "detractor": (0, PASSIVE_MIN - 1)}
Z_95 = 1.96


def categorize(score: int) -> int:
    """The category index (PROMOTER, PASSIVE or DETRACTOR) of a 0-10 score."""
    if score >= PROMOTER_MIN:
        return PROMOTER
    if score >= PASSIVE_MIN:
        return PASSIVE
    return DETRACTOR


def round_half_away(value: float) -> int:
    """Round to the nearest integer, halves away from zero (72.5 -> 73, -72.5 -> -73)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def compute_nps(promoters: int, passives: int, detractors: int) -> float | None:
    """The exact NPS from counts, or None when there are no responses."""
    n = promoters + passives + detractors
    if n == 0:
        return None
    return 100.0 * (promoters - detractors) / n


def compute_variance(promoters: int, passives: int, detractors: int) -> float | None:
    """Sampling variance of the NPS, 100^2 * (p + d - (p - d)^2) / n; None without responses."""
    n = promoters + passives + detractors
    if n == 0:
        return None
    p, d = promoters / n, detractors / n
    return 100.0**2 * max(p + d - (p - d) ** 2, 0.0) / n


def compute_margin(promoters: int, passives: int, detractors: int) -> float | None:
    """Half-width of the 95% confidence interval of the NPS, in NPS points."""
    variance = compute_variance(promoters, passives, detractors)
    return None if variance is None else Z_95 * math.sqrt(variance)


def split_percentages(counts: Sequence[int]) -> tuple[int, ...]:
    """Integer percentages that sum to exactly 100 (largest-remainder method).

    Ties in the remainder go to the earlier category, so the result is deterministic.
    """
    n = sum(counts)
    if n == 0:
        return tuple(0 for _ in counts)
    # Integer arithmetic: float remainders would break ties by rounding noise.
    floors = [100 * c // n for c in counts]
    remainders = [100 * c % n for c in counts]
    missing = 100 - sum(floors)
    order = sorted(range(len(counts)), key=lambda i: (-remainders[i], i))
    for i in order[:missing]:
        floors[i] += 1
    return tuple(floors)


@dataclass(frozen=True)
class ScoreSummary:
    """Everything the wall and the API say about one set of responses."""

    promoters: int
    passives: int
    detractors: int
    min_sample: int

    @property
    def n(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def counts(self) -> tuple[int, int, int]:
        return (self.promoters, self.passives, self.detractors)

    # The properties below are read hundreds of times a view (the trend's points, "what
    # changed"): written out rather than through ``n``, ``counts`` and ``compute_nps``, with the
    # same arithmetic, so each is one call (issue 13, item 3).
    @property
    def enough(self) -> bool:
        """True when there are at least ``min_sample`` responses to show a score."""
        return self.promoters + self.passives + self.detractors >= max(self.min_sample, 1)

    @property
    def nps(self) -> float | None:
        n = self.promoters + self.passives + self.detractors  # as compute_nps
        return None if n == 0 else 100.0 * (self.promoters - self.detractors) / n

    @property
    def nps_display(self) -> int | None:
        nps = self.nps
        return None if nps is None else round_half_away(nps)

    @property
    def margin(self) -> float | None:
        return compute_margin(*self.counts)

    @property
    def percentages(self) -> tuple[int, ...]:
        return split_percentages(self.counts)

    def as_dict(self) -> dict:
        """The JSON shape used by the API."""
        pct = self.percentages
        return {
            "n": self.n,
            "enough_responses": self.enough,
            "min_sample": self.min_sample,
            "nps": self.nps_display if self.enough else None,
            "nps_exact": round(self.nps, 4) if self.nps is not None and self.enough else None,
            "margin_of_error": round(self.margin, 4)
            if self.margin is not None and self.enough else None,
            "promoters": {"count": self.promoters, "percent": pct[0]},
            "passives": {"count": self.passives, "percent": pct[1]},
            "detractors": {"count": self.detractors, "percent": pct[2]},
        }


def summarize(counts: Sequence[int], min_sample: int) -> ScoreSummary:
    """A ScoreSummary from (promoters, passives, detractors)."""
    p, s, d = counts  # unpacked, not through a generator: tens of thousands a change
    return ScoreSummary(int(p), int(s), int(d), min_sample)


def compute_delta(current: ScoreSummary, previous: ScoreSummary | None) -> float | None:
    """Exact NPS change against the previous window; None unless both have enough responses."""
    if previous is None or not current.enough or not previous.enough:
        return None
    return current.nps - previous.nps  # type: ignore[operator]


@dataclass(frozen=True)
class Change:
    """A change between two NPS values and whether it is beyond noise.

    ``se`` is the standard error of the difference, sqrt(Var1 + Var2); ``z`` is delta / se
    (None when se is 0: both sides unanimous); ``significant`` is |delta| > 1.96 * se.
    """

    delta: float
    se: float
    z: float | None
    significant: bool

    @property
    def noise(self) -> float:
        """The half-width of noise: a change smaller than this is not a change (1.96 * SE)."""
        return Z_95 * self.se

    def as_dict(self) -> dict:
        """The JSON shape used by the API."""
        return {"delta": round(self.delta, 4), "se": round(self.se, 4),
                "z": None if self.z is None else round(self.z, 4),
                "noise": round(self.noise, 4), "significant": self.significant}


def compare_scores(current: ScoreSummary, previous: ScoreSummary | None) -> Change | None:
    """The change from ``previous`` to ``current`` with its significance; None unless both
    have enough responses (the same rule as a shown score)."""
    delta = compute_delta(current, previous)
    if delta is None or previous is None:
        return None
    variance = (compute_variance(*current.counts) or 0.0) \
        + (compute_variance(*previous.counts) or 0.0)
    se = math.sqrt(variance)
    if se == 0.0:
        # Both sides unanimous: a difference is certain for these responses, none is none.
        return Change(delta, 0.0, None, delta != 0.0)
    return Change(delta, se, delta / se, abs(delta) > Z_95 * se)


def choose_granularity(days: int) -> str:
    """Trend period for a window of ``days``: day up to 45 days, week up to 200, else month."""
    if days <= 45:
        return "day"
    if days <= 200:
        return "week"
    return "month"


ROLLING_PERIODS = {"day": 7, "week": 4, "month": 3}


CONTROL_SIGMAS = 3.0  # Shewhart's limits: a point beyond them is a "special cause"


@dataclass(frozen=True)
class TrendPoint:
    """One period of the trend, with its trailing rolling score and margin band.

    ``limits`` are the control limits for this period's NPS: the NPS of the trailing periods
    before it that were not special themselves (the baseline) +- 3 standard errors of a period
    with this period's responses, with the baseline's shares. None when the period or the
    baseline is under the minimum.
    """

    start: str  # ISO date of the period's first day
    summary: ScoreSummary
    rolling: ScoreSummary
    limits: tuple[float, float] | None = None

    @property
    def special(self) -> bool:
        """True when the period's NPS lies outside its control limits (a special cause)."""
        if self.limits is None or self.summary.nps is None:
            return False
        return not self.limits[0] <= self.summary.nps <= self.limits[1]


def compute_control_limits(baseline: ScoreSummary, period: ScoreSummary
                           ) -> tuple[float, float] | None:
    """(low, high) control limits of a period's NPS around the baseline's NPS; None when
    either side is under the minimum sample."""
    if not baseline.enough or not period.enough:
        return None
    n = baseline.n
    p, d = baseline.promoters / n, baseline.detractors / n
    sigma = 100.0 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / period.n)
    centre = baseline.nps or 0.0
    return centre - CONTROL_SIGMAS * sigma, centre + CONTROL_SIGMAS * sigma


def build_trend_points(starts: Sequence[str], counts: Sequence[Sequence[int]],
                       granularity: str, min_sample: int,
                       rolling_counts: Sequence[Sequence[int]] | None = None,
                       known: tuple | None = None) -> tuple[TrendPoint, ...]:
    """Trend points from per-period counts, each with a trailing rolling sum of periods and
    control limits from the periods before it.

    ``rolling_counts`` (default ``counts``) feed the rolling sum: a period cut short by the
    window's start shows only its days in the window, but rolls over all of them.
    ``known``: (starts, counts, rolling counts, points) of an earlier call with the same
    granularity and minimum; its points are kept up to the first period whose inputs differ
    (a point reads only its own period and the ones before it), so a new response today
    computes only the last points.
    """
    k = ROLLING_PERIODS[granularity]
    source = counts if rolling_counts is None else rolling_counts
    points: list[TrendPoint] = list(known[3][:_same_prefix(known, starts, counts, source)]) \
        if known is not None else []
    for i, start in enumerate(starts[len(points):], start=len(points)):
        first = max(0, i - k + 1)
        rolling = [sum(c[j] for c in source[first: i + 1]) for j in range(3)]
        # The baseline leaves out earlier special causes: one outage day would otherwise pull
        # the centre down and make the ordinary days after it look special.
        usual = [source[m] for m in range(first, i) if not points[m].special]
        baseline = [sum(c[j] for c in usual) for j in range(3)]
        summary = summarize(counts[i], min_sample)
        limits = compute_control_limits(summarize(baseline, min_sample), summary)
        points.append(TrendPoint(start, summary, summarize(rolling, min_sample), limits))
    return tuple(points)


@dataclass(frozen=True)
class TopicRow:
    """One line of the topic table."""

    topic: str
    current: ScoreSummary
    previous: ScoreSummary
    impact: float  # NPS points this topic moves the overall score by
    detractor_share: float  # share of this topic's mentions that come from detractors
    # Mentions in the window by tone (app/tone.py): praise, complaint, neither; the rest of
    # ``mentions`` were stored before tones were read (tone unknown).
    positive: int = 0
    negative: int = 0
    neutral: int = 0

    @property
    def mentions(self) -> int:
        return self.current.n

    @property
    def toned(self) -> int:
        """Mentions whose tone is known."""
        return self.positive + self.negative + self.neutral

    @property
    def positive_share(self) -> float | None:
        """Share of the mentions of known tone that praise (None when none has a tone)."""
        return self.positive / self.toned if self.toned else None

    @property
    def negative_share(self) -> float | None:
        """Share of the mentions of known tone that complain (None when none has a tone)."""
        return self.negative / self.toned if self.toned else None

    @property
    def delta(self) -> float | None:
        return compute_delta(self.current, self.previous)

    @property
    def change(self) -> Change | None:
        """The topic's NPS change against the previous window, with its significance."""
        return compare_scores(self.current, self.previous)

    def as_dict(self) -> dict:
        """The JSON shape used by the API."""
        change = self.change
        return {
            "topic": self.topic,
            "mentions": self.mentions,
            "nps": self.current.nps_display if self.current.enough else None,
            "nps_exact": self.current.nps if self.current.enough else None,
            "delta": self.delta,
            "change": None if change is None else change.as_dict(),
            "detractor_share": self.detractor_share,
            "impact": self.impact,
            "positive": self.positive,
            "negative": self.negative,
            "neutral": self.neutral,
            "positive_share": self.positive_share,
            "negative_share": self.negative_share,
        }


def _same_prefix(known: tuple, starts: Sequence[str], counts: Sequence[Sequence[int]],
                 source: Sequence[Sequence[int]]) -> int:
    """How many leading periods have the same start, counts and rolling counts as ``known``."""
    k_starts, k_counts, k_source, _ = known
    # The longest equal prefix by halving, each step one comparison of slices in C, not a
    # step per period. Sequences of other kinds than last time (a tuple against a list)
    # compare unequal: fewer points kept, the same points made.
    lo, hi = 0, min(len(starts), len(k_starts))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if (starts[:mid] == k_starts[:mid] and counts[:mid] == k_counts[:mid]
                and source[:mid] == k_source[:mid]):
            lo = mid
        else:
            hi = mid - 1
    return lo


def build_topic_table(names: Sequence[str], current: Sequence[Sequence[int]],
                      previous: Sequence[Sequence[int]], overall: ScoreSummary,
                      min_sample: int,
                      tones: Sequence[Sequence[int]] | None = None) -> tuple[TopicRow, ...]:
    """Topic rows sorted by impact (largest pull on the score first), unmentioned ones dropped.

    ``tones`` holds each topic's (positive, negative, neutral) mentions in the window.

    Impact = share of all responses mentioning the topic x (topic NPS - overall NPS): how many
    points the score would move if the topic's responders scored like everyone else.
    """
    rows = []
    overall_nps = overall.nps or 0.0
    total = max(overall.n, 1)
    tones = tones if tones is not None else [(0, 0, 0)] * len(names)
    for name, cur, prev, tone in zip(names, current, previous, tones, strict=True):
        summary = summarize(cur, min_sample)
        if summary.n == 0:
            continue
        impact = (summary.n / total) * ((summary.nps or 0.0) - overall_nps)
        rows.append(TopicRow(name, summary, summarize(prev, min_sample), impact,
                             summary.detractors / summary.n, *(int(v) for v in tone)))
    rows.sort(key=lambda r: (-abs(r.impact), -r.mentions, r.topic))
    return tuple(rows)
