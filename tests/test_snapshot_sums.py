"""What every view of a snapshot reads alike, derived once per snapshot (app/snapshot_sums.py),
gives each view what it computed for itself before (issue 13, item 3)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np

from app.poller import Poller
from app.rollup import Comment
from app.snapshot_sums import comment_combos, every_per_day
from app.views import ViewRequest, shown_comments
from tests.conftest import make_record

REQUESTS = [ViewRequest(segments=s) for s in (
    (), (("product", ("p0",)),), (("product", ("p1", "p3")),), (("region", ("EMEA",)),),
    (("product", ("p2",)), ("region", ("APAC",))), (("product", ("nowhere",)),))]


def _snapshot(store, settings):
    now = datetime.now(UTC)
    store.upsert_responses([make_record(i, i % 11, when=now - timedelta(days=i % 20, hours=1),
                                        comment=f"comment {i}", product=f"p{i % 4}",
                                        region=("EMEA", "APAC", "")[i % 3])
                            for i in range(120)])
    poller = Poller(store, settings)
    poller.poll()
    return poller.snapshot


def test_comments_kept_by_combination_are_those_whose_segments_match(sqlite_store, settings):
    snapshot = _snapshot(sqlite_store, settings)
    # A comment whose segments are none of the combinations is matched by its segments.
    odd = Comment(9999, snapshot.comments[0].created_at, 7, "odd", {"product": "p0",
                                                                    "extra": "x"}, ())
    snapshot = dataclasses.replace(snapshot, comments=(odd, *snapshot.comments))
    assert comment_combos(snapshot)[0] == -1 and (comment_combos(snapshot)[1:] >= 0).all()
    now = datetime.now(UTC)
    for days in (3, 30):
        bounds = (now - timedelta(days=days), now + timedelta(days=1))
        for request in REQUESTS:
            want = tuple(c for c in snapshot.comments if bounds[0] <= c.created_at < bounds[1]
                         and all(c.segments.get(name) in values
                                 for name, values in request.segments))
            got, _latest = shown_comments(snapshot, request, bounds)
            assert got == want, request
            assert (odd in got) == (request.segments in ((), (("product", ("p0",)),)))


def test_sums_follow_the_snapshot_they_are_asked_about(sqlite_store, settings):
    snapshot = _snapshot(sqlite_store, settings)
    every = every_per_day(snapshot)
    assert (every == snapshot.counts.sum(axis=0)).all() and every_per_day(snapshot) is every
    other = dataclasses.replace(snapshot, counts=np.ones_like(snapshot.counts),
                                comments=snapshot.comments[:3])
    assert (every_per_day(other) == len(snapshot.combos)).all()
    assert len(comment_combos(other)) == 3 and len(comment_combos(snapshot)) > 3


def test_a_comment_at_a_bound_is_kept_from_the_first_instant_not_at_the_last(sqlite_store,
                                                                           settings):
    """The window's comments are found by their times in microseconds: a comment created at
    the window's first instant is in it, one at the instant after its end is not, in any
    time zone the bounds are given in."""
    from zoneinfo import ZoneInfo

    from app.snapshot_sums import comment_times, micros

    snapshot = _snapshot(sqlite_store, settings)
    c = snapshot.comments[5]
    assert comment_times(snapshot)[5] == micros(c.created_at)
    zone = ZoneInfo("America/New_York")
    at = c.created_at.astimezone(zone)
    tick = timedelta(microseconds=1)
    for request in REQUESTS:
        starting, _ = shown_comments(snapshot, request, (at, at + timedelta(days=1)))
        ending, _ = shown_comments(snapshot, request, (at - timedelta(days=1), at))
        just_after, _ = shown_comments(snapshot, request, (at - timedelta(days=1), at + tick))
        kept = all(c.segments.get(name) in values for name, values in request.segments)
        assert (c in starting) == kept and c not in ending and (c in just_after) == kept
