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


# -- significance of a change: SE = sqrt(Var1 + Var2), Var = 100^2 (p + d - (p - d)^2) / n ----
# Every expected value below is worked by hand in the comment beside it.


def test_variance_by_hand():
    # p = 0.45, d = 0.19: 10,000 * (0.64 - 0.26^2) / 1000 = 10 * 0.5724 = 5.724
    assert metrics.compute_variance(450, 360, 190) == pytest.approx(5.724)
    assert metrics.compute_variance(0, 0, 0) is None
    assert metrics.compute_variance(7, 0, 0) == 0.0  # everyone agrees: no spread


def test_a_three_point_drop_over_a_thousand_is_noise():
    # 29 -> 26. Var1 = 10 * (0.65 - 0.29^2) = 5.659, Var2 = 5.724, SE = sqrt(11.383) = 3.3739,
    # z = -3 / 3.3739 = -0.889; 1.96 * SE = 6.61 > 3.
    change = metrics.compare_scores(summarize((450, 360, 190), 5), summarize((470, 350, 180), 5))
    assert change.delta == pytest.approx(-3.0)
    assert change.se == pytest.approx(3.3739, abs=1e-4)
    assert change.z == pytest.approx(-0.8892, abs=1e-4)
    assert change.noise == pytest.approx(6.6128, abs=1e-4)
    assert change.significant is False


def test_a_twenty_point_rise_over_a_thousand_is_real():
    # 10 -> 30. Var1 = 10 * (0.7 - 0.09) = 6.1, Var2 = 10 * (0.7 - 0.01) = 6.9,
    # SE = sqrt(13) = 3.6056, z = 20 / 3.6056 = 5.547.
    change = metrics.compare_scores(summarize((500, 300, 200), 5), summarize((400, 300, 300), 5))
    assert change.se == pytest.approx(math.sqrt(13))
    assert change.z == pytest.approx(5.547, abs=1e-3)
    assert change.significant is True
    assert change.as_dict() == {"delta": 20.0, "se": 3.6056, "z": 5.547, "noise": 7.0669,
                                "significant": True}


def test_a_tiny_sample_needs_a_big_change():
    # 60 -> 100 on five answers each: Var1 = 0, Var2 = 10,000 * (1 - 0.36) / 5 = 1280,
    # SE = 35.78, z = 40 / 35.78 = 1.118: forty points, and still noise.
    change = metrics.compare_scores(summarize((5, 0, 0), 5), summarize((4, 0, 1), 5))
    assert change.se == pytest.approx(math.sqrt(1280))
    assert change.z == pytest.approx(1.118, abs=1e-3)
    assert change.significant is False


def test_lopsided_samples():
    # 80 -> 95 on 100 each: Var1 = 100 * (0.95 - 0.9025) = 4.75, Var2 = 100 * (0.8 - 0.64) = 16,
    # SE = sqrt(20.75) = 4.555, z = 3.293: real.
    big = metrics.compare_scores(summarize((95, 5, 0), 5), summarize((80, 20, 0), 5))
    assert big.se == pytest.approx(math.sqrt(20.75)) and big.significant is True
    # 1,000 answers at 90 against ten at 70: Var1 = 10 * (0.9 - 0.81) = 0.9,
    # Var2 = 1000 * (0.9 - 0.49) = 410, SE = 20.27, z = 0.987: the small side dominates.
    uneven = metrics.compare_scores(summarize((900, 100, 0), 5), summarize((8, 1, 1), 5))
    assert uneven.se == pytest.approx(math.sqrt(410.9))
    assert uneven.z == pytest.approx(0.987, abs=1e-3) and uneven.significant is False


def test_unanimous_windows_have_no_z():
    # Both sides unanimous: SE = 0. A difference is then certain, no difference is none.
    flip = metrics.compare_scores(summarize((0, 0, 5), 5), summarize((5, 0, 0), 5))
    assert (flip.delta, flip.se, flip.z, flip.significant) == (-200.0, 0.0, None, True)
    same = metrics.compare_scores(summarize((6, 0, 0), 5), summarize((5, 0, 0), 5))
    assert (same.delta, same.z, same.significant) == (0.0, None, False)


@pytest.mark.parametrize(("current", "previous"),
                         [((0, 0, 0), (5, 0, 0)), ((5, 0, 0), (0, 0, 0)), ((4, 0, 0), (5, 0, 0)),
                          ((5, 0, 0), None)])
def test_no_change_without_enough_responses_on_both_sides(current, previous):
    prev = None if previous is None else summarize(previous, 5)
    assert metrics.compare_scores(summarize(current, 5), prev) is None


def test_the_same_shares_on_more_responses_become_significant():
    changes = [metrics.compare_scores(summarize((5 * k, 3 * k, 2 * k), 5),
                                      summarize((4 * k, 3 * k, 3 * k), 5)) for k in (1, 10, 100)]
    assert [c.delta for c in changes] == pytest.approx([20.0] * 3)
    assert [c.significant for c in changes] == [False, False, True]
    assert changes[0].se == pytest.approx(10 * changes[2].se)  # SE falls as 1 / sqrt(n)


# -- control limits on the trend ---------------------------------------------------------------


def test_control_limits_by_hand():
    # Baseline 60/20/20 (NPS 40): per-answer sd = 100 * sqrt(0.8 - 0.16) = 80; a period of 16
    # answers has sigma 80 / 4 = 20, so limits 40 +- 3 * 20 = (-20, 100).
    base = summarize((60, 20, 20), 5)
    assert metrics.compute_control_limits(base, summarize((8, 4, 4), 5)) == \
        pytest.approx((-20.0, 100.0))
    assert metrics.compute_control_limits(base, summarize((1, 1, 1), 5)) is None
    assert metrics.compute_control_limits(summarize((2, 0, 0), 5), summarize((8, 4, 4), 5)) \
        is None


def test_only_periods_beyond_the_limits_are_special():
    # Six steady days of 12/4/4 (shares 60/20/20, NPS 40), then a day of 4/0/12 (NPS -50, below
    # the -20 limit worked above) and a day of 8/4/4 (NPS 25, inside). Days roll over 7.
    counts = [(12, 4, 4)] * 6 + [(4, 0, 12), (8, 4, 4)]
    points = metrics.build_trend_points([str(i) for i in range(8)], counts, "day", 5)
    assert [p.special for p in points] == [False] * 6 + [True, False]
    assert points[0].limits is None  # nothing before it to compare with
    # The last day's baseline is days 1-5 (day 6 was special, day 7 is itself): NPS 40 again,
    # 80 / sqrt(16) = 20, so the same (-20, 100).
    assert points[7].limits == pytest.approx((-20.0, 100.0))


def test_a_special_cause_does_not_make_the_days_after_it_special():
    # Six days of 36/12/12 (NPS 40), a bad day of 0/0/60 (NPS -100), then a good day of 48/6/6
    # (NPS 70).
    counts = [(36, 12, 12)] * 6 + [(0, 0, 60)] + [(48, 6, 6)]
    points = metrics.build_trend_points([str(i) for i in range(8)], counts, "day", 5)
    assert points[6].special
    # Baseline without the bad day: 5 x 36/12/12, NPS 40, sd 80, 80 / sqrt(60) = 10.3,
    # limits (9.0, 71.0): 70 is inside. With the bad day in it (180/60/120, NPS 16.7,
    # sd 100 x sqrt(0.833 - 0.0278) = 89.7, 11.6 for 60 answers) the limits would be
    # (-18.1, 51.4) and 70 would be flagged.
    assert points[7].limits == pytest.approx((40 - 3 * 80 / 60**0.5, 40 + 3 * 80 / 60**0.5))
    assert not points[7].special


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
