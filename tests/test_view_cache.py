"""A view carried over to a new snapshot that did not touch its segments equals the view
computed afresh (issue 13, item 3: screens with different filters share the per-snapshot
work)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.poller import Poller
from app.store.database import EventRow
from app.view_cache import ViewCache, touched_combos
from app.views import ViewRequest, build_view
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
