"""The store on SQLite and on the real PostgreSQL: schema, idempotent upserts, reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect

from app.store import ResponseRecord, Store, open_store
from app.store.database import MIGRATIONS_DIR
from tests.conftest import MIGRATION_HEAD as HEAD
from tests.conftest import make_record


def test_the_newest_revision_is_read_from_the_scripts():
    assert HEAD is not None and HEAD == sorted(
        p.name.split("_")[0] for p in (MIGRATIONS_DIR / "versions").glob("0*.py"))[-1]


def test_upgrade_creates_schema_at_head_and_is_repeatable(store: Store):
    assert store.current_revision() == HEAD
    store.upgrade()
    assert store.current_revision() == HEAD
    tables = set(inspect(store.engine).get_table_names())
    assert {"responses", "events", "alembic_version"} <= tables


def test_upsert_is_idempotent_on_source_and_external_id(store: Store):
    records = [make_record(i, i % 11, comment=f"comment {i}") for i in range(30)]
    assert store.upsert_responses(records).inserted == 30
    again = store.upsert_responses(records)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 30)
    assert store.count_responses() == 30


def test_same_external_id_from_another_source_is_another_response(store: Store):
    store.upsert_responses([make_record(1, 9, source="a"), make_record(1, 9, source="b")])
    assert store.count_responses() == 2


def test_a_repeat_with_new_content_updates_the_row_and_its_updated_at(store: Store):
    first = datetime.now(UTC) - timedelta(minutes=5)
    store.upsert_responses([make_record(1, 9)], now=first)
    before = store.changed_since(first - timedelta(seconds=1), 0)
    result = store.upsert_responses([make_record(1, 9, comment="added later")])
    assert (result.inserted, result.updated) == (0, 1)
    rows = store.changed_since(datetime.now(UTC) - timedelta(minutes=1), 10**9)
    assert rows.ids == before.ids
    assert rows.comments == ["added later"]


def test_unchanged_repeat_keeps_updated_at(store: Store):
    earlier = datetime.now(UTC) - timedelta(hours=1)
    store.upsert_responses([make_record(1, 9, when=earlier)], now=earlier)
    store.upsert_responses([make_record(1, 9, when=earlier)])
    assert len(store.changed_since(datetime.now(UTC) - timedelta(minutes=10), 10**9)) == 0


def test_topics_are_tagged_at_ingest(store: Store):
    store.upsert_responses([make_record(1, 3, comment="Way too expensive after the renewal")])
    rows = store.load_all()
    assert "Pricing" in rows.topic_keys[int(rows.topic_sets[0])].split(",")


def test_changed_since_reads_new_ids_and_recent_updates_only(store: Store):
    old = datetime.now(UTC) - timedelta(hours=2)
    store.upsert_responses([make_record(i, 8) for i in range(100)], now=old)
    all_rows = store.load_all()
    assert len(all_rows) == 100
    assert all_rows.comments is None  # the full read leaves comments out
    newest = max(all_rows.ids)
    assert len(store.changed_since(datetime.now(UTC) - timedelta(minutes=1), newest)) == 0
    store.upsert_responses([make_record(500, 10)])
    assert len(store.changed_since(datetime.now(UTC) - timedelta(minutes=1), newest)) == 1
    # A row with an id above the watermark is read even if its clock was behind.
    store.upsert_responses([make_record(501, 10)], now=old)
    rows = store.changed_since(datetime.now(UTC) - timedelta(minutes=1), newest + 1)
    assert len(rows) == 2


def test_newest_comments_skip_blank_and_excluded(store: Store):
    base = datetime(2026, 1, 1, tzinfo=UTC)
    store.upsert_responses([
        make_record(1, 9, when=base, comment="oldest"),
        make_record(2, 9, when=base + timedelta(days=1), comment=""),
        make_record(3, 9, when=base + timedelta(days=2), comment="newest"),
        ResponseRecord("test", "4", 2, base + timedelta(days=3), "hidden", {}, excluded=True),
    ])
    assert store.newest_comments(5).comments == ["newest", "oldest"]


def test_events_round_trip_in_utc(store: Store):
    when = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    event_id = store.add_event(when, "v2.3 released", "release", "notes")
    [event] = store.list_events()
    assert (event.id, event.occurred_at, event.label, event.kind) == (
        event_id, when, "v2.3 released", "release")
    assert store.remove_event(event_id) is True
    assert store.remove_event(event_id) is False
    assert store.list_events() == []


def test_naive_times_are_refused_before_anything_is_written(store: Store):
    naive = ResponseRecord("test", "x", 9, datetime(2026, 1, 1))
    with pytest.raises(Exception, match="naive"):
        store.upsert_responses([make_record(1, 9), naive])
    assert store.count_responses() == 0


def test_ping_reports_an_unreachable_database(tmp_path):
    bad = Store("postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert bad.ping() is False


def test_a_late_repeat_without_comment_keeps_the_comment(store: Store):
    when = datetime(2026, 5, 1, 12, tzinfo=UTC)
    store.upsert_responses([make_record(1, 9, when=when)])
    store.upsert_responses([make_record(1, 9, when=when, comment="Support was superb")])
    # The vendor retries its first "created" delivery after the "updated" one.
    result = store.upsert_responses([make_record(1, 9, when=when)])
    assert (result.updated, result.unchanged) == (0, 1)
    [row] = store.list_responses()
    assert row["comment"] == "Support was superb"
    assert "Support" in row["topics"]
    # A real change of score still applies, and the comment stays.
    store.upsert_responses([make_record(1, 4, when=when, comment="")])
    [row] = store.list_responses()
    assert (row["score"], row["comment"]) == (4, "Support was superb")


def _version(score: int, at: datetime | None, comment: str | None = None) -> ResponseRecord:
    return ResponseRecord("test", "1", score, datetime(2026, 5, 1, 12, tzinfo=UTC), comment,
                          source_updated_at=at)


def test_an_older_version_never_overwrites_a_newer_one(store: Store):
    t0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
    store.upsert_responses([_version(2, t0)])
    store.upsert_responses([_version(10, t0 + timedelta(minutes=5), "Fixed my issue")])
    before = store.list_responses()
    result = store.upsert_responses([_version(2, t0)])  # replayed or retried late
    assert (result.inserted, result.updated, result.unchanged) == (0, 0, 1)
    assert store.list_responses() == before
    assert (before[0]["score"], before[0]["comment"]) == (10, "Fixed my issue")
    # The same time applies (a redelivery), and a newer one too.
    store.upsert_responses([_version(9, t0 + timedelta(minutes=5))])
    store.upsert_responses([_version(7, t0 + timedelta(minutes=9))])
    assert store.list_responses()[0]["score"] == 7


def test_a_version_without_a_time_keeps_the_old_behaviour(store: Store):
    t0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
    store.upsert_responses([_version(2, None)])
    store.upsert_responses([_version(10, t0)])
    store.upsert_responses([_version(4, None)])  # no time: the latest delivery wins
    assert store.list_responses()[0]["score"] == 4
    # ...and the stored time is kept, so an older versioned delivery is still refused.
    store.upsert_responses([_version(1, t0 - timedelta(seconds=1))])
    assert store.list_responses()[0]["score"] == 4


def test_a_new_sqlite_store_and_its_wal_files_are_readable_by_the_owner_only(tmp_path):
    import os
    import stat

    path = tmp_path / "nps.sqlite"
    old_umask = os.umask(0o022)  # the common default, which would leave them world-readable
    try:
        store = Store(f"sqlite:///{path}")
        store.upgrade()
        store.upsert_responses([make_record(1, 9)])
        with store.engine.connect():  # an open connection keeps -wal and -shm in place
            files = [path, *(p for p in tmp_path.iterdir() if p.name.endswith(("-wal", "-shm")))]
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}
        store.dispose()
    finally:
        os.umask(old_umask)
    assert len(modes) == 3, modes
    assert set(modes.values()) == {0o600}, {k: oct(v) for k, v in modes.items()}


def test_open_store_tags_limits_and_migrates_as_configured(settings):
    store = open_store(settings.replace(write_concurrency=2, write_timeout_seconds=1.5))
    try:
        assert store.url == settings.resolved_database_url
        assert store.current_revision() == HEAD
        assert (store.writes.concurrency, store.writes.timeout) == (2, 1.5)
        assert "Pricing" in store.tagger("The price went up again")
    finally:
        store.dispose()


def test_open_store_readies_a_given_store_and_opens_another_url(settings, tmp_path):
    given = Store(f"sqlite:///{tmp_path / 'given.db'}")
    assert open_store(settings.replace(write_concurrency=3), store=given) is given
    assert (given.current_revision(), given.writes.concurrency) == (HEAD, 3)
    other = open_store(settings, f"sqlite:///{tmp_path / 'other.db'}")
    assert other.url.endswith("other.db") and other.current_revision() == HEAD
    for store in (given, other):
        store.dispose()
