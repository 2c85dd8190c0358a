"""The poller's reads: whole columns of integers, straight from the DBAPI cursor.

Score, excluded flag and both lookup-set ids travel packed into one integer, so a read of a
million rows makes three Python ints per row instead of six; SQLAlchemy's Row objects are
skipped too (they cost about a second per million rows).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, Engine, case, cast, func, or_, select

from app.store.models import Response, SegmentSet, TopicSet

RESPONSES = Response.__table__
SEGMENT_SETS = SegmentSet.__table__
TOPIC_SETS = TopicSet.__table__
SEGMENT_SHIFT, TOPIC_SHIFT = 5, 36


def to_naive_utc(moment: datetime) -> datetime:
    """Naive UTC, as stored; raw driver reads and binds use this form."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime; attach a time zone first")
    return moment.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class ChangedRows:
    """Rows read by one poll, as numpy columns, plus the keys of the sets they point at."""

    ids: np.ndarray  # int64
    created: np.ndarray  # int64, UTC seconds since the epoch
    scores: np.ndarray  # int16
    excluded: np.ndarray  # bool
    segment_sets: np.ndarray  # int64 ids into segment_keys
    topic_sets: np.ndarray  # int64 ids into topic_keys
    segment_keys: dict[int, str]
    topic_keys: dict[int, str]
    updated: list[Any] | None = None  # raw updated_at values (incremental reads only)
    comments: list[str | None] | None = None

    def __len__(self) -> int:
        return len(self.ids)


def _packed_code():
    """score + 16 * excluded + segment set << 5 + topic set << 36, as one BIGINT."""
    return (cast(RESPONSES.c.score, BigInteger) + case((RESPONSES.c.excluded, 16), else_=0)
            + cast(RESPONSES.c.segment_set_id, BigInteger) * (1 << SEGMENT_SHIFT)
            + cast(RESPONSES.c.topic_set_id, BigInteger) * (1 << TOPIC_SHIFT))


def load_all(engine: Engine) -> ChangedRows:
    """Every response, without comments: the first poll of a fresh process."""
    return _read(engine, select(RESPONSES.c.id, epoch(engine, RESPONSES.c.created_at),
                                _packed_code()), with_comments=False)


def changed_since(engine: Engine, updated_after: datetime, after_id: int) -> ChangedRows:
    """Rows updated at or after ``updated_after`` or with an id above ``after_id``.

    Both indexes serve the OR, so the cost follows the number of changed rows, not
    the size of the table.
    """
    stmt = select(RESPONSES.c.id, epoch(engine, RESPONSES.c.created_at), _packed_code(),
                  RESPONSES.c.updated_at, RESPONSES.c.comment).where(
        or_(RESPONSES.c.updated_at >= updated_after, RESPONSES.c.id > after_id))
    return _read(engine, stmt, with_comments=True)


def newest_comments(engine: Engine, limit: int, created_from: datetime | None = None,
                    created_to: datetime | None = None) -> ChangedRows:
    """The newest ``limit`` counted responses that carry a comment (created within the
    bounds when given, so a row dated 9999 does not take a place in the feed)."""
    stmt = (
        select(RESPONSES.c.id, epoch(engine, RESPONSES.c.created_at), _packed_code(),
               RESPONSES.c.updated_at, RESPONSES.c.comment)
        .where(RESPONSES.c.comment.is_not(None), RESPONSES.c.comment != "",
               RESPONSES.c.excluded.is_(False))
        .order_by(RESPONSES.c.created_at.desc(), RESPONSES.c.id.desc())
        .limit(limit)
    )
    if created_from is not None:
        stmt = stmt.where(RESPONSES.c.created_at >= created_from)
    if created_to is not None:
        stmt = stmt.where(RESPONSES.c.created_at <= created_to)
    return _read(engine, stmt, with_comments=True)


def db_clock(engine: Engine) -> int:
    """The database server's clock now, in microseconds since the epoch.

    Poll marks come from it, so every instance on one database measures with one clock: a
    poll that takes the clock before it reads has folded every commit made before that time.
    SQLite has no server: its clock is this machine's, which every process on it shares.
    """
    if engine.dialect.name == "sqlite":
        return time.time_ns() // 1000
    with engine.connect() as conn:
        return int(conn.exec_driver_sql(
            "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)"
        ).scalar_one())


def epoch(engine: Engine, column):
    """Whole UTC seconds since the epoch, computed by the database."""
    if engine.dialect.name == "sqlite":
        if sqlite3.sqlite_version_info >= (3, 38):
            return func.unixepoch(column)
        return cast(func.strftime("%s", column), BigInteger)
    # floor: a cast rounds on PostgreSQL, so 23:59:59.7 would land on the next day.
    return cast(func.floor(func.extract("epoch", column)), BigInteger)


def raw_rows(conn, stmt) -> list[tuple]:
    """Run ``stmt`` on the DBAPI cursor itself and return its plain tuples: SQLAlchemy's Row
    wrapping and result processing cost about a second per million rows. Columns come back
    as the driver gives them, so select integers (``epoch``) rather than datetimes."""
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = {k: _raw_param(v) for k, v in compiled.params.items()}
    cursor = conn.connection.cursor()
    try:
        cursor.execute(str(compiled), _positional(compiled, params))
        return cursor.fetchall()
    finally:
        cursor.close()


def _read(engine: Engine, stmt, with_comments: bool) -> ChangedRows:
    """Run ``stmt`` on the raw cursor and unpack its integer columns."""
    with engine.connect() as conn:
        rows = raw_rows(conn, stmt)
        n = len(rows)
        if with_comments:
            flat = np.array([(r[0], r[1], r[2]) for r in rows], dtype=np.int64).reshape(n, 3)
        else:
            flat = np.fromiter(chain.from_iterable(rows), dtype=np.int64,
                               count=3 * n).reshape(n, 3)
        code = flat[:, 2]
        segment_sets = (code >> SEGMENT_SHIFT) & ((1 << (TOPIC_SHIFT - SEGMENT_SHIFT)) - 1)
        topic_sets = code >> TOPIC_SHIFT
        segment_keys = _set_keys(conn, SEGMENT_SETS, np.unique(segment_sets))
        topic_keys = _set_keys(conn, TOPIC_SETS, np.unique(topic_sets))
    return ChangedRows(
        ids=flat[:, 0].copy(), created=flat[:, 1].copy(),
        scores=(code & 15).astype(np.int16), excluded=(code & 16) != 0,
        segment_sets=segment_sets, topic_sets=topic_sets,
        segment_keys=segment_keys, topic_keys=topic_keys,
        updated=[r[3] for r in rows] if with_comments else None,
        comments=[r[4] for r in rows] if with_comments else None)


def _set_keys(conn, table, ids: np.ndarray) -> dict[int, str]:
    """The keys of the given lookup-set ids (the whole small table when many are asked)."""
    if not len(ids):
        return {}
    if len(ids) > 500:
        return dict(conn.execute(select(table.c.id, table.c.key)).all())
    return dict(conn.execute(select(table.c.id, table.c.key).where(
        table.c.id.in_([int(i) for i in ids]))).all())


def _raw_param(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_naive_utc(value) if value.tzinfo else value
    if isinstance(value, np.integer):  # sqlite3 would bind a numpy int as a BLOB
        return int(value)
    return value


def _positional(compiled, params: dict[str, Any]):
    if compiled.positiontup is not None:
        return tuple(params[name] for name in compiled.positiontup)
    return params
