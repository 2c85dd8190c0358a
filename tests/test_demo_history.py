"""The demo history tells its story: a price-change dip and a recovery after the release."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.config import Settings
from app.demo.history import EVENTS, LiveFeed, build_demo_history
from app.poller import Poller
from app.store import Store
from app.views import ViewRequest


def test_demo_history_is_believable_and_moves_with_its_events(sqlite_store: Store,
                                                              settings: Settings):
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    written = build_demo_history(sqlite_store, days=180, seed=7, now=now)
    assert 3000 <= written <= 8000
    assert sqlite_store.count_responses() == written
    assert [e.label for e in sqlite_store.list_events()] == [e.label for e in EVENTS]

    poller = Poller(sqlite_store, settings, ("Pricing",))
    poller.poll()

    def nps(start_days_ago: int, end_days_ago: int) -> float:
        start = (now - timedelta(days=start_days_ago)).date()
        end = (now - timedelta(days=end_days_ago)).date()
        view = poller.view(ViewRequest(window="range", start=start, end=end), now=now)
        return view.current.nps

    before = nps(45, 27)
    dip = nps(24, 13)
    after = nps(9, 0)
    assert dip < before - 8, (before, dip)
    assert after > dip + 8, (dip, after)

    view = poller.view(ViewRequest(window="30d"), now=now)
    distinct = {c.text for c in view.comments}
    assert len(distinct) >= 20
    assert len(view.topics) >= 5


def test_demo_is_repeatable_with_its_seed(tmp_path):
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    counts = []
    for name in ("a", "b"):
        store = Store(f"sqlite:///{tmp_path / name}.db")
        store.upgrade()
        counts.append(build_demo_history(store, days=30, seed=3, now=now))
    assert counts[0] == counts[1]


def test_live_feed_adds_a_fresh_response_each_time(sqlite_store: Store):
    feed = LiveFeed(sqlite_store)
    first = feed.add_one(datetime(2026, 11, 23, 12, tzinfo=UTC))
    second = feed.add_one(datetime(2026, 11, 23, 12, 0, 6, tzinfo=UTC))
    assert first.external_id != second.external_id
    assert sqlite_store.count_responses() == 2
