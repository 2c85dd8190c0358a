"""The NPS conventions of DESIGN.md, one function at a time."""

from __future__ import annotations

import math

import pytest

from app import metrics
from app.metrics import (
    DETRACTOR,
    PASSIVE,
    PROMOTER,
    categorize,
    compute_margin,
    compute_nps,
    round_half_away,
    split_percentages,
    summarize,
)


@pytest.mark.parametrize(
    ("score", "category"),
    [(0, DETRACTOR), (1, DETRACTOR), (6, DETRACTOR), (7, PASSIVE), (8, PASSIVE),
     (9, PROMOTER), (10, PROMOTER)],
)
def test_categorize_uses_promoter_9_10_passive_7_8_detractor_0_6(score, category):
    assert categorize(score) == category


@pytest.mark.parametrize(
    ("counts", "expected"),
    [((1, 0, 0), 100.0), ((0, 0, 1), -100.0), ((0, 3, 0), 0.0), ((5, 3, 2), 30.0),
     ((2, 1, 0), 200 / 3), ((0, 0, 0), None)],
)
def test_compute_nps_from_raw_counts(counts, expected):
    result = compute_nps(*counts)
    assert result == (None if expected is None else pytest.approx(expected))


@pytest.mark.parametrize(
    ("value", "expected"),
    [(72.5, 73), (-72.5, -73), (72.49, 72), (-72.49, -72), (0.5, 1), (-0.5, -1), (0.0, 0),
     (72.13, 72), (48.37, 48), (99.5, 100), (-99.5, -100)],
)
def test_round_half_away_from_zero(value, expected):
    assert round_half_away(value) == expected


def test_round_half_away_differs_from_bankers_rounding():
    # Python's round() gives 72 for 72.5; the display convention gives 73.
    assert round(72.5) == 72
    assert round_half_away(72.5) == 73


@pytest.mark.parametrize(
    ("counts", "expected"),
    [((1, 1, 1), (34, 33, 33)), ((2, 1, 0), (67, 33, 0)), ((1, 2, 4), (14, 29, 57)),
     ((0, 0, 0), (0, 0, 0)), ((7, 0, 0), (100, 0, 0)), ((1, 1, 4), (17, 17, 66))],
)
def test_split_percentages_sum_to_100_by_largest_remainder(counts, expected):
    result = split_percentages(counts)
    assert result == expected
    assert sum(result) in (0, 100)


@pytest.mark.parametrize("seed", range(50))
def test_split_percentages_always_sum_to_100(seed):
    import random

    rng = random.Random(seed)
    counts = [rng.randint(0, 1000) for _ in range(3)]
    if sum(counts) == 0:
        counts[0] = 1
    pct = split_percentages(counts)
    assert sum(pct) == 100
    for c, p in zip(counts, pct, strict=True):
        assert abs(p - 100 * c / sum(counts)) < 1


def test_margin_follows_the_design_formula():
    p, s, d = 50, 30, 20
    n = p + s + d
    pp, dd = p / n, d / n
    expected = 1.96 * math.sqrt(100**2 * (pp + dd - (pp - dd) ** 2) / n)
    assert compute_margin(p, s, d) == pytest.approx(expected)


def test_margin_is_zero_when_everyone_agrees_and_none_without_responses():
    assert compute_margin(10, 0, 0) == 0.0
    assert compute_margin(0, 0, 0) is None


def test_margin_shrinks_with_more_responses():
    assert compute_margin(500, 300, 200) < compute_margin(50, 30, 20)


@pytest.mark.parametrize(("n", "enough"), [(0, False), (4, False), (5, True), (6, True)])
def test_minimum_sample_hides_the_score(n, enough):
    summary = summarize((n, 0, 0), min_sample=5)
    assert summary.enough is enough
    body = summary.as_dict()
    assert body["n"] == n
    assert body["enough_responses"] is enough
    if enough:
        assert body["nps"] == 100
    else:
        assert body["nps"] is None and body["nps_exact"] is None
        assert body["margin_of_error"] is None


def test_summary_keeps_exact_and_displayed_score():
    summary = summarize((145, 30, 25), min_sample=5)  # NPS 60.0
    assert summary.nps == pytest.approx(60.0)
    assert summary.nps_display == 60
    odd = summarize((2, 0, 1), min_sample=1)  # 33.33
    assert odd.nps_display == 33
    assert odd.as_dict()["nps_exact"] == pytest.approx(33.3333, abs=1e-4)


def test_delta_needs_enough_responses_on_both_sides():
    cur = summarize((8, 1, 1), 5)
    assert metrics.compute_delta(cur, summarize((5, 0, 5), 5)) == pytest.approx(70.0)
    assert metrics.compute_delta(cur, summarize((1, 0, 1), 5)) is None
    assert metrics.compute_delta(cur, None) is None


@pytest.mark.parametrize(("days", "granularity"),
                         [(1, "day"), (30, "day"), (45, "day"), (46, "week"), (90, "week"),
                          (200, "week"), (201, "month"), (900, "month")])
def test_choose_granularity(days, granularity):
    assert metrics.choose_granularity(days) == granularity


def test_trend_points_roll_over_trailing_periods():
    counts = [(1, 0, 0), (0, 0, 1), (2, 0, 0), (0, 0, 0)]
    points = metrics.build_trend_points(["a", "b", "c", "d"], counts, "month", min_sample=1)
    assert [p.summary.n for p in points] == [1, 1, 2, 0]
    # month rolls over 3 periods: d's rolling window is b, c, d
    assert points[3].rolling.counts == (2, 0, 1)
    assert points[0].rolling.counts == (1, 0, 0)
    assert points[3].summary.enough is False


def test_topic_table_sorts_by_impact_and_drops_unmentioned():
    overall = summarize((60, 20, 20), 5)  # NPS 40
    rows = metrics.build_topic_table(
        ["Pricing", "Support", "Speed"],
        [(2, 2, 16), (9, 1, 0), (0, 0, 0)],
        [(5, 5, 5), (5, 0, 0), (0, 0, 0)],
        overall, 5)
    assert [r.topic for r in rows] == ["Pricing", "Support"]
    pricing = rows[0]
    assert pricing.mentions == 20
    assert pricing.current.nps == pytest.approx(-70.0)
    assert pricing.impact == pytest.approx(20 / 100 * (-70 - 40))
    assert pricing.detractor_share == pytest.approx(0.8)
    assert pricing.delta == pytest.approx(-70.0 - 0.0)
    assert rows[1].as_dict()["nps"] == 90
