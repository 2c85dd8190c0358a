"""Bulk upserts on SQLite (``Store.upsert_many``, the CSV import): the same rows, keys, counts
and all-or-nothing as ``Store.upsert_responses``, at the speed of the file.

What makes it fast, and why each step stays safe:

- **The full-text index is filled once, after the rows.** Migration 0006's trigger indexes
  each inserted comment as its own statement (about 60 µs a row for a mix of short and long
  comments); one ``INSERT ... SELECT`` over the new rows at the end costs about a quarter of
  that. The insert trigger is dropped and the update trigger replaced by one that leaves the
  new rows alone (they are indexed at the end with their last comment) INSIDE the import's
  transaction, and both are restored in it before it commits: SQLite's DDL is transactional,
  so a failure, a refused file or a crash (kill -9, power loss: the WAL frames of an
  uncommitted transaction are ignored) rolls the triggers back with the rows, and no other
  connection ever sees the store without them (readers see the last commit; writers wait for
  the write lock the import holds from its first statement).
- **Rows go to the driver as tuples.** The upsert statement is compiled once per import and
  each row's values are converted by the columns' own SQLAlchemy bind processors, so the
  stored text is exactly what ``upsert_responses`` stores, without the per-row machinery.
- **Counts from the driver.** ``executemany`` sums the rows it inserted or changed; rows
  whose id is above the largest id before the import are the new ones. Two reads per import
  instead of two per batch.
- **Changed rows stamped when the import ends.** The poller reads rows updated since its
  previous poll began, minus a few seconds' overlap; rows stored before the import that it
  changed would otherwise carry the time it began and, committed minutes later, never reach
  the wall (new rows are read by id). ``restamp_changed`` moves them to the end, via the
  ``updated_at`` index: the cost follows the rows changed. PostgreSQL's import does the same.
- **Import-time pragmas.** A larger page cache (the unique key's index of a big store stays in
  memory while random keys are inserted) and temporary data in memory, both restored on the
  connection afterwards, whatever happened. ``synchronous`` stays NORMAL: OFF would save
  little in WAL mode and could corrupt the file on power loss during a checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.store.models import Response
from app.store.records import ResponseRecord, UpsertResult

RESPONSES = Response.__table__
COLUMNS = ("source", "external_id", "score", "comment", "created_at", "updated_at",
           "segment_set_id", "topic_set_id", "excluded", "source_updated_at")
INSERT_TRIGGER = "comment_search_ai"
UPDATE_TRIGGER = "comment_search_au"
IMPORT_UPDATE_TRIGGER = "comment_search_au_import"
# Kept as migration 0006 wrote it, but only for rows stored before the import: a row the
# import inserted is not in the index yet, and an FTS5 'delete' of text that was never indexed
# would corrupt it (https://www.sqlite.org/fts5.html#the_delete_command).
_OLD_ROWS_UPDATE = """CREATE TRIGGER {name} AFTER UPDATE OF comment ON responses
   WHEN old.comment IS NOT new.comment AND old.id <= {last_old} BEGIN
     INSERT INTO comment_search(comment_search, rowid, comment)
     SELECT 'delete', old.id, old.comment WHERE old.comment IS NOT NULL;
     INSERT INTO comment_search(rowid, comment)
     SELECT new.id, new.comment WHERE new.comment IS NOT NULL;
   END"""
FILL_NEW_ROWS = ("INSERT INTO comment_search(rowid, comment) SELECT id, comment FROM responses "
                 "WHERE id > ? AND comment IS NOT NULL")
# Page cache (negative: KiB) and temp_store=MEMORY during an import, restored afterwards.
IMPORT_PRAGMAS = (("cache_size", -65_536), ("temp_store", 2))
_NOTHING = object()


@contextmanager
def import_pragmas(conn) -> Iterator[None]:
    """The import's pragmas on ``conn`` (before its transaction), restored however it ends."""
    before = [(name, conn.exec_driver_sql(f"PRAGMA {name}").scalar())
              for name, _value in IMPORT_PRAGMAS]
    try:
        for name, value in IMPORT_PRAGMAS:
            conn.exec_driver_sql(f"PRAGMA {name} = {int(value)}")
        conn.commit()  # ends SQLAlchemy's autobegun block (no BEGIN reached the file)
        yield
    finally:
        if conn.in_transaction():
            conn.rollback()
        for name, value in before:
            conn.exec_driver_sql(f"PRAGMA {name} = {int(value)}")
        conn.commit()


def last_id(conn) -> int:
    """The largest response id stored (0 for none): every row inserted later has a larger one."""
    return int(conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM responses").scalar())


def restamp_changed(conn, stamp: datetime, last_old: int) -> None:
    """Inside an import's transaction, just before it commits: the rows stored before it
    (ids up to ``last_old``) that it changed, stamped ``stamp`` when it began, get the time
    now, so a poll that began during the import reads them after the commit."""
    conn.execute(update(RESPONSES)
                 .where(RESPONSES.c.updated_at == stamp, RESPONSES.c.id <= last_old)
                 .values(updated_at=max(datetime.now(UTC), stamp)))


@contextmanager
def search_index_deferred(conn, last_old: int) -> Iterator[None]:
    """Inside the caller's transaction: comments of rows above ``last_old`` are indexed once
    at the end, and the search triggers are as before when the block ends without an error.
    (On an error the caller rolls back, which restores them too.) Nothing to do on a store
    without the index (an SQLite without FTS5, see migration 0006)."""
    found = dict(conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN (?, ?)",
        (INSERT_TRIGGER, UPDATE_TRIGGER)).all())
    if set(found) != {INSERT_TRIGGER, UPDATE_TRIGGER}:
        yield
        return
    for name in (INSERT_TRIGGER, UPDATE_TRIGGER):
        conn.exec_driver_sql(f"DROP TRIGGER {name}")
    conn.exec_driver_sql(_OLD_ROWS_UPDATE.format(name=IMPORT_UPDATE_TRIGGER,
                                                 last_old=int(last_old)))
    yield
    conn.exec_driver_sql(FILL_NEW_ROWS, (int(last_old),))
    conn.exec_driver_sql(f"DROP TRIGGER {IMPORT_UPDATE_TRIGGER}")
    for name in (INSERT_TRIGGER, UPDATE_TRIGGER):
        conn.exec_driver_sql(found[name])


class CompiledUpsert:
    """The store's upsert statement (``keep_time`` or not) compiled once for the driver, and
    the conversion of a row dict into its positional parameters."""

    def __init__(self, conn, statement_for: Callable[[Any, bool], Any], keep_time: bool):
        dialect = conn.dialect
        compiled = statement_for(sqlite_insert, keep_time).compile(
            dialect=dialect, column_keys=list(COLUMNS))
        self.sql = str(compiled)
        fixed = {name: bind.effective_value for name, bind in compiled.binds.items()}
        # The dialect's own types (SQLite's DATETIME writes microseconds; the generic one
        # would leave the datetime to the driver, which writes none): as the store writes.
        processors = {name: RESPONSES.c[name].type.dialect_impl(dialect).bind_processor(dialect)
                      for name in COLUMNS}
        # (column, processor) for a row's values; (None, value) for the statement's literals.
        self.parts: list[tuple[str | None, Any]] = [
            (name, processors[name]) if name in processors else (None, fixed[name])
            for name in compiled.positiontup]
        names = [name for name, _ in self.parts if name is not None]
        self.fast = all(name is None for name, _ in self.parts[len(names):])
        if self.fast:  # the usual shape: the columns, then the literals ("" of nullif)
            self.columns = itemgetter(*names)
            self.tail = tuple(value for _, value in self.parts[len(names):])
            self.processed = [(i, process) for i, (_, process) in enumerate(self.parts[:len(names)])
                              if process is not None]

    def parameters(self, rows: Iterable[dict[str, Any]]) -> list[tuple]:
        """Each row as the tuple the compiled statement takes."""
        if not self.fast:
            return [tuple((process(row[name]) if process else row[name]) if name is not None
                          else process for name, process in self.parts) for row in rows]
        last = {i: (_NOTHING, None) for i, _ in self.processed}  # a batch's `now` repeats
        result = []
        for row in rows:
            values = list(self.columns(row))
            for i, process in self.processed:
                value = values[i]
                seen, out = last[i]
                if value is not seen:
                    out = process(value)
                    last[i] = (value, out)
                values[i] = out
            result.append((*values, *self.tail))
        return result


def upsert_batches(store: Any, conn, batches: Iterable[Sequence[ResponseRecord]],
                   now: datetime, learned: dict[str, dict[str, int]],
                   statement_for: Callable[[Any, bool], Any], restamp: bool = False
                   ) -> UpsertResult:
    """Every batch upserted by ``store`` (the ``Store``, untyped here as it imports this
    module) on ``conn`` (SQLite, inside the caller's write transaction, lock taken), the
    search index deferred, changed rows stamped at the end when ``restamp``; the totals."""
    last_old = last_id(conn)
    statements: dict[bool, CompiledUpsert] = {}
    written = changed = 0
    with search_index_deferred(conn, last_old):
        for records in batches:
            if not records:
                continue
            by_key = {(r.source, r.external_id): r for r in records}  # last one wins
            keys = list(by_key)
            fixes = store.corrections_by_key(conn, keys)
            rows = [store._row(by_key[key], now, fixes.get(key)) for key in keys]  # noqa: SLF001
            for name, ids in store._resolve_sets(conn, rows).items():  # noqa: SLF001
                learned.setdefault(name, {}).update(ids)
            keep_time = [by_key[key].created_at is None for key in keys]
            for keeps, run in groupby(zip(rows, keep_time, strict=True), key=lambda p: p[1]):
                if keeps not in statements:
                    statements[keeps] = CompiledUpsert(conn, statement_for, keeps)
                statement = statements[keeps]
                cursor = conn.exec_driver_sql(statement.sql,
                                              statement.parameters(row for row, _ in run))
                changed += max(cursor.rowcount, 0)
            written += len(rows)
    if restamp:
        restamp_changed(conn, now, last_old)
    inserted = int(conn.exec_driver_sql("SELECT count(*) FROM responses WHERE id > ?",
                                        (last_old,)).scalar())
    return UpsertResult(inserted, changed - inserted, written - changed)


def upsert_many(store: Any, batches: Iterable[Sequence[ResponseRecord]],
                now: datetime | None, statement_for: Callable[[Any, bool], Any]
                ) -> UpsertResult:
    """``Store.upsert_many`` on SQLite: one write transaction with the import's pragmas, the
    search index filled once at its end; set ids cached once committed."""
    learned: dict[str, dict[str, int]] = {}
    # noqa: SLF001 - the store's own write path, as app/store/retag.py takes it
    with store._write_lock, store.engine.connect() as conn, import_pragmas(conn):  # noqa: SLF001
        with conn.begin():
            store._take_write_locks(conn)  # noqa: SLF001
            stamp = now or datetime.now(UTC)
            totals = upsert_batches(store, conn, batches, stamp, learned, statement_for,
                                    restamp=now is None)
    for name, ids in learned.items():  # only ids that were committed
        store._set_cache.setdefault(name, {}).update(ids)  # noqa: SLF001
    return totals
