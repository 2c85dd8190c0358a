"""The data-access class: every query NPS TV runs lives here."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import (
    Engine,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.store.models import Event, Response

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant works; it only has to be the same in every process of one deployment.
UPGRADE_LOCK_KEY = 0x4E505354  # "NPST"
RESPONSES = Response.__table__
EVENTS = Event.__table__

# Columns a poll reads. The comment is left out of the first full read (see load_all).
POLL_COLUMNS = (
    RESPONSES.c.id,
    RESPONSES.c.score,
    RESPONSES.c.created_at,
    RESPONSES.c.updated_at,
    RESPONSES.c.segments,
    RESPONSES.c.topics,
    RESPONSES.c.excluded,
)


@dataclass(frozen=True)
class ResponseRecord:
    """A validated response on its way into the store."""

    source: str
    external_id: str
    score: int
    created_at: datetime
    comment: str | None = None
    segments: Mapping[str, str] = field(default_factory=dict)
    excluded: bool = False


@dataclass(frozen=True)
class UpsertResult:
    """How many records were new, changed, or already stored unchanged."""

    inserted: int
    updated: int
    unchanged: int


@dataclass(frozen=True)
class EventRow:
    """A stored event."""

    id: int
    occurred_at: datetime
    label: str
    kind: str
    note: str | None


@dataclass(frozen=True)
class ChangedRows:
    """Rows read by one poll, as plain column lists (cheap to hand to numpy)."""

    ids: list[int]
    scores: list[int]
    created: list[Any]
    updated: list[Any]
    segments: list[str]
    topics: list[str]
    excluded: list[bool]
    comments: list[str | None] | None

    def __len__(self) -> int:
        return len(self.ids)


def canonical_segments(segments: Mapping[str, Any]) -> str:
    """Segment properties as canonical JSON, so equal sets compare equal as strings."""
    return json.dumps({str(k): str(v) for k, v in segments.items()}, sort_keys=True,
                      ensure_ascii=False)


def to_naive_utc(moment: datetime) -> datetime:
    """Naive UTC, as stored; raw driver reads and binds use this form."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime; attach a time zone first")
    return moment.astimezone(UTC).replace(tzinfo=None)


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    if not rows:
        return [[] for _ in range(width)]
    return [list(col) for col in zip(*rows, strict=True)]


class Store:
    """The response store on one SQLAlchemy engine (SQLite file or PostgreSQL)."""

    def __init__(self, url: str, tagger: Callable[[str | None], Iterable[str]] | None = None):
        self.url = url
        self.tagger = tagger or (lambda _text: ())
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._write_lock = threading.Lock()

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
        with self.engine.begin() as conn:
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

    def upsert_responses(self, records: Sequence[ResponseRecord],
                         now: datetime | None = None) -> UpsertResult:
        """Insert new records and update changed ones, all in one transaction.

        The (source, external_id) pair is the idempotency key: a repeat with identical content
        leaves the row untouched (its ``updated_at`` too); a repeat with new content updates it.
        """
        if not records:
            return UpsertResult(0, 0, 0)
        now = now or datetime.now(UTC)
        rows = [self._row(record, now) for record in records]
        by_key = {(r["source"], r["external_id"]): r for r in rows}  # last one wins
        rows = list(by_key.values())
        dialect_insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        stmt = dialect_insert(RESPONSES)
        content = ("score", "comment", "created_at", "segments", "topics", "excluded")
        stmt = stmt.on_conflict_do_update(
            index_elements=["source", "external_id"],
            set_={name: stmt.excluded[name] for name in (*content, "updated_at")},
            where=or_(*(RESPONSES.c[n].is_distinct_from(stmt.excluded[n]) for n in content)),
        )
        with self._write_lock, self.engine.begin() as conn:
            before = self._existing(conn, list(by_key))
            conn.execute(stmt, rows)
            touched = self._existing(conn, list(before), updated_at=now) if before else set()
        inserted = len(by_key) - len(before)
        updated = len(touched)
        return UpsertResult(inserted, updated, len(rows) - inserted - updated)

    def _row(self, record: ResponseRecord, now: datetime) -> dict[str, Any]:
        return {
            "source": record.source,
            "external_id": record.external_id,
            "score": int(record.score),
            "comment": record.comment,
            "created_at": record.created_at,
            "updated_at": now,
            "segments": canonical_segments(record.segments),
            "topics": ",".join(self.tagger(record.comment)),
            "excluded": bool(record.excluded),
        }

    @staticmethod
    def _existing(conn, keys: list[tuple[str, str]],
                  updated_at: datetime | None = None) -> set[tuple[str, str]]:
        """Which of ``keys`` are stored (and, if given, were written at ``updated_at``)."""
        found: set[tuple[str, str]] = set()
        for source in {s for s, _ in keys}:
            ids = [e for s, e in keys if s == source]
            for start in range(0, len(ids), 500):
                stmt = select(RESPONSES.c.source, RESPONSES.c.external_id).where(
                    RESPONSES.c.source == source, RESPONSES.c.external_id.in_(ids[start:start + 500]))
                if updated_at is not None:
                    stmt = stmt.where(RESPONSES.c.updated_at == updated_at)
                found.update(tuple(row) for row in conn.execute(stmt).all())
        return found

    def add_event(self, occurred_at: datetime, label: str, kind: str = "note",
                  note: str | None = None) -> int:
        """Store an event and return its id."""
        with self.engine.begin() as conn:
            result = conn.execute(insert(EVENTS).values(
                occurred_at=occurred_at, label=label, kind=kind, note=note,
                created_at=datetime.now(UTC)))
            return int(result.inserted_primary_key[0])

    def remove_event(self, event_id: int) -> bool:
        """Delete an event; False when there was none with that id."""
        with self.engine.begin() as conn:
            return conn.execute(delete(EVENTS).where(EVENTS.c.id == event_id)).rowcount > 0

    def list_events(self) -> list[EventRow]:
        """Every event, oldest first."""
        with self.engine.connect() as conn:
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
        """Every response without its comment: the first poll of a fresh process."""
        return self._read(select(*POLL_COLUMNS), with_comments=False)

    def changed_since(self, updated_after: datetime, after_id: int) -> ChangedRows:
        """Rows updated at or after ``updated_after`` (naive UTC) or with an id above ``after_id``.

        Both indexes serve the OR, so the cost follows the number of changed rows, not
        the size of the table.
        """
        stmt = select(*POLL_COLUMNS, RESPONSES.c.comment).where(
            or_(RESPONSES.c.updated_at >= updated_after, RESPONSES.c.id > after_id))
        return self._read(stmt, with_comments=True)

    def newest_comments(self, limit: int) -> ChangedRows:
        """The newest ``limit`` counted responses that carry a comment."""
        stmt = (
            select(*POLL_COLUMNS, RESPONSES.c.comment)
            .where(RESPONSES.c.comment.is_not(None), RESPONSES.c.comment != "",
                   RESPONSES.c.excluded.is_(False))
            .order_by(RESPONSES.c.created_at.desc(), RESPONSES.c.id.desc())
            .limit(limit)
        )
        return self._read(stmt, with_comments=True)

    def _read(self, stmt, with_comments: bool) -> ChangedRows:
        # Raw driver rows: the UTCDateTime conversion per row would dominate a 1M-row read;
        # the rollup converts whole columns at once instead.
        with self.engine.connect() as conn:
            compiled = stmt.compile(dialect=self.engine.dialect)
            params = {k: _raw_param(v) for k, v in compiled.params.items()}
            rows = conn.exec_driver_sql(str(compiled), _positional(compiled, params)).fetchall()
        width = 8 if with_comments else 7
        cols = _columns(rows, width)
        return ChangedRows(
            ids=cols[0], scores=cols[1], created=cols[2], updated=cols[3], segments=cols[4],
            topics=cols[5], excluded=cols[6], comments=cols[7] if with_comments else None)

    def max_updated(self) -> datetime | None:
        """The newest ``updated_at`` stored (aware UTC)."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(RESPONSES.c.updated_at))).scalar()


def _raw_param(value: Any) -> Any:
    if isinstance(value, datetime):
        naive = to_naive_utc(value) if value.tzinfo else value
        return naive
    return value


def _positional(compiled, params: dict[str, Any]):
    if compiled.positiontup is not None:
        return tuple(params[name] for name in compiled.positiontup)
    return params


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the poller read while an import writes; busy_timeout makes writers queue
    # instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def poll_start(watermark: datetime, overlap_seconds: float) -> datetime:
    """Where the next poll starts reading: the watermark minus the overlap, naive UTC."""
    return to_naive_utc(watermark) - timedelta(seconds=overlap_seconds)
