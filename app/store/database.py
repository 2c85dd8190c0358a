"""The data-access class: every query NPS TV runs lives here."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import (
    Engine,
    and_,
    case,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.store import bulk, polling, reading, search, writes
from app.store.corrections import Corrections, KnownKeys, TopicMethods
from app.store.errors import StoreUnavailable, is_store_failure, translated, unavailable
from app.store.models import Event, Response, SegmentSet, TopicSet
from app.store.polling import ChangedRows, to_naive_utc  # noqa: F401 - re-exported
from app.store.records import (  # noqa: F401 - re-exported
    EventRow,
    ResponseRecord,
    UpsertResult,
    canonical_segments,
)
from app.store.sqlite import prepare_sqlite_file, restore_busy_timeout, sqlite_pragmas
from app.store.writes import WriteGate

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant works; it only has to be the same in every process of one deployment.
UPGRADE_LOCK_KEY = 0x4E505354  # "NPST"
WRITE_LOCK_KEY = 0x4E505357  # "NPSW"
RESPONSES = Response.__table__
EVENTS = Event.__table__
SEGMENT_SETS = SegmentSet.__table__
TOPIC_SETS = TopicSet.__table__


class Store(TopicMethods):
    """The response store on one SQLAlchemy engine (SQLite file or PostgreSQL)."""

    def __init__(self, url: str, tagger: Callable[[str | None], Iterable[str]] | None = None):
        self.url = url
        self.tagger = tagger or (lambda _text: ())
        self.engine: Engine = create_engine(url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":  # StorePathError if it cannot live there
            prepare_sqlite_file(self.engine.url.database)
            event.listen(self.engine, "connect", sqlite_pragmas)
            event.listen(self.engine, "checkin", restore_busy_timeout)
        event.listen(self.engine, "after_cursor_execute", writes.statement_finished)
        event.listen(self.engine, "checkin", writes.checked_in)
        self._write_lock = threading.Lock()
        self.writes = WriteGate()
        self._set_cache: dict[str, dict[str, int]] = {}

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    # -- schema ---------------------------------------------------------------------------

    def upgrade(self) -> None:
        """Bring the schema to the newest Alembic revision (safe to run from many processes)."""
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        with translated(), self.engine.begin() as conn:
            if self.dialect == "postgresql":
                # Two workers starting together must not both create the tables.
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": UPGRADE_LOCK_KEY})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def current_revision(self) -> str | None:
        """The Alembic revision the database is at (None before the first upgrade)."""
        with self.engine.connect() as conn:
            try:
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            except Exception:  # noqa: BLE001 - no version table yet means no revision
                return None

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - /health reports, never raises
            return False

    # -- writes ---------------------------------------------------------------------------

    def limit_writes(self, concurrency: int, timeout_seconds: float) -> None:
        """How many writes may run at once here, and how long each may wait (then 503)."""
        self.writes.configure(concurrency, timeout_seconds)

    @contextmanager
    def _writing(self, serialised: bool = False) -> Iterator[Any]:
        """A write transaction within the write budget; StoreUnavailable when the store fails.

        ``serialised`` also takes this process's write lock (upserts), within the same deadline.
        """
        gate = self.writes
        with gate.admit() as deadline:
            if serialised:
                gate.take(self._write_lock, deadline)
            try:
                with self.engine.begin() as conn:
                    gate.limit(conn, self.dialect, deadline)
                    yield conn
            except StoreUnavailable:
                raise
            except Exception as exc:
                if is_store_failure(exc):
                    raise gate.failed(unavailable(exc)) from None
                raise
            finally:
                if serialised:
                    self._write_lock.release()
        gate.succeeded()

    def upsert_responses(self, records: Sequence[ResponseRecord],
                         now: datetime | None = None) -> UpsertResult:
        """Insert new records and update changed ones, all in one transaction.

        The (source, external_id) pair is the idempotency key: a repeat with identical content
        leaves the row untouched (its ``updated_at`` too); a repeat with new content updates it.
        A record without ``created_at`` gets ``now`` when new and keeps the stored time when not.
        """
        if not records:
            return UpsertResult(0, 0, 0)
        learned: dict[str, dict[str, int]] = {}
        # Tagging is most of a write's time and needs no lock: done before the write takes
        # its slot and the database's write lock, which every other writer then waits on.
        ahead = self.tag_ahead(r.comment for r in records)
        with self._writing(serialised=True) as conn:
            self._take_write_locks(conn)
            # Stamped once the locks are held: a writer that waited for them must not commit
            # an updated_at older than the poller's watermark minus its overlap.
            now = now or datetime.now(UTC)
            result = self._upsert_batch(conn, records, now, learned, ahead)
        for name, ids in learned.items():  # only ids that were committed
            self._set_cache.setdefault(name, {}).update(ids)
        return result

    def upsert_many(self, batches: Iterable[Sequence[ResponseRecord]],
                    now: datetime | None = None) -> UpsertResult:
        """Upsert every batch as ``upsert_responses`` would, all in ONE transaction.

        For imports: all or nothing, whatever fails (the database, a batch, the iterator that
        yields them). Batches are written as they come, so memory stays one batch deep; a key
        repeated in a later batch counts as updated or unchanged there. On SQLite the search
        index is filled once at the end, inside the same transaction (``app.store.bulk``).
        """
        if self.dialect == "sqlite":
            return bulk.upsert_many(self, batches, now, _upsert_statement)
        totals = UpsertResult(0, 0, 0)
        learned: dict[str, dict[str, int]] = {}
        with self._write_lock, self.engine.begin() as conn:
            self._take_write_locks(conn)
            stamp, last_old = now or datetime.now(UTC), bulk.last_id(conn)
            for records in batches:
                if records:
                    result = self._upsert_batch(conn, records, stamp, learned)
                    totals = UpsertResult(totals.inserted + result.inserted,
                                          totals.updated + result.updated,
                                          totals.unchanged + result.unchanged)
            if now is None:  # see app/store/bulk.py: a poll during a long import
                bulk.restamp_changed(conn, stamp, last_old)
        for name, ids in learned.items():  # only ids that were committed
            self._set_cache.setdefault(name, {}).update(ids)
        return totals

    def _take_write_locks(self, conn) -> None:
        """The database's write lock: _write_lock's twin across worker processes.

        On PostgreSQL two transactions inserting the same new keys in different orders would
        otherwise deadlock; on SQLite the driver would only begin at the first INSERT, after
        the reads that count what was inserted, updated or unchanged.
        """
        if self.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITE_LOCK_KEY})
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    def _upsert_batch(self, conn, records: Sequence[ResponseRecord], now: datetime,
                      learned: dict[str, dict[str, int]],
                      ahead: KnownKeys | None = None) -> UpsertResult:
        """One batch on ``conn`` inside the caller's transaction; new set ids go to ``learned``.

        ``ahead``: topic keys tagged before the write (``tag_ahead``)."""
        by_key = {(r.source, r.external_id): r for r in records}  # last one wins
        keys = list(by_key)
        keep_time = [by_key[key].created_at is None for key in keys]
        dialect_insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        fixes = self.corrections_by_key(conn, keys)  # an admin's topics win over the tagger
        rows = [self._row(by_key[key], now, fixes.get(key), ahead) for key in keys]
        # Ids learned by an earlier batch are not cached yet (uncommitted): looked up again.
        for name, ids in self._resolve_sets(conn, rows).items():
            learned.setdefault(name, {}).update(ids)
        before = self._existing(conn, keys)
        for keeps, run in groupby(zip(rows, keep_time, strict=True), key=lambda p: p[1]):
            conn.execute(_upsert_statement(dialect_insert, keeps), [row for row, _ in run])
        touched = self._existing(conn, list(before), updated_at=now) if before else set()
        inserted = len(by_key) - len(before)
        updated = len(touched)
        return UpsertResult(inserted, updated, len(rows) - inserted - updated)

    def _row(self, record: ResponseRecord, now: datetime, corrections: Corrections | None = None,
             ahead: KnownKeys | None = None) -> dict[str, Any]:
        return {
            "source": record.source,
            "external_id": record.external_id,
            "score": int(record.score),
            # PostgreSQL text cannot hold NUL; dropped on SQLite too so both stores agree.
            "comment": record.comment.replace("\x00", "") if record.comment else record.comment,
            "created_at": record.created_at or now,
            "updated_at": now,
            "segment_set_id": canonical_segments(record.segments),  # resolved to an id later
            "topic_set_id": self.topic_key_for(record.comment, corrections, ahead),
            "excluded": bool(record.excluded),
            "source_updated_at": record.source_updated_at,
        }

    def _resolve_sets(self, conn, rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
        """Replace segment and topic keys in ``rows`` by lookup-table ids, creating new ones.

        Returns the ids learned from the database; the caller caches them once committed,
        so a rolled-back insert never leaves a dangling id in the cache.
        """
        learned = {}
        for column, table in (("segment_set_id", SEGMENT_SETS), ("topic_set_id", TOPIC_SETS)):
            cache = self._set_cache.get(table.name, {})
            keys = {r[column] for r in rows}
            missing = [k for k in keys if k not in cache]
            found: dict[str, int] = {}
            if missing:
                dialect_insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
                conn.execute(dialect_insert(table).on_conflict_do_nothing(index_elements=["key"]),
                             [{"key": k} for k in missing])
                for start in range(0, len(missing), 500):
                    found.update(conn.execute(select(table.c.key, table.c.id).where(
                        table.c.key.in_(missing[start:start + 500]))).all())
            learned[table.name] = found
            for r in rows:
                key = r[column]
                r[column] = cache[key] if key in cache else found[key]
        return learned

    @staticmethod
    def _existing(conn, keys: list[tuple[str, str]],
                  updated_at: datetime | None = None) -> set[tuple[str, str]]:
        """Which of ``keys`` are stored (and, if given, were written at ``updated_at``)."""
        found: set[tuple[str, str]] = set()
        for source in {s for s, _ in keys}:
            ids = [e for s, e in keys if s == source]
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                stmt = select(RESPONSES.c.source, RESPONSES.c.external_id).where(
                    RESPONSES.c.source == source, RESPONSES.c.external_id.in_(chunk))
                if updated_at is not None:
                    stmt = stmt.where(RESPONSES.c.updated_at == updated_at)
                found.update(tuple(row) for row in conn.execute(stmt).all())
        return found

    def add_event(self, occurred_at: datetime, label: str, kind: str = "note",
                  note: str | None = None) -> int:
        """Store an event and return its id."""
        with self._writing() as conn:
            result = conn.execute(insert(EVENTS).values(
                occurred_at=occurred_at, label=label, kind=kind, note=note,
                created_at=datetime.now(UTC)))
            return int(result.inserted_primary_key[0])

    def update_event(self, event_id: int, occurred_at: datetime, label: str, kind: str,
                     note: str | None) -> bool:
        """Replace an event's fields; False when there is none with that id."""
        with self._writing() as conn:
            return conn.execute(update(EVENTS).where(EVENTS.c.id == event_id).values(
                occurred_at=occurred_at, label=label, kind=kind, note=note)).rowcount > 0

    def remove_event(self, event_id: int) -> bool:
        """Delete an event; False when there was none with that id."""
        with self._writing() as conn:
            return conn.execute(delete(EVENTS).where(EVENTS.c.id == event_id)).rowcount > 0

    def list_events(self) -> list[EventRow]:
        """Every event, oldest first."""
        with translated(), self.engine.connect() as conn:
            rows = conn.execute(
                select(EVENTS.c.id, EVENTS.c.occurred_at, EVENTS.c.label, EVENTS.c.kind,
                       EVENTS.c.note).order_by(EVENTS.c.occurred_at, EVENTS.c.id)
            ).all()
        return [EventRow(*row) for row in rows]

    # -- reads for the poller ---------------------------------------------------------------

    def count_responses(self) -> int:
        """How many responses are stored."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(RESPONSES)).scalar_one())

    def load_all(self) -> ChangedRows:
        """Every response, without comments: the first poll of a fresh process."""
        return polling.load_all(self.engine)

    def changed_since(self, updated_after: datetime, after_id: int) -> ChangedRows:
        """Rows updated at or after ``updated_after`` or with an id above ``after_id``."""
        return polling.changed_since(self.engine, updated_after, after_id)

    def newest_comments(self, limit: int, created_from: datetime | None = None,
                        created_to: datetime | None = None) -> ChangedRows:
        """The newest ``limit`` counted responses that carry a comment (created within the
        bounds when given)."""
        return polling.newest_comments(self.engine, limit, created_from, created_to)

    def list_responses(self, **filters: Any) -> list[dict[str, Any]]:
        """A page of stored responses, oldest id first, for the JSON API (filters:
        ``reading.responses_query``)."""
        return reading.list_responses(self.engine, **filters)

    def search_comments(self, query: search.CommentQuery) -> list[dict[str, Any]]:
        """A page of the comment explorer (``app.store.search``)."""
        return search.search_comments(self.engine, query)

    def count_comments(self, query: search.CommentQuery) -> int:
        """How many comments the explorer's query matches."""
        return search.count_comments(self.engine, query)

    def export_comments(self, query: search.CommentQuery, segment_fields: Sequence[str],
                        page_size: int = 5_000) -> Iterator[list[tuple]]:
        """Every comment the explorer's filters match, in pages, for its streaming CSV."""
        return search.export_comments(self.engine, query, segment_fields, page_size)

    def export_rows(self, segment_fields: Sequence[str], page_size: int = 5_000,
                    **filters: Any) -> Iterator[list[tuple]]:
        """Every matching response in pages by id, as CSV-ready tuples (see
        ``reading.export_rows``), for the streaming export."""
        return reading.export_rows(self.engine, page_size, segment_fields, **filters)

    def clock_micros(self) -> int:
        """The database's own clock, in microseconds since the epoch (``polling.db_clock``)."""
        return polling.db_clock(self.engine)

    def max_updated(self) -> datetime | None:
        """The newest ``updated_at`` stored (aware UTC)."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(RESPONSES.c.updated_at))).scalar()


def _upsert_statement(dialect_insert, keep_time: bool):
    """INSERT ... ON CONFLICT updating only rows whose content changed, newest version wins."""
    stmt = dialect_insert(RESPONSES)
    content = ("score", "created_at", "segment_set_id", "excluded")
    if keep_time:
        content = tuple(name for name in content if name != "created_at")
    # A repeat without a comment never erases one: vendors deliver "created" (score only)
    # and "updated" (with the comment) and may retry the first after the second.
    new_comment = func.nullif(stmt.excluded.comment, "")
    has_comment = new_comment.is_not(None)
    set_ = {name: stmt.excluded[name] for name in (*content, "updated_at")}
    set_["comment"] = func.coalesce(new_comment, RESPONSES.c.comment)
    set_["topic_set_id"] = case((has_comment, stmt.excluded.topic_set_id),
                                else_=RESPONSES.c.topic_set_id)
    # A version without a time of its own keeps the stored one, so a later versioned
    # delivery still compares against it.
    stored_version = RESPONSES.c.source_updated_at
    set_["source_updated_at"] = func.coalesce(stmt.excluded.source_updated_at, stored_version)
    # Newest wins: an older version (a replayed "created" after an "updated", a vendor's late
    # retry) changes nothing. Without a time on either side the latest delivery wins, as before.
    not_older = or_(stmt.excluded.source_updated_at.is_(None), stored_version.is_(None),
                    stmt.excluded.source_updated_at >= stored_version)
    changed = or_(*(RESPONSES.c[n].is_distinct_from(stmt.excluded[n]) for n in content),
                  and_(has_comment,
                       or_(RESPONSES.c.comment.is_distinct_from(stmt.excluded.comment),
                           RESPONSES.c.topic_set_id.is_distinct_from(stmt.excluded.topic_set_id))))
    return stmt.on_conflict_do_update(
        index_elements=["source", "external_id"],
        set_=set_,
        where=and_(not_older, changed),
    )
