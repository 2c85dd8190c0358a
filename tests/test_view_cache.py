"""A view carried over to a new snapshot that did not touch its segments equals the view
computed afresh (issue 13, item 3: screens with different filters share the per-snapshot
work)."""

from __future__ import annotations

import copy
import dataclasses
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from app.poller import Poller
from app.store.database import EventRow
from app.view_cache import ViewCache, count_delta, touched_combos
from app.views import ViewRequest, build_view, combo_mask, compute_sums
from tests.conftest import make_record

REQUESTS = [ViewRequest(window=w, segments=s) for w in ("30d", "7d", "all")
            for s in ((), (("product", ("p0",)),), (("product", ("p1", "p2")),),
                      (("region", ("EMEA",)),), (("product", ("p3",)), ("region", ("APAC",))))]


def _fresh(poller: Poller, request: ViewRequest, now: datetime):
    return build_view(poller.snapshot, request, min_sample=5, tz="UTC", now=now)


def _all_views(poller: Poller, cache: ViewCache, now: datetime) -> None:
    for request in REQUESTS:
        got = cache.get(poller.snapshot, request, min_sample=5, tz="UTC", now=now)
        assert got == _fresh(poller, request, now), request


@pytest.mark.parametrize("change", ["new row", "edit", "comment", "old day", "new combination"])
def test_carried_views_equal_fresh_ones(sqlite_store, settings, change):
    now = datetime.now(UTC)
    records = [make_record(i, i % 11, when=now - timedelta(days=i % 40, hours=1),
                           comment=f"comment {i}" if i % 3 == 0 else None,
                           product=f"p{i % 4}", region=("EMEA", "APAC")[i % 2])
               for i in range(300)]
    sqlite_store.upsert_responses(records)
    poller = Poller(sqlite_store, settings)
    poller.poll()
    cache = ViewCache()
    _all_views(poller, cache, now)
    if change == "new row":
        sqlite_store.upsert_responses([make_record(1000, 0, when=now - timedelta(hours=2),
                                                   product="p0", region="EMEA")])
    elif change == "edit":  # moves a response from p1 to p2: both are touched
        old = records[1]
        sqlite_store.upsert_responses([make_record(1, 10, when=old.created_at,
                                                   product="p2", region="APAC")])
    elif change == "comment":  # a new comment pushes an old one out of the kept list
        sqlite_store.upsert_responses([make_record(2000 + k, 9, comment=f"new {k}",
                                                   product="p3", region="EMEA")
                                       for k in range(70)])
    elif change == "old day":  # outside the short windows, inside all time
        sqlite_store.upsert_responses([make_record(3000, 3, when=now - timedelta(days=35),
                                                   product="p1", region="APAC")])
    else:
        sqlite_store.upsert_responses([make_record(4000, 10, product="p9", region="LATAM")])
    poller.poll()
    carried = cache.carried
    _all_views(poller, cache, now)
    assert cache.carried > carried  # some views were carried over, and all are exact


def test_masks_and_segment_findings_from_the_value_matrix_equal_a_walk_of_the_combos(
        sqlite_store, settings):
    """A screen's filter mask and its "what changed" per segment value read the snapshot's
    value-by-combination matrix (``snapshot_sums.segment_values``, once per snapshot): the
    same as going through every kept combination's fields, as each screen did."""
    from app.changes import SegmentCounts, _segment_findings, find_changes
    from app.segments import OTHER
    from app.snapshot_sums import segment_values
    from app.views import today_in

    now = datetime.now(UTC)
    rng = random.Random(3)
    products, regions, plans = ("p0", "p1", "p2", "p3", "p4"), ("EMEA", "APAC", "LATAM"), (
        "free", "pro", "", OTHER)
    records = []
    for i in range(1500):  # a later window that differs by segment: findings to find
        product = rng.choice(products)
        late = i % 2 == 0
        score = rng.choice((0, 3, 6) if late and product in ("p1", "p3") else (7, 9, 10, 10))
        records.append(make_record(i, score, when=now - timedelta(days=(5 if late else 40)
                                                                    + i % 20, hours=1),
                                   product=product, region=rng.choice(regions),
                                   plan=rng.choice(plans)))
    sqlite_store.upsert_responses(records)
    settings = settings.replace(segment_fields=("product", "region", "plan"))
    poller = Poller(sqlite_store, settings)
    poller.poll()
    snapshot = poller.snapshot
    requests = [ViewRequest(window="30d", segments=s) for s in (
        (), (("product", ("p1",)),), (("product", ("p0", "p1", "nowhere")),),
        (("region", ("EMEA",)), ("plan", ("", "pro"))), (("plan", (OTHER,)),),
        (("product", ("nowhere",)),), (("region", ("APAC", "EMEA")),))]
    found = 0
    for request in requests:
        walked = np.ones(len(snapshot.combos), dtype=bool)
        for name, values in request.segments:
            walked &= np.array([c.get(name) in set(values) for c in snapshot.combos])
        mask = combo_mask(snapshot, request)
        assert mask.dtype == bool and mask.tolist() == walked.tolist(), request
        view = build_view(snapshot, request, min_sample=5, tz="UTC", now=now)
        sums = compute_sums(snapshot, request, mask, today_in("UTC", now))
        pinned = frozenset(n for n, v in request.segments if len(v) == 1)
        keys, matrix, _ = segment_values(snapshot)
        combos = [snapshot.combos[i] for i in sums.kept.tolist()]
        matrixed = SegmentCounts(combos, sums.segments[0], sums.segments[1], pinned,
                                 (keys, matrix[:, sums.kept]))
        plain = dataclasses.replace(matrixed, values=None)
        for least in (1, 5, 30):
            got = _segment_findings(matrixed, view.current, view.previous, "in 30 days", least)
            assert got == _segment_findings(plain, view.current, view.previous, "in 30 days",
                                            least), (request, least)
            found += len(got)
        assert view.changes == find_changes(view.current, view.previous, view.topics, plain,
                                            "30d", view.minimums, view.events)
    assert found > 10  # the comparison saw findings


def test_an_event_makes_every_view_fresh(sqlite_store, settings):
    now = datetime.now(UTC)
    sqlite_store.upsert_responses([make_record(i, i % 11, product=f"p{i % 4}")
                                   for i in range(50)])
    poller = Poller(sqlite_store, settings)
    poller.poll()
    before = poller.snapshot
    event = EventRow(id=1, occurred_at=now, label="launch", kind="release", note=None)
    after = before.__class__(**{**before.__dict__, "version": before.version + 1,
                                "events": (event,)})
    assert touched_combos(before, after) is None
    assert touched_combos(before, before) is not None
    assert not touched_combos(before, before).any()


def test_same_means_the_same_repr():
    from app.parts import fingerprint, same, stamp

    row = ("a", 1, None, True)
    assert same(row, ("a", 1, None, True)) and same((row, row), (row, ("a", 1, None, True)))
    assert not same(0.0, -0.0) and not same(1, True) and not same((1,), (1, 2))
    assert not same(["a"], ["a"])  # only immutable kinds compare by value
    stamps: dict = {}
    needs = ("score", 0.0)
    assert stamp(stamps, ("k", "score"), needs) == fingerprint(*needs)
    assert stamp(stamps, ("k", "score"), ("score", -0.0)) == fingerprint("score", -0.0)
    assert stamp(stamps, ("k", "score"), ("score", -0.0)) == fingerprint("score", -0.0)


def test_a_stamp_reusing_item_hashes_equals_a_fresh_fingerprint():
    """A long need (trend points, a feed) keeps the hashes of the items that are the same
    objects as last time; the stamp is still the fingerprint of what it shows."""
    from app.parts import LONG, fingerprint, stamp

    points = [("point", k, k / 3) for k in range(LONG + 4)]
    stamps: dict = {}
    seen = set()
    for step in range(6):
        if step:  # the last point moves and one is added, as a new response today does
            points[-1] = ("point", len(points) - 1, step / 7)
            points.append(("point", len(points), -step / 9))
        needs = ("trend", tuple(points), "dark", ("short", 1))
        found = stamp(stamps, ("k", "trend"), needs)
        assert found == fingerprint(*needs) == fingerprint(*copy.deepcopy(needs))
        seen.add(found)
    assert len(seen) == 6
    moved = (*points[:-1], ("point", len(points) - 1, 0.5))
    assert stamp(stamps, ("k", "trend"), ("trend", moved, "dark", ("short", 1))) not in seen
    # A long tuple and the same items as separate values are told apart.
    assert fingerprint(tuple(points)) != fingerprint(*points)


def test_a_stamp_keeps_the_hashes_of_items_that_moved(monkeypatch):
    """A new comment first in a feed shifts every other one down, a trend window that moved
    on drops its first point: the items that are the objects of last time keep their hashes
    wherever they are now (each was written out and hashed again), and the stamp is still
    the fingerprint of what it shows."""
    from app import parts

    comments = [("comment", k, f"words {k}") for k in range(20)]
    hashed: list[str] = []
    digest = parts._digest
    monkeypatch.setattr(parts, "_digest", lambda text: hashed.append(text) or digest(text))
    for shown in ([("comment", 20, "new")] + comments[:-1], comments[1:] + [("comment", 21, "")],
                  list(reversed(comments))):
        stamps: dict = {}
        parts.stamp(stamps, ("k", "feed"), ("feed", tuple(comments), "dark"))
        hashed.clear()
        needs = ("feed", tuple(shown), "dark")
        found = parts.stamp(stamps, ("k", "feed"), needs)
        assert len(hashed) <= 2, len(hashed)  # the new item, if any, and the whole
        assert found == parts.fingerprint(*copy.deepcopy(needs))


def test_memoised_score_and_topic_pieces_equal_fresh_ones(sqlite_store, settings):
    """The registry's builders take rows and score pieces from memos; what they give is what
    the panels build without them, view after view."""
    from app.panels import PartContext
    from app.panels.score import build as score_build
    from app.panels.score import build_score_panel
    from app.panels.topics import build as topics_build
    from app.panels.topics import build_topics_panel
    from app.wire import to_plain
    from tests.test_wire import score_of_tree, table_of_rows

    now = datetime.now(UTC)
    sqlite_store.upsert_responses([make_record(i, i % 11, when=now - timedelta(days=i % 40),
                                               comment="slow support" if i % 2 else "great ui",
                                               product=f"p{i % 4}") for i in range(300)])
    poller = Poller(sqlite_store, settings)
    for k in range(3):
        poller.poll()
        for request in REQUESTS:
            view = _fresh(poller, request, now)
            for surface, rest in (("wall", True), ("manager", False)):
                ctx = PartContext(surface, "dark", "UTC", ("product",), limit=None, rest=rest)
                assert to_plain(score_build(view, ctx)) == (
                    score_of_tree(view, ctx) if surface == "wall" else
                    to_plain(build_score_panel(view, rest)))
                assert to_plain(topics_build(view, ctx)) == (
                    table_of_rows(view, ctx) if surface == "wall" else
                    to_plain(build_topics_panel(view, len(view.topics), surface)))
        sqlite_store.upsert_responses([make_record(900 + k, 0, comment="slow support",
                                                   product="p0")])


def test_a_memoised_piece_is_never_taken_for_a_view_showing_otherwise(sqlite_store, settings):
    """Each value a memoised piece shows is in its key: change one, the piece is new."""
    import dataclasses

    from app.metrics import ScoreSummary
    from app.panels import PartContext
    from app.panels.score import build as score_build
    from app.panels.topics import build as topics_build
    from app.wire import to_plain
    from tests.test_wire import score_of_tree, table_of_rows

    now = datetime.now(UTC)
    sqlite_store.upsert_responses([make_record(i, i % 11, when=now - timedelta(days=i % 20),
                                               comment="slow support" if i % 2 else "great ui",
                                               product=f"p{i % 4}") for i in range(300)])
    poller = Poller(sqlite_store, settings)
    poller.poll()
    view = _fresh(poller, ViewRequest(window="range", start=(now - timedelta(days=9)).date(),
                                      end=now.date()), now)
    row = view.topics[0]
    other = ScoreSummary(40, 5, 3, 5)
    rows = [dataclasses.replace(row, current=other), dataclasses.replace(row, previous=other),
            dataclasses.replace(row, impact=row.impact + 0.3),
            dataclasses.replace(row, positive=row.positive + 7)]
    views = [view, *(dataclasses.replace(view, topics=(r, *view.topics[1:])) for r in rows),
             dataclasses.replace(view, current=other), dataclasses.replace(view, previous=other),
             dataclasses.replace(view, start=view.start + timedelta(days=1))]  # the label
    ctx = PartContext("wall", "dark", "UTC", ("product",), limit=None)
    for shown in views:
        assert to_plain(score_build(shown, ctx)) == score_of_tree(shown, ctx)
        assert to_plain(topics_build(shown, ctx)) == table_of_rows(shown, ctx)


@pytest.mark.parametrize("granularity", ["day", "week", "month"])
def test_trend_from_running_totals_equals_period_sums(granularity):
    """The trend's periods summed from running totals are the sums of their days."""
    from datetime import date

    import numpy as np

    from app import metrics
    from app.periods import period_starts, periods_before
    from app.views import _build_trend, _slice_sum, epoch_day

    rng = np.random.default_rng(3)
    per_day = rng.integers(0, 4, size=(120, 3)).astype(np.int64)
    day0 = epoch_day(date(2026, 1, 10))
    for start, end in ((date(2026, 1, 1), date(2026, 2, 20)), (date(2026, 3, 3), date(2026, 6, 1)),
                       (date(2025, 11, 5), date(2026, 1, 12))):
        lead = metrics.ROLLING_PERIODS[granularity] - 1
        starts = period_starts(periods_before(start, granularity, lead), end, granularity)
        bounds = [*starts[1:], end + timedelta(days=1)]
        whole = [_slice_sum(per_day, day0, s, b - timedelta(days=1)).tolist()
                 for s, b in zip(starts, bounds, strict=True)]
        shown = [_slice_sum(per_day, day0, max(s, start), b - timedelta(days=1)).tolist()
                 if s < start < b else c for s, b, c in zip(starts, bounds, whole, strict=True)]
        first = sum(1 for b in bounds if b <= start)
        expected = metrics.build_trend_points([s.isoformat() for s in starts], shown,
                                              granularity, 5, rolling_counts=whole)[first:]
        assert _build_trend(per_day, day0, start, end, granularity, 5) == expected


def test_trend_points_kept_from_an_earlier_call_equal_fresh_ones():
    """Points up to the first changed period are kept; the result is what a fresh call gives."""
    from app import metrics

    counts = [[5 + i % 3, 2, 1 + i % 4] for i in range(30)]
    counts[12] = [0, 0, 9]  # a special cause: it leaves the later baselines
    labels = [f"p{i}" for i in range(30)]
    known = (labels, counts, counts, metrics.build_trend_points(labels, counts, "day", 5))
    for changed in (0, 5, 12, 29):
        moved = [list(c) for c in counts]
        moved[changed][0] += 3
        fresh = metrics.build_trend_points(labels, moved, "day", 5)
        assert metrics.build_trend_points(labels, moved, "day", 5, known=known) == fresh
    shifted = labels[1:] + ["p30"]
    assert metrics.build_trend_points(shifted, counts, "day", 5, known=known) == \
        metrics.build_trend_points(shifted, counts, "day", 5)


def test_the_json_length_of_a_part_with_shared_pieces_is_exact(sqlite_store, settings):
    """A part's size for the cache budget counts its shared pieces by their known length: the
    same as writing the whole part out."""
    from app.panels import PartContext
    from app.panels.comments import build as comments_build
    from app.panels.score import build as score_build
    from app.panels.topics import build as topics_build
    from app.part_cache import to_wire
    from app.wire import json_size

    now = datetime.now(UTC)
    sqlite_store.upsert_responses([make_record(i, i % 11, when=now - timedelta(hours=i),
                                               comment=f"Slow support \u00e9t\u00e9 \"{i}\"",
                                               product=f"p{i % 4}") for i in range(80)])
    poller = Poller(sqlite_store, settings)
    poller.poll()
    view = _fresh(poller, ViewRequest(window="30d"), now)
    ctx = PartContext("wall", "dark", "UTC", ("product",), limit=20)
    for build in (comments_build, score_build, topics_build):
        for _ in range(2):  # built, then from the memos
            plain, chars = to_wire(build(view, ctx))
            assert chars == json_size(plain)


def test_a_part_size_is_its_compact_json_with_or_without_orjson(monkeypatch):
    """The cache measures with orjson when installed (fast), else with the standard encoder:
    both give the compact JSON's length (ASCII text alike), and a part's size by its pieces
    is the size of the whole."""
    import json

    from app import wire

    card = wire.Wire(props={"children": 'Slow "support" 12', "n": [1, 2.5, None, True]},
                     type="Div", namespace="dash_html_components")
    part = {"props": {"children": [card, {"x": 1.5, "y": -0.0}, card]}, "type": "Div"}
    whole = len(json.dumps(part, separators=(",", ":")))
    for encoder in (wire.orjson, None):
        monkeypatch.setattr(wire, "orjson", encoder)
        card.chars = wire.json_size(card)
        assert card.chars == len(json.dumps(card, separators=(",", ":")))
        assert wire.json_length(part) == wire.json_size(part) == whole


def test_a_weak_memo_holds_only_its_last_pieces_itself():
    """With ``strong``, a piece outlives the memo's own window only while something else (a
    cached part) holds it: the memo adds next to nothing to the memory budget."""
    import gc

    from dash import html

    from app.wire import WireMemo

    memo = WireMemo(100, strong=2)
    kept = memo.get("kept", lambda: html.Div("kept"))
    for k in range(5):
        memo.get(k, lambda k=k: html.Div(str(k)))
    gc.collect()
    builds = memo.builds
    assert memo.get("kept", lambda: html.Div("other")) is kept  # a part still holds it
    assert memo.get(0, lambda: html.Div("0")) == {"props": {"children": "0"}, "type": "Div",
                                                  "namespace": "dash_html_components"}
    assert memo.builds == builds + 1  # dropped: nothing held it
    assert memo.get(4, lambda: html.Div("x"))["props"]["children"] == "4"  # among the last 2


def test_a_feed_hands_its_stamp_the_same_tuples_for_the_same_comments():
    """The comments' needs are one tuple per comment, equal to what the feed shows of it, so
    the stamp of a feed whose comments did not change is found by identity."""
    from app.panels import PartContext
    from app.panels.comments import needs
    from app.rollup import Comment
    from app.views import View

    def feed(*comments) -> View:
        return View(version=1, as_of=now, request=ViewRequest(window="7d"), start=now.date(),
                    end=now.date(), current=None, previous=None, delta=None, change=None,
                    granularity="day", trend=(), events=(), topics=(), comments=comments,
                    goal=None, latest=None)

    now = datetime.now(UTC)
    a, b = (Comment(i, now, 9, f"text {i}", {"product": f"p{i}"}, ("Support",)) for i in (1, 2))
    twin = Comment(1, now, 9, "text 1", {"product": "p1"}, ("Support",))
    ctx = PartContext("wall", "dark", "UTC", ("product",), limit=20)
    first, again = needs(feed(a, b), ctx)[0], needs(feed(a, b), ctx)[0]
    assert first == tuple((c.id, c.created_at, c.score, c.text, tuple(c.segments.items()),
                           c.topics) for c in (a, b))
    assert all(x is y for x, y in zip(first, again, strict=True))
    assert needs(feed(twin, b), ctx)[0] == first  # an equal comment: an equal stamp
    other = Comment(1, now, 3, "text 1", {"product": "p1"}, ("Support",))
    assert needs(feed(other, b), ctx)[0][0][2] == 3  # never another comment's tuple


INCREMENTAL_REQUESTS = [*REQUESTS, ViewRequest(window="90d", segments=(("region", ("APAC",)),)),
                        ViewRequest(window="range"),  # from the first day with data: moves
                        ViewRequest(window="range", segments=(("product", ("p1",)),))]
WORDS = ("slow support", "great ui", "the price is too high", "love it", None)


def _random_change(store, rng, stored: dict, now: datetime, n: int) -> None:
    """One of: new rows, an edit of a stored row (score, day, segments, comment), an exclusion
    or a re-inclusion; ``stored`` holds each row's last record by external id."""
    def record(i: int, excluded: bool = False):
        return dataclasses.replace(
            make_record(i, rng.randrange(11), when=now - timedelta(days=rng.randrange(120),
                                                                   hours=1),
                        comment=rng.choice(WORDS), product=f"p{rng.randrange(4)}",
                        region=rng.choice(("EMEA", "APAC"))), excluded=excluded)
    kind = rng.choice(("insert", "insert", "edit", "exclude", "include"))
    if kind == "insert":
        changed = [record(10_000 + 10 * n + k) for k in range(rng.randint(1, 3))]
    else:
        i = rng.choice(sorted(stored))
        changed = [record(i) if kind == "edit" else dataclasses.replace(
            stored[i], excluded=kind == "exclude")]
    store.upsert_responses(changed)
    stored.update((int(r.external_id), r) for r in changed)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_views_advanced_by_the_delta_equal_fresh_ones(sqlite_store, settings, seed):
    """A touched view adds the snapshot's delta to its previous sums (``advance``) instead of
    summing every response again: after random inserts, edits, exclusions and re-inclusions
    it equals the view computed from scratch, every time."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    stored: dict = {}
    for i in range(200):
        stored[i] = make_record(i, rng.randrange(11), when=now - timedelta(
            days=rng.randrange(1, 100), hours=1), comment=rng.choice(WORDS),
            product=f"p{rng.randrange(4)}", region=rng.choice(("EMEA", "APAC")))
    sqlite_store.upsert_responses(list(stored.values()))
    poller = Poller(sqlite_store, settings)
    poller.poll()
    cache = ViewCache()
    for n in range(25):
        for request in INCREMENTAL_REQUESTS:
            got = cache.get(poller.snapshot, request, min_sample=5, tz="UTC", now=now)
            assert got == _fresh(poller, request, now), (n, request)
            # The sums themselves, too: some (each combination's) show only in a rare finding.
            kept = cache._items[(poller.snapshot.version, request, now.date())][3]
            fresh = compute_sums(poller.snapshot, request, combo_mask(poller.snapshot, request),
                                 now.date())
            assert kept.bounds == fresh.bounds, (n, request)
            for name in ("per_day", "kept", "topics", "tones", "segments"):
                assert np.array_equal(getattr(kept, name), getattr(fresh, name)), (n, name)
        _random_change(sqlite_store, rng, stored, now, n)
        poller.poll()
    assert cache.advanced > 50  # most touched views came from the delta, and all are exact
    assert cache.built > cache.advanced  # the first ones, and those whose window moved


def test_a_delta_is_what_moved_in_the_touched_combinations(sqlite_store, settings):
    """``count_delta`` holds the new counts minus the old on the days that moved: an edit
    that moves a response takes it away where it was and adds it where it is now."""
    now = datetime.now(UTC)
    sqlite_store.upsert_responses([make_record(i, 9, when=now - timedelta(days=i % 5, hours=1),
                                               product=f"p{i % 2}") for i in range(20)])
    poller = Poller(sqlite_store, settings)
    poller.poll()
    before = poller.snapshot
    sqlite_store.upsert_responses([make_record(0, 3, when=now - timedelta(days=2, hours=1),
                                               product="p1")])  # was p0, 9, today
    poller.poll()
    after = poller.snapshot
    delta = after.delta
    assert delta is not None and delta.base == before.version
    assert len(delta.combos) == 2 and len(delta.days) == 2
    moved = np.zeros(after.counts.shape, dtype=np.int64)
    moved[np.ix_(delta.combos, delta.days)] = delta.counts
    assert (moved == after.counts.astype(np.int64) - before.counts).all()
    assert moved.sum() == 0 and np.abs(moved).sum() == 2
    assert count_delta(before, after, None) is None


def test_a_change_touching_many_combinations_gives_no_delta(sqlite_store, settings):
    """Past ``DELTA_COMBOS`` touched combinations (an import, a re-tag) there is no delta:
    the touched views sum afresh, which costs about what adding that many would."""
    from app.view_cache import DELTA_COMBOS

    sqlite_store.upsert_responses([make_record(i, i % 11, product=f"p{i}")
                                   for i in range(DELTA_COMBOS + 4)])
    poller = Poller(sqlite_store, settings)
    poller.poll()
    before = poller.snapshot

    def moved(combos: list[int]):
        counts = before.counts.copy()
        counts[combos, -1, 0] += 1
        return dataclasses.replace(before, version=before.version + 1, counts=counts)

    few, many = moved([0, 3]), moved(list(range(DELTA_COMBOS + 1)))
    delta = count_delta(before, few, touched_combos(before, few))
    assert delta is not None and delta.combos.tolist() == [0, 3]
    assert count_delta(before, many, touched_combos(before, many)) is None
