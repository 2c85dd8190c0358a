"""The incremental rollup agrees with a from-scratch count after any sequence of changes."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import text

from app.config import Settings
from app.metrics import categorize
from app.poller import Poller
from app.rollup import Rollup, local_days, to_micros
from app.store import ResponseRecord, Store
from app.views import ViewRequest
from tests.conftest import make_record


def recount(store: Store, tz: str) -> dict[tuple[str, int], list[int]]:
    """Counts by (segments JSON, local epoch day) straight from the table."""
    with store.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT score, created_at, s.key, excluded FROM responses r"
            " JOIN segment_sets s ON s.id = r.segment_set_id")).all()
    out: dict[tuple[str, int], list[int]] = {}
    for score, created, segments, excluded in rows:
        if excluded:
            continue
        day = int(local_days(to_micros([created]), tz)[0])
        out.setdefault((segments, day), [0, 0, 0])[categorize(score)] += 1
    return out


def rollup_counts(poller: Poller) -> dict[tuple[str, int], list[int]]:
    snap = poller.snapshot
    out = {}
    import json

    for c, combo in enumerate(snap.combos):
        for d in range(snap.days):
            cell = snap.counts[c, d].tolist()
            if any(cell):
                out[(json.dumps(combo, sort_keys=True), snap.day0 + d)] = cell
    return out


@pytest.mark.parametrize("tz", ["UTC", "America/Los_Angeles", "Asia/Kolkata"])
def test_incremental_polls_match_a_full_recount(store: Store, tmp_path, tz):
    rng = random.Random(42)
    settings = Settings(data_dir=str(tmp_path), timezone=tz, poll_overlap_seconds=5)
    poller = Poller(store, settings, ("Pricing", "Support"))
    start = datetime(2026, 3, 1, tzinfo=UTC)
    n = 0
    for step in range(8):
        batch = []
        for _ in range(rng.randint(1, 60)):
            if n and rng.random() < 0.3:  # revise an existing response (score, comment, flag)
                i = rng.randrange(n)
            else:
                i, n = n, n + 1
            batch.append(ResponseRecord(
                "test", str(i), rng.randint(0, 10),
                start + timedelta(hours=rng.randint(0, 24 * 40)),
                rng.choice([None, "too expensive", "support was great"]),
                {"product": rng.choice("AB"), "region": rng.choice(["EU", "US"])},
                excluded=rng.random() < 0.05))
        store.upsert_responses(batch)
        poller.poll()
        assert rollup_counts(poller) == recount(store, tz), f"step {step}"


def test_update_after_first_seen_moves_the_count_not_adds(sqlite_store: Store, settings):
    poller = Poller(sqlite_store, settings)
    sqlite_store.upsert_responses([make_record(1, 2, when=datetime.now(UTC))])
    poller.poll()
    assert poller.view(ViewRequest()).current.counts == (0, 0, 1)
    # The comment and a changed score arrive later for the same response.
    sqlite_store.upsert_responses([make_record(1, 10, when=datetime.now(UTC),
                                               comment="support fixed it")])
    poller.poll()
    view = poller.view(ViewRequest())
    assert view.current.counts == (1, 0, 0)
    assert [c.text for c in view.comments] == ["support fixed it"]


def test_late_commit_inside_the_overlap_is_seen(sqlite_store: Store, settings):
    poller = Poller(sqlite_store, settings)
    now = datetime.now(UTC)
    sqlite_store.upsert_responses([make_record(1, 9, when=now)], now=now)
    poller.poll()
    # A transaction that started earlier commits now with an older updated_at, and we
    # pretend it also got a lower id than the watermark (as on PostgreSQL with sequences).
    sqlite_store.upsert_responses([make_record(2, 0, when=now)],
                                  now=now - timedelta(seconds=2))
    poller.rollup.max_id = 10**6
    assert poller.poll() is True
    assert poller.view(ViewRequest()).current.counts == (1, 0, 1)


def test_unchanged_poll_publishes_nothing(sqlite_store: Store, settings):
    poller = Poller(sqlite_store, settings)
    sqlite_store.upsert_responses([make_record(i, 9) for i in range(5)])
    assert poller.poll() is True
    version = poller.snapshot.version
    assert poller.poll() is False
    assert poller.snapshot.version == version


def test_excluding_a_response_removes_it_from_counts(sqlite_store: Store, settings):
    poller = Poller(sqlite_store, settings)
    when = datetime.now(UTC)
    sqlite_store.upsert_responses([make_record(i, 0, when=when) for i in range(3)])
    poller.poll()
    sqlite_store.upsert_responses([ResponseRecord("test", "0", 0, when, excluded=True)])
    poller.poll()
    assert poller.view(ViewRequest()).current.n == 2


def test_events_change_publishes_a_new_snapshot(sqlite_store: Store, settings):
    poller = Poller(sqlite_store, settings)
    poller.poll()
    version = poller.snapshot.version
    sqlite_store.add_event(datetime.now(UTC), "v2 released", "release")
    assert poller.poll() is True
    assert poller.snapshot.version == version + 1
    assert [e.label for e in poller.view(ViewRequest()).events] == ["v2 released"]
    # An edited event shows after the next poll too.
    [event] = sqlite_store.list_events()
    sqlite_store.update_event(event.id, event.occurred_at, "v2.0 released", "release", None)
    assert poller.poll() is True
    assert [e.label for e in poller.view(ViewRequest()).events] == ["v2.0 released"]


def test_poll_survives_a_database_error(sqlite_store: Store, settings):
    poller = Poller(sqlite_store, settings)
    poller.poll()
    with sqlite_store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE responses RENAME TO gone"))
    assert poller.poll() is False
    assert poller.last_error == "OperationalError"  # the class only: no SQL, host or user
    assert poller.health()["last_poll_error"] == poller.last_error
    with sqlite_store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE gone RENAME TO responses"))
    poller.poll()
    assert poller.last_error is None


def test_snapshot_arrays_are_read_only(sqlite_store: Store, settings):
    poller = Poller(sqlite_store, settings)
    sqlite_store.upsert_responses([make_record(1, 9)])
    poller.poll()
    with pytest.raises(ValueError):
        poller.snapshot.counts[0, 0, 0] = 5


def test_comments_keep_only_the_newest(sqlite_store: Store, settings):
    poller = Poller(sqlite_store, settings.replace(comments_keep=3))
    base = datetime.now(UTC) - timedelta(days=1)
    sqlite_store.upsert_responses(
        [make_record(i, 9, when=base + timedelta(minutes=i), comment=f"c{i}") for i in range(6)])
    poller.poll()
    assert [c.text for c in poller.snapshot.comments] == ["c5", "c4", "c3"]
    sqlite_store.upsert_responses(
        [make_record(9, 9, when=base + timedelta(hours=2), comment="mail me at a@b.com")])
    poller.poll()
    assert poller.snapshot.comments[0].text == "mail me at [email]"
    assert len(poller.snapshot.comments) == 3


def test_days_are_cut_in_the_display_time_zone():
    # 2026-06-01 03:00 UTC is still May 31st in Los Angeles.
    micros = to_micros(["2026-06-01 03:00:00.000000"])
    utc_day = local_days(micros, "UTC")[0]
    la_day = local_days(micros, "America/Los_Angeles")[0]
    assert utc_day - la_day == 1


def test_rollup_grows_days_backwards_and_forwards():
    from app.store.database import ChangedRows

    rollup = Rollup()

    def rows(ids, days):
        created = [f"2026-01-{d:02d} 12:00:00.000000" for d in days]
        n = len(ids)
        return ChangedRows(
            ids=np.array(ids), created=to_micros(created) // 1_000_000,
            scores=np.full(n, 9), excluded=np.zeros(n, dtype=bool),
            segment_sets=np.ones(n, dtype=np.int64), topic_sets=np.ones(n, dtype=np.int64),
            segment_keys={1: '{"p": "A"}'}, topic_keys={1: ""}, updated=created)

    rollup.fold(rows([1], [15]))
    rollup.fold(rows([2], [2]))
    rollup.fold(rows([3], [30]))
    assert int(np.asarray(rollup.counts).sum()) == 3


def test_trend_rolling_line_uses_the_days_before_the_window(sqlite_store: Store, settings):
    poller = Poller(sqlite_store, settings)
    now = datetime.now(UTC)
    # Promoters the week before the window, one detractor on its first day.
    sqlite_store.upsert_responses(
        [make_record(i, 10, when=now - timedelta(days=30 + i % 6)) for i in range(30)]
        + [make_record(99, 0, when=now - timedelta(days=29))])
    poller.poll()
    view = poller.view(ViewRequest(window="30d"), now=now)
    assert len(view.trend) == 30
    first = view.trend[0]
    assert first.summary.counts == (0, 0, 1)
    assert first.rolling.counts == (30, 0, 1)


@pytest.mark.parametrize(("window", "granularity", "periods"),
                         [("30d", "day", 30), ("90d", "week", 14), ("365d", "month", 13)])
def test_trend_granularity_follows_the_window(sqlite_store: Store, settings, window,
                                              granularity, periods):
    poller = Poller(sqlite_store, settings)
    sqlite_store.upsert_responses([make_record(1, 9)])
    poller.poll()
    view = poller.view(ViewRequest(window=window))
    assert view.granularity == granularity
    assert len(view.trend) in (periods - 1, periods, periods + 1)
    assert view.trend[0].start <= view.start.isoformat() or granularity == "day"


def test_only_configured_segment_fields_form_groups(sqlite_store: Store, settings):
    poller = Poller(sqlite_store, settings.replace(segment_fields=("product",)))
    sqlite_store.upsert_responses([
        make_record(i, 9, comment="great", product="Ledger", customer_id=f"c-{i}")
        for i in range(50)])
    poller.poll()
    assert poller.snapshot.combos == ({"product": "Ledger"},)
    assert poller.snapshot.comments[0].segments == {"product": "Ledger"}
    assert poller.view(ViewRequest()).current.n == 50


def test_all_time_with_a_segment_filter_starts_at_that_segments_first_day(sqlite_store: Store,
                                                                         settings):
    poller = Poller(sqlite_store, settings)
    now = datetime.now(UTC)
    sqlite_store.upsert_responses(
        [make_record(1, 9, when=now - timedelta(days=400), product="Old")]
        + [make_record(10 + i, 9, when=now - timedelta(days=20), product="New")
           for i in range(5)])
    poller.poll()
    view = poller.view(ViewRequest(window="all", segments=(("product", ("New",)),)), now=now)
    assert view.start == (now - timedelta(days=20)).date()
    assert view.granularity == "day"


def test_weekly_rolling_line_counts_the_whole_first_week(sqlite_store: Store, settings):
    poller = Poller(sqlite_store, settings)
    now = datetime(2026, 11, 19, 12, tzinfo=UTC)  # a Thursday
    start = (now - timedelta(days=89)).date()  # the 90d window starts on a Saturday
    before_start = datetime.combine(start - timedelta(days=1), datetime.min.time(), UTC)
    sqlite_store.upsert_responses([make_record(i, 0, when=before_start + timedelta(hours=12))
                                   for i in range(5)])
    poller.poll()
    view = poller.view(ViewRequest(window="90d"), now=now)
    first = view.trend[0]
    assert view.granularity == "week"
    assert first.summary.n == 0  # the day before the window is not a dot in it...
    assert first.rolling.n == 5  # ...but the rolling line covers the whole week


@pytest.mark.parametrize("segments", [(), (("product", ("Late",)),)])
def test_a_range_ending_before_the_first_response_is_empty_not_an_error(sqlite_store: Store,
                                                                       settings, segments):
    poller = Poller(sqlite_store, settings)
    now = datetime(2026, 3, 20, 12, tzinfo=UTC)
    sqlite_store.upsert_responses([make_record(i, 9, when=datetime(2026, 3, 15, tzinfo=UTC),
                                               product="Late") for i in range(6)])
    poller.poll()
    view = poller.view(ViewRequest(window="range", end=datetime(2026, 3, 1).date(),
                                   segments=segments), now=now)
    assert view.start == view.end == datetime(2026, 3, 1).date()
    assert view.current.n == 0


def test_the_mark_follows_the_database_clock_and_the_version_only_new_data(store: Store,
                                                                          settings):
    poller = Poller(store, settings)
    store.upsert_responses([make_record(1, 9, when=datetime.now(UTC))])
    before = store.clock_micros()
    poller.poll()
    snapshot, mark = poller.current()
    assert mark[0] >= before and snapshot.mark == mark
    # Nothing new: the mark moves (every response committed before it is in the snapshot),
    # the snapshot and its version do not, so screens rebuild nothing.
    assert poller.poll() is False
    same, later = poller.current()
    assert same is snapshot and later > mark
    store.upsert_responses([make_record(2, 3, when=datetime.now(UTC))])
    assert poller.poll() is True
    newer, newest = poller.current()
    assert newer.version == snapshot.version + 1 and newer.mark == newest > later
    assert newest[1] == poller.rollup.max_id


def test_the_database_clock_is_the_servers(store: Store):
    """PostgreSQL answers with its own clock; on one machine it agrees with ours."""
    first = store.clock_micros()
    assert abs(first - time.time_ns() // 1000) < 5_000_000
    assert store.clock_micros() >= first
