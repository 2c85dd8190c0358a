"""SQLite bulk upserts (app/store/bulk.py): the same rows, counts and search index as the
row-by-row path, the search triggers and pragmas back afterwards however the import ends, and
a crash in the middle leaves the full-text index whole."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from app.store import ResponseRecord, Store, open_store
from app.store.bulk import IMPORT_PRAGMAS
from app.store.search import CommentQuery
from tests.conftest import make_record

ROOT = Path(__file__).resolve().parents[1]
WORDS = ("crash", "pricing", "support", "slow", "lovely", "export", "écran", "日本語")
T0 = datetime(2024, 5, 1, 10, tzinfo=UTC)


def record(i: int, version: int = 0, timed: bool = True) -> ResponseRecord:
    comment = None if i % 5 == 0 else f"{WORDS[(i + version) % len(WORDS)]} row {i} v{version}"
    return ResponseRecord(source="bulk", external_id=f"k{i}", score=(i + version) % 11,
                          created_at=T0 + timedelta(minutes=i) if timed else None,
                          comment=comment, segments={"plan": ("free", "team")[i % 2]})


def batches() -> list[list[ResponseRecord]]:
    """New rows, rows stored before (some changed, some not), a key repeated with a new
    comment in a later batch (its row was inserted by this very import), untimed rows."""
    first = [record(i) for i in range(0, 300)]
    second = [record(i, version=1) for i in range(250, 500)]  # 250-299 inserted just before
    third = [record(i, timed=False) for i in range(500, 600)]
    third += [record(1000 + i) for i in range(50)] + [record(1100 + i) for i in range(20)]
    return [first, second, third]


def stored_before(store: Store) -> None:
    """Rows stored before the import: some the import changes, some it leaves as they are."""
    store.upsert_responses([record(1000 + i, version=3) for i in range(50)], now=T0)
    store.upsert_responses([record(1100 + i) for i in range(20)], now=T0)


def table(store: Store) -> list[tuple]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT r.id, r.source, r.external_id, r.score, r.comment, r.created_at, "
            "r.updated_at, s.key, t.key, r.excluded, r.source_updated_at FROM responses r "
            "JOIN segment_sets s ON s.id = r.segment_set_id "
            "JOIN topic_sets t ON t.id = r.topic_set_id ORDER BY r.id"))]


def index_is_whole(store: Store, probes: tuple[str, ...] = (*WORDS, "row 2", " v1")) -> None:
    """The full-text index holds exactly the stored comments: FTS5's own check of its
    structure, one index entry per row with a comment, and every probe found by the index
    exactly where a scan of the rows finds it. (FTS5's check against the content table,
    ``rank = 1``, counts rows without a comment as missing, which migration 0006 never
    indexes, so it is not used.)"""
    with store.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO comment_search(comment_search) "
                             "VALUES ('integrity-check')")
        indexed = conn.exec_driver_sql("SELECT id FROM comment_search_docsize ORDER BY id")
        commented = conn.exec_driver_sql(
            "SELECT id FROM responses WHERE comment IS NOT NULL ORDER BY id")
        assert indexed.scalars().all() == commented.scalars().all()
        for probe in probes:
            matched = conn.exec_driver_sql(
                "SELECT rowid FROM comment_search WHERE comment_search MATCH ? ORDER BY rowid",
                (f'"{probe}"',)).scalars().all()
            scanned = conn.exec_driver_sql(
                "SELECT id FROM responses WHERE nps_lower(comment) LIKE ? ORDER BY id",
                (f"%{probe}%",)).scalars().all()
            assert matched == scanned, probe


def found(store: Store, word: str) -> list[int]:
    return sorted(r["id"] for r in store.search_comments(CommentQuery(text=word, limit=1000)))


def triggers(store: Store) -> dict[str, str]:
    with store.engine.connect() as conn:
        return dict(conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").all())


def test_bulk_path_stores_what_row_by_row_stores(settings, tmp_path: Path):
    stores = {name: open_store(settings, f"sqlite:///{tmp_path / name}.db")
              for name in ("bulk", "rows")}
    try:
        for store in stores.values():
            stored_before(store)
        now = T0 + timedelta(days=1)
        bulk = stores["bulk"].upsert_many(batches(), now=now)
        totals = [0, 0, 0]
        for batch in batches():  # the generic path, one transaction per batch
            result = stores["rows"].upsert_responses(batch, now=now)
            totals = [a + b for a, b in zip(totals, (result.inserted, result.updated,
                                                     result.unchanged), strict=True)]
        assert (bulk.inserted, bulk.updated, bulk.unchanged) == tuple(totals)
        assert bulk.inserted == 600 and bulk.updated > 50 and bulk.unchanged > 0
        assert table(stores["bulk"]) == table(stores["rows"])
        for store in stores.values():
            index_is_whole(store)
        for word in (*WORDS, " v1", "row 27"):
            assert found(stores["bulk"], word) == found(stores["rows"], word), word
        assert found(stores["bulk"], " v1")  # the repeated keys' new comments are indexed
    finally:
        for store in stores.values():
            store.dispose()


def test_the_integrity_check_catches_a_row_missing_from_the_index(sqlite_store: Store):
    """The check the other tests rely on does fail when the index and the rows differ."""
    with sqlite_store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER comment_search_ai")
    sqlite_store.upsert_responses([make_record(1, 9, comment="never indexed")])
    with pytest.raises(AssertionError):
        index_is_whole(sqlite_store)


def pragmas(store: Store) -> list:
    with store.engine.connect() as conn:
        return [conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name, _ in IMPORT_PRAGMAS]


def test_triggers_and_pragmas_are_back_after_an_import_and_after_a_failed_one(
        sqlite_store: Store):
    before, settings_before = triggers(sqlite_store), pragmas(sqlite_store)
    assert {"comment_search_ai", "comment_search_au", "comment_search_ad"} <= set(before)
    sqlite_store.upsert_many(batches())
    assert triggers(sqlite_store) == before and pragmas(sqlite_store) == settings_before

    def failing():
        yield [record(i) for i in range(2000, 2100)]
        raise RuntimeError("the file was refused")

    rows = table(sqlite_store)
    with pytest.raises(RuntimeError, match="refused"):
        sqlite_store.upsert_many(failing())
    assert table(sqlite_store) == rows
    assert triggers(sqlite_store) == before and pragmas(sqlite_store) == settings_before
    index_is_whole(sqlite_store)
    sqlite_store.upsert_responses([make_record(7, 3, comment="indexed by the trigger")])
    assert found(sqlite_store, "by the trigger")  # the restored trigger works
    index_is_whole(sqlite_store)


CRASH = textwrap.dedent("""
    import os, sys
    from datetime import UTC, datetime
    from app.store import ResponseRecord, Store
    store = Store(sys.argv[1])
    def batches():
        for b in range(3):
            yield [ResponseRecord(source="crash", external_id=f"c{b}-{i}", score=9,
                                  created_at=datetime(2024, 5, 1, tzinfo=UTC),
                                  comment=f"crashing import {b} {i}") for i in range(1000)]
        with store.engine.connect() as other:  # what the crashing process had done so far
            print(other.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE "
                                        "name = 'comment_search_ai'").scalar(), flush=True)
        os._exit(9)  # as kill -9 would, mid-transaction: the triggers are dropped by now
    store.upsert_many(batches())
""")


def test_a_crash_mid_import_leaves_the_search_index_whole(sqlite_store: Store):
    sqlite_store.upsert_responses([make_record(i, 8, comment=f"stored before {i}")
                                   for i in range(100)])
    before, rows = triggers(sqlite_store), table(sqlite_store)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", CRASH, sqlite_store.url], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 9, done.stderr
    assert done.stdout.strip() == "1"  # another connection still saw the trigger meanwhile
    sqlite_store.dispose()  # as a new process would: nothing cached
    assert triggers(sqlite_store) == before
    assert table(sqlite_store) == rows
    index_is_whole(sqlite_store)
    assert not found(sqlite_store, "crashing import")
    assert len(found(sqlite_store, "stored before")) == 100
    index_is_whole(sqlite_store, ("crashing", "stored before"))
    sqlite_store.upsert_many([[make_record(500, 9, comment="after the crash")]])
    assert found(sqlite_store, "after the crash")
    index_is_whole(sqlite_store)
