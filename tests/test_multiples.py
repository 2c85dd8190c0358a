"""Small multiples beside the comparison (app/multiples.py, app/workspace/multiples.py): the
rolling score per period of each value, worked out by hand; the shared y range; the cap and
its note; thin values; and the drawing and the filter a press sets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from dash import no_update

from app.comparison import compare_segments
from app.multiples import Multiple, Multiples, build_multiples, shared_range
from app.poller import Poller
from app.views import ViewRequest
from app.workspace import multiples as drawing
from app.workspace.callbacks import filtered_values
from tests.conftest import make_record

NOW = datetime.now(UTC).replace(microsecond=0)
FIELDS = ("product", "region", "plan")


def records(spec):
    """(days ago, score, region) triples as records, ``NOW - days`` each."""
    return [make_record(i, score, when=NOW - timedelta(days=days), region=region)
            for i, (days, score, region) in enumerate(spec)]


def multiples_of(store, settings, spec, window="30d", cap=12, segments=()):
    store.upsert_responses(records(spec))
    poller = Poller(store, settings)
    poller.poll()
    view = poller.view(ViewRequest(window=window, segments=segments), now=NOW)
    table = compare_segments(poller.snapshot, view, "region", min_sample=5, min_rank=5)
    return view, build_multiples(poller.snapshot, view, table, min_sample=5, cap=cap)


def test_each_value_rolls_over_seven_days_and_the_overall_line_is_the_views(sqlite_store,
                                                                             settings):
    # EMEA: yesterday 4 promoters and 1 detractor, today 5 passives. APAC: 2 promoters today.
    spec = [(1, 10, "EMEA")] * 4 + [(1, 0, "EMEA")] + [(0, 8, "EMEA")] * 5 \
        + [(0, 9, "APAC")] * 2
    view, shared = multiples_of(sqlite_store, settings, spec)
    assert shared.granularity == "day" and len(shared.starts) == 30
    assert shared.starts[-1] == NOW.date().isoformat()
    emea, apac = shared.items
    assert (emea.value, emea.rank, emea.n, emea.nps, emea.thin) == ("EMEA", 1, 10, 30, False)
    # Yesterday's 7 days: 4P 1D of 5 = +60; today's: 4P 5S 1D of 10 = +30; before: nothing.
    assert emea.points[-2:] == (60.0, 30.0)
    assert emea.points[:-2] == (None,) * 28
    # APAC has 2 responses: under the ranking's minimum (greyed) and under the sample (no dots).
    assert (apac.rank, apac.n, apac.nps, apac.thin) == (None, 2, None, True)
    assert apac.points == (None,) * 30
    # The faint line: all 12 of today's 7 days, 6P 5S 1D = 5/12 = +41.67; yesterday +60.
    assert shared.overall[-2] == pytest.approx(60.0)
    assert shared.overall[-1] == pytest.approx(500 / 12)
    assert shared.overall == tuple(p.rolling.nps if p.rolling.enough else None
                                   for p in view.trend)
    # One scale for all: 30 to 60 drawn, already on steps of ten.
    assert shared.y_range == (30.0, 60.0)
    assert shared.total == 2 and shared.left_out == 0


def test_weeks_roll_over_four_and_the_range_reaches_minus_100(sqlite_store, settings):
    spec = [(0, 10, "EMEA")] * 5 + [(7, 3, "EMEA")] * 5
    _, shared = multiples_of(sqlite_store, settings, spec, window="90d")
    assert shared.granularity == "week"
    (emea,) = shared.items
    # The week before: 5 detractors alone = -100; this week rolls over both: 5P 5D = 0.
    assert emea.points[-2:] == (-100.0, 0.0)
    assert set(emea.points[:-2]) == {None}
    assert shared.y_range == (-100.0, 0.0)


def test_only_the_best_ranked_values_are_drawn_and_the_rest_are_counted(sqlite_store,
                                                                        settings):
    # Three regions of 6: NA all promoters, EMEA half, APAC all detractors.
    spec = [(2, 10, "NA")] * 6 + [(2, 10, "EMEA")] * 3 + [(2, 7, "EMEA")] * 3 \
        + [(2, 1, "APAC")] * 6
    _, shared = multiples_of(sqlite_store, settings, spec, cap=2)
    assert [m.value for m in shared.items] == ["NA", "EMEA"]
    assert shared.total == 3 and shared.left_out == 1
    panel = str(drawing.build_multiples_panel(shared, "dark"))
    assert "Showing the 2 best-ranked of 3 values" in panel


def test_a_segment_filter_bounds_the_multiples(sqlite_store, settings):
    spec = [(1, 10, "NA")] * 6 + [(1, 0, "EMEA")] * 6
    _, shared = multiples_of(sqlite_store, settings, spec, segments=(("region", ("EMEA",)),))
    assert [m.value for m in shared.items] == ["EMEA"]
    assert shared.items[0].points[-2:] == (-100.0, -100.0)


def test_the_shared_range_is_padded_and_never_flat():
    flat = Multiple("A", 1, 9, 40, False, (42.0, 42.0))
    assert shared_range((flat,), (None,)) == (30.0, 60.0)
    assert shared_range((), ()) == (-100.0, 100.0)
    wide = Multiple("B", 1, 9, 0, False, (-99.0, 3.0))
    assert shared_range((wide,), (95.5,)) == (-100.0, 100.0)


def test_a_gap_breaks_the_line_and_a_thin_value_is_grey_and_dashed():
    runs = drawing._xy((None, 50.0, None, 20.0, 30.0), (0.0, 100.0))
    assert [len(r) for r in runs] == [1, 2]
    x0, y0 = runs[0][0]
    assert y0 == pytest.approx(drawing.PAD + 0.5 * (drawing.HEIGHT - 2 * drawing.PAD))
    thin = Multiple("APAC", None, 2, None, True, (None, 10.0, 20.0))
    shared = Multiples("region", "day", ("a", "b", "c"), (None, 15.0, 15.0), (thin,),
                       (0.0, 30.0), 1)
    svg = drawing.build_svg(thin, shared, "light")
    assert 'stroke-dasharray="3 3"' in svg and "#5a6478" in svg  # the light theme's muted
    assert drawing.has_trend(thin)  # two neighbouring points make a line
    lone = Multiple("NA", None, 1, None, True, (10.0, None, 20.0))
    assert not drawing.has_trend(lone)
    assert "1 response \u00b7 too few for a trend" in str(drawing.build_multiple(lone, shared,
                                                                                   "dark"))
    assert drawing.describe(thin, "region") == (
        "region APAC: not enough responses, 2 responses, not ranked, too few responses to "
        "rank. Press to filter the workspace to it.")


def test_a_press_sets_that_fields_filter_alone():
    names = ["product", "region", "plan"]
    current = [["Ledger"], ["APAC", "NA"], []]
    assert filtered_values("region", "EMEA", names, current, FIELDS) == [
        no_update, ["EMEA"], no_update]
    assert filtered_values("colour", "red", names, current, FIELDS) is None
    assert filtered_values("region", ["EMEA"], names, current, FIELDS) is None
    assert filtered_values("region", "EMEA", names, current[:2], FIELDS) is None
