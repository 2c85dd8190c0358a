"""The poller under hostile data: dates at the ends of time, thousands of segment values,
future-dated rows, bulk imports, and store failures in a row."""

from __future__ import annotations

import logging
import time
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import text

from app.poller import Poller
from app.rollup import Rollup
from app.segments import OTHER
from app.store import ResponseRecord, Store
from app.store.database import ChangedRows
from app.views import ViewRequest
from tests.conftest import make_record

FIRST_DAY = datetime(1, 1, 1, tzinfo=UTC)
LAST_DAY = datetime(9999, 12, 31, tzinfo=UTC)


def rollup_bytes(poller: Poller) -> int:
    """What the rollup's count arrays and the published snapshot's copies hold."""
    arrays = (poller.rollup.counts, poller.rollup.topic_counts, poller.snapshot.counts,
              poller.snapshot.topic_counts)
    return sum(a.nbytes for a in arrays)


def test_dates_at_the_ends_of_time_and_5000_segment_values_leave_the_poller_healthy(
        store: Store, settings):
    # Stored before the input rules existed: the store itself takes any date.
    store.upsert_responses([make_record(1, 0, when=FIRST_DAY, comment="year one"),
                            make_record(2, 10, when=LAST_DAY, comment="year 9999")])
    now = datetime.now(UTC)
    store.upsert_responses([make_record(10 + i, i % 11, when=now - timedelta(days=i % 30),
                                        product=f"p{i}") for i in range(5_000)])
    poller = Poller(store, settings)
    assert poller.poll() is True
    health = poller.health()
    assert health["last_poll_error"] is None
    assert health["poll_failures"] == 0
    assert health["responses_outside_range"] == 2
    assert poller.snapshot.stored == 5_002
    assert any("outside the plausible time range" in w for w in health["warnings"])
    assert any("'product'" in w and OTHER in w for w in health["warnings"])
    # 200 kept values and "Other", over about two months of days: a few MB, not GiB.
    products = {c.get("product") for c in poller.snapshot.combos} - {None}
    assert len(products) == settings.segment_values_max + 1
    assert OTHER in products
    assert rollup_bytes(poller) < 32 * 2**20
    assert poller.snapshot.days < 120

    view = poller.view(ViewRequest(window="all"), now=now)
    assert view.current.n == 5_000
    assert view.start >= (now - timedelta(days=31)).date()
    assert all(c.text not in ("year one", "year 9999") for c in view.comments)
    ranged = poller.view(ViewRequest(window="range", start=date(2000, 1, 1),
                                     end=now.date()), now=now)
    assert ranged.current.n == 5_000

    # Later polls stay healthy and count new rows; the outliers are still left out.
    store.upsert_responses([make_record(9_000, 9, when=now), make_record(
        9_001, 9, when=datetime(1, 6, 1, tzinfo=UTC))])
    assert poller.poll() is True
    assert poller.last_error is None
    assert poller.view(ViewRequest(window="all"), now=now).current.n == 5_001
    assert poller.health()["responses_outside_range"] == 3
    assert rollup_bytes(poller) < 32 * 2**20


def test_outside_rows_are_logged_once(sqlite_store: Store, settings, caplog):
    sqlite_store.upsert_responses([make_record(1, 9, when=FIRST_DAY)])
    poller = Poller(sqlite_store, settings)
    with caplog.at_level(logging.WARNING):
        poller.poll()
        sqlite_store.upsert_responses([make_record(2, 9, when=LAST_DAY)])
        poller.poll()
    lines = [r for r in caplog.records if "outside the plausible time range" in r.getMessage()]
    assert len(lines) == 1
    assert poller.health()["responses_outside_range"] == 2


def test_moving_a_row_into_the_range_counts_it_and_out_again_uncounts_it(sqlite_store: Store,
                                                                        settings):
    poller = Poller(sqlite_store, settings)
    now = datetime.now(UTC)
    sqlite_store.upsert_responses([make_record(1, 0, when=LAST_DAY)])
    poller.poll()
    assert poller.view(ViewRequest(window="all")).current.n == 0
    sqlite_store.upsert_responses([make_record(1, 0, when=now)])
    poller.poll()
    assert poller.view(ViewRequest(window="all")).current.n == 1
    assert poller.health()["responses_outside_range"] == 0
    sqlite_store.upsert_responses([make_record(1, 0, when=FIRST_DAY)])
    poller.poll()
    assert poller.view(ViewRequest(window="all")).current.n == 0
    assert poller.health()["responses_outside_range"] == 1


def _rows(ids: list[int], created: list[datetime], updated: list[datetime]) -> ChangedRows:
    n = len(ids)
    return ChangedRows(
        ids=np.array(ids, dtype=np.int64),
        created=np.array([int(c.timestamp()) for c in created], dtype=np.int64),
        scores=np.full(n, 9, dtype=np.int16), excluded=np.zeros(n, dtype=bool),
        segment_sets=np.ones(n, dtype=np.int64), topic_sets=np.ones(n, dtype=np.int64),
        segment_keys={1: '{"product": "A"}'}, topic_keys={1: ""},
        updated=[u.replace(tzinfo=None) for u in updated], comments=["hi"] * n)


def test_a_row_ahead_of_the_range_counts_once_the_range_reaches_it():
    rollup = Rollup()
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    rollup.fold(_rows([1, 2], [now, now + timedelta(days=3)], [now, now]), now=now)
    assert int(rollup.counts.sum()) == 1
    assert rollup.outside == 1
    assert rollup.admit_due(now + timedelta(days=1)) == 0
    assert rollup.admit_due(now + timedelta(days=2, hours=1)) == 1
    assert int(rollup.counts.sum()) == 2
    assert rollup.outside == 0
    assert rollup.counts.shape[1] < 60


def test_the_gong_follows_the_newest_write_not_the_latest_date(store: Store, settings):
    poller = Poller(store, settings)
    poller.poll()
    now = datetime.now(UTC)
    # Within the range, but dated ahead: it must not stay "the newest" once others arrive.
    store.upsert_responses([make_record(1, 10, when=now + timedelta(hours=20))])
    poller.poll()
    assert poller.snapshot.latest.id is not None
    first = poller.snapshot.latest.id
    store.upsert_responses([make_record(2, 0, when=now - timedelta(hours=1))])
    poller.poll()
    assert poller.snapshot.latest.id != first
    assert poller.snapshot.latest.score == 0
    # A row dated in year 9999 (stored before the rules) never takes the gong.
    store.upsert_responses([make_record(3, 10, when=LAST_DAY, comment="forever")])
    poller.poll()
    assert poller.snapshot.latest.score == 0


def test_segment_values_beyond_the_cap_are_grouped_as_other(store: Store, settings, caplog):
    poller = Poller(store, settings.replace(segment_values_max=3))
    store.upsert_responses([make_record(i, 9, product=f"p{i}", region="EU")
                            for i in range(10)])
    with caplog.at_level(logging.WARNING):
        poller.poll()
        store.upsert_responses([make_record(100 + i, 0, product=f"q{i}", region=f"r{i}")
                                for i in range(5)])
        poller.poll()
    # The first values seen are kept; which ones depends on the order rows are read.
    products = {c["product"] for c in poller.snapshot.combos}
    assert len(products) == 4 and OTHER in products
    assert products - {OTHER} <= {f"p{i}" for i in range(10)}
    by_product = poller.view(ViewRequest(segments=(("product", (OTHER,)),)))
    assert by_product.current.n == 7 + 5
    assert poller.view(ViewRequest(segments=(("region", (OTHER,)),))).current.n == 3
    warnings = poller.health()["warnings"]
    assert [w.split("'")[1] for w in warnings] == ["product", "region"]
    logged = [r.getMessage() for r in caplog.records if OTHER in r.getMessage()]
    assert len(logged) == 2


def test_idle_polls_after_a_bulk_import_read_next_to_nothing(store: Store, settings):
    settings = settings.replace(poll_seconds=0.2, poll_overlap_seconds=0.5)
    poller = Poller(store, settings)
    poller.poll()
    imported_at = datetime.now(UTC)
    when = imported_at - timedelta(days=1)
    store.upsert_responses([make_record(i, i % 11, when=when) for i in range(50_000)],
                           now=imported_at)
    assert poller.poll() is True
    assert poller.snapshot.stored == 50_000
    # Once the overlap has passed since the import, a poll (and so every later one) reads
    # only what was written since.
    wait = settings.poll_overlap_seconds + settings.poll_seconds
    time.sleep(max(0.0, (imported_at + timedelta(seconds=wait) - datetime.now(UTC))
                   .total_seconds()))
    poller.poll()
    for _ in range(3):
        time.sleep(settings.poll_seconds)
        assert poller.poll() is False
        assert poller.last_poll_rows <= 5

    # A transaction stamped before the previous poll started but committed after it, and
    # (as with PostgreSQL sequences) given an id below the newest seen, is still read.
    started = datetime.now(UTC)
    poller.poll()
    store.upsert_responses([make_record(60_000, 0, when=when)],
                           now=started - timedelta(seconds=0.2))
    poller.rollup.max_id = 10**9
    assert poller.poll() is True
    assert poller.last_poll_rows >= 1
    assert poller.view(ViewRequest(window="all")).current.n == 50_001


def test_failures_in_a_row_are_counted_and_reset_by_a_success(sqlite_store: Store, settings):
    poller = Poller(sqlite_store, settings)
    poller.poll()
    with sqlite_store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE responses RENAME TO gone"))
    poller.poll()
    poller.poll()
    assert poller.health()["poll_failures"] == 2
    with sqlite_store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE gone RENAME TO responses"))
    assert poller.poll() is False
    assert poller.health()["poll_failures"] == 0
    assert poller.health()["last_poll_error"] is None


@pytest.mark.parametrize("record", [
    ResponseRecord("t", "x", 9, FIRST_DAY), ResponseRecord("t", "x", 9, LAST_DAY)])
def test_the_first_poll_after_a_restart_skips_outside_rows_too(store: Store, settings, record):
    store.upsert_responses([record, make_record(1, 9, comment="fine")])
    poller = Poller(store, settings)
    assert poller.poll() is True
    assert poller.view(ViewRequest(window="all")).current.n == 1
    assert [c.text for c in poller.snapshot.comments] == ["fine"]
    assert poller.health()["responses_outside_range"] == 1
