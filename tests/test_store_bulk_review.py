"""The bulk import under attack: a poll that starts while an import runs, writes racing an
import, an interrupt or a failed index fill, and awkward files imported twice. Helpers come
from tests/test_store_bulk.py (the row-by-row comparison and the index check live there)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event

from app.ingest.csv_import import ImportWriteFailed, import_file
from app.store import Store
from app.store.bulk import FILL_NEW_ROWS
from app.store.errors import StoreUnavailable
from tests.conftest import make_record
from tests.test_ingest_csv import basic_options, write_rows
from tests.test_store_bulk import (
    found,
    index_is_whole,
    pragmas,
    record,
    stored_before,
    table,
    triggers,
)


def test_a_poll_started_during_an_import_reads_the_rows_it_updated(store: Store):
    """The poller reads rows updated since its previous poll started (minus an overlap of a
    few seconds). An import that runs longer than the overlap must not commit updates
    stamped before a poll that started meanwhile, or the wall never sees them."""
    stored_before(store)  # keys k1000-k1049 and k1100-k1119, stamped T0
    poll_started: list[datetime] = []

    def batches():
        yield [record(i) for i in range(300)]
        poll_started.append(datetime.now(UTC))  # a poll starts (and reads) mid-import
        yield [record(1000 + i) for i in range(50)]  # changed comments and scores

    result = store.upsert_many(batches())
    assert result.updated == 50
    after_id = max(table_ids(store))  # only updated_at can bring old rows back
    read = store.changed_since(poll_started[0], after_id)
    assert len(read) == 50


def table_ids(store: Store) -> list[int]:
    with store.engine.connect() as conn:
        return list(conn.exec_driver_sql("SELECT id FROM responses").scalars())


def test_an_interrupt_mid_import_leaves_everything_as_it_was(sqlite_store: Store):
    stored_before(sqlite_store)
    before, settings_before, rows = triggers(sqlite_store), pragmas(sqlite_store), table(
        sqlite_store)

    def interrupted():
        yield [record(i) for i in range(200)]
        yield [record(1000 + i, version=1) for i in range(50)]  # updates old rows
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sqlite_store.upsert_many(interrupted())
    assert table(sqlite_store) == rows
    assert triggers(sqlite_store) == before and pragmas(sqlite_store) == settings_before
    index_is_whole(sqlite_store)
    sqlite_store.upsert_responses([make_record(7, 3, comment="written after the interrupt")])
    assert found(sqlite_store, "after the interrupt")
    index_is_whole(sqlite_store)


@pytest.mark.parametrize("failure", [OSError("disk I/O error"), KeyboardInterrupt()])
def test_a_failure_in_the_index_fill_leaves_everything_as_it_was(sqlite_store: Store,
                                                                  failure: BaseException):
    stored_before(sqlite_store)
    before, settings_before, rows = triggers(sqlite_store), pragmas(sqlite_store), table(
        sqlite_store)

    def fail_in_fill(_conn, _cursor, statement, *_args):
        if statement == FILL_NEW_ROWS:
            raise failure

    event.listen(sqlite_store.engine, "before_cursor_execute", fail_in_fill)
    try:
        with pytest.raises(type(failure)):
            sqlite_store.upsert_many([[record(i) for i in range(300)],
                                      [record(1000 + i, version=2) for i in range(50)]])
    finally:
        event.remove(sqlite_store.engine, "before_cursor_execute", fail_in_fill)
    assert table(sqlite_store) == rows
    assert triggers(sqlite_store) == before and pragmas(sqlite_store) == settings_before
    index_is_whole(sqlite_store)
    sqlite_store.upsert_many([[record(i) for i in range(300)]])
    index_is_whole(sqlite_store)


def test_writes_racing_an_import_are_refused_clearly_and_indexed_once_retried(
        sqlite_store: Store):
    """During an import a REST write in this process (the write lock) or in another one (the
    file's lock) is refused with a clear 503 error, never written without its index entry;
    a reader elsewhere sees the last commit, triggers included."""
    other = Store(sqlite_store.url)  # another worker process's engine
    other.limit_writes(1, 0.2)
    sqlite_store.limit_writes(1, 0.2)
    seen: dict[str, object] = {}
    sqlite_store.upsert_responses([make_record(8000, 2, comment="a crash stored before")])
    committed = found(sqlite_store, "crash")

    def attempt(name: str, target: Store) -> None:
        try:
            target.upsert_responses([make_record(9000, 4, comment=f"racing write {name}")])
            seen[name] = "written"
        except StoreUnavailable as exc:
            seen[name] = exc

    def batches():
        yield [record(i) for i in range(300)]
        for name, target in (("same process", sqlite_store), ("other process", other)):
            racer = threading.Thread(target=attempt, args=(name, target))
            racer.start()
            racer.join(60)
        assert len(committed) == 1
        seen["triggers"] = triggers(other)
        seen["search"] = found(other, "crash")
        yield [record(i) for i in range(300, 400)]

    try:
        sqlite_store.upsert_many(batches())
        for name in ("same process", "other process"):
            assert isinstance(seen[name], StoreUnavailable), seen[name]
        same, elsewhere = seen["same process"], seen["other process"]
        assert "previous write still ran" in same.detail, same.one_line()
        assert "locked" in elsewhere.detail, elsewhere.one_line()
        # elsewhere, the last commit: the triggers, and what was indexed before the import
        assert seen["triggers"] == triggers(sqlite_store) and seen["search"] == committed
        index_is_whole(sqlite_store)
        other.limit_writes(1, 5.0)
        other.upsert_responses([make_record(9000, 4, comment="racing write retried")])
        assert len(found(sqlite_store, "racing write retried")) == 1
        index_is_whole(sqlite_store, ("racing", "crash"))
    finally:
        other.dispose()


AWKWARD = ["plain text", "line one\r\nline two, \"quoted\"", "nul\x00byte", "zero\u200bwidth",
           "emoji 🙂 and ÉCRAN", "日本語のコメント", "x" * 9_000]


def test_importing_a_file_again_with_edited_comments_updates_the_index(sqlite_store: Store,
                                                                         tmp_path: Path):
    """BOM, CRLF, quoted newlines, NUL and odd unicode; then the same ids again with comments
    changed, left empty or repeated (the first occurrence of an id wins)."""
    first = [[f"a{i}", i % 11, "2024-05-01T10:00:00Z", text]
             for i, text in enumerate(AWKWARD)]
    path = write_rows(tmp_path, first, header=["id", "score", "time", "best"])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\r\n", b"\n")
                     .replace(b"\n", b"\r\n"))
    options = basic_options(id_column="id")
    assert import_file(sqlite_store, path, options).imported == len(AWKWARD)
    index_is_whole(sqlite_store, ("line two", "nulbyte", "écran", "日本語", "xxxx"))
    assert len(found(sqlite_store, "écran")) == 1 and len(found(sqlite_store, "line two")) == 1
    again = [[f"a{i}", i % 11, "2024-05-01T10:00:00Z", ""] for i in range(3)]  # emptied
    again += [[f"a{i}", i % 11, "2024-05-01T10:00:00Z", f"edited {i}"] for i in range(3, 6)]
    again += [["a6", 1, "2024-05-01T10:00:00Z", "first of two"],
              ["a6", 2, "2024-05-01T10:00:00Z", "second of two"]]
    path = write_rows(tmp_path, again, header=["id", "score", "time", "best"])  # same source
    report = import_file(sqlite_store, path, options)
    assert [e.reason for e in report.errors] == ["id 'a6' repeats line 8"]  # the first one wins
    index_is_whole(sqlite_store, ("plain", "line two", "edited", "of two", "écran", "xxxx"))
    # An empty cell never erases a stored comment (vendors' "created" after "updated"):
    # the emptied rows keep their text and their index entries.
    assert len(found(sqlite_store, "plain")) == 1 and len(found(sqlite_store, "line two")) == 1
    assert found(sqlite_store, "xxxx") == []  # a6 now holds its second comment
    assert len(found(sqlite_store, "edited")) == 3 and found(sqlite_store, "second of") == []
    assert len(found(sqlite_store, "first of two")) == 1


def busy_timeout(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.exec_driver_sql("PRAGMA busy_timeout").scalar()


def test_an_import_after_a_rest_write_waits_for_another_writer_as_the_store_says(
        sqlite_store: Store):
    """A REST write shortens its connection's busy timeout to its own deadline; the pooled
    connection must not keep it, or the next import (or wall query) on it gives up on a
    lock another process holds for a moment, with "database is locked"."""
    default = busy_timeout(sqlite_store)
    sqlite_store.limit_writes(1, 0.05)
    sqlite_store.upsert_responses([make_record(1, 5, comment="a REST write")])
    assert busy_timeout(sqlite_store) == default
    other = Store(sqlite_store.url)  # another process, writing for a moment
    holding, done = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with other.engine.begin() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            holding.set()
            done.wait(0.5)  # released after half a second, or once the import is through

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        holding.wait(30)
        result = sqlite_store.upsert_many([[record(i) for i in range(100)]])
        assert result.inserted == 100
    finally:
        done.set()
        holder.join(30)
        other.dispose()
    index_is_whole(sqlite_store)


def test_an_import_that_waited_too_long_for_another_writer_says_so(
        sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Two imports at once (or an import behind a long write elsewhere): the second gives up
    after the busy timeout with a message that says what held it, not only "locked"."""
    monkeypatch.setattr("app.store.sqlite.BUSY_TIMEOUT_MS", 200)
    second = Store(sqlite_store.url)  # the other import's process, a short timeout for the test
    rows = [[f"w{i}", 9, "2024-05-01T10:00:00Z", f"waiting {i}"] for i in range(10)]
    path = write_rows(tmp_path, rows, header=["id", "score", "time", "best"])
    try:
        with sqlite_store.engine.begin() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the first import, writing
            with pytest.raises(ImportWriteFailed) as caught:
                import_file(second, path, basic_options(id_column="id"))
        assert pragmas(second) == pragmas(sqlite_store)  # the import's settings undone
    finally:
        second.dispose()
    message = str(caught.value)
    assert "nothing imported" in message and "another" in message and "again" in message
    assert sqlite_store.count_responses() == 0


def test_awkward_comments_search_the_same_after_bulk_and_row_by_row(settings, tmp_path: Path):
    """NUL, CRLF, zero-width and astral characters, a long comment, then the same keys again
    with comments changed, repeated or absent: both paths store and find the same."""
    from app.store import ResponseRecord, open_store  # noqa: PLC0415 - this test only

    def version(v: int) -> list[ResponseRecord]:
        return [ResponseRecord(source="odd", external_id=f"o{i}", score=(i + v) % 11,
                               created_at=datetime(2024, 5, 1, tzinfo=UTC),
                               comment=None if v and i % 3 == 0 else f"{text} v{v}")
                for i, text in enumerate(AWKWARD * 3)]

    stores = {name: open_store(settings, f"sqlite:///{tmp_path / name}.db")
              for name in ("bulk", "rows")}
    try:
        now = datetime(2024, 6, 1, tzinfo=UTC)
        for v in (0, 1):
            stores["bulk"].upsert_many([version(v)[:10], version(v)[10:]], now=now)
            stores["rows"].upsert_responses(version(v), now=now)
        assert table(stores["bulk"]) == table(stores["rows"])
        probes = ("nulbyte", "line two", "zero", "écran", "日本語", "xxxx", " v1", " v0", "oji 🙂")
        for store in stores.values():  # (trigrams: every probe has three characters at least)
            index_is_whole(store, probes)
        for probe in probes:
            assert found(stores["bulk"], probe) == found(stores["rows"], probe), probe
        assert found(stores["bulk"], " v0") and found(stores["bulk"], " v1")
    finally:
        for store in stores.values():
            store.dispose()
