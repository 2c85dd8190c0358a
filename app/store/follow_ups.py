"""Follow-ups in the store: who called back which unhappy respondent.

The list is the detractors (and, when asked, the passives) who left a comment in a window,
newest first, each with its follow-up status (``new`` when nobody touched it yet), owner and
who changed it last. Statuses are written with an upsert keyed by the response, so two admins
setting a status at once leave one row (the later write wins). SQL only; the API is in
``app/follow_up_api.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.metrics import PASSIVE_MIN, PROMOTER_MIN
from app.store.errors import translated
from app.store.models import FollowUp, Response, SegmentSet
from app.store.reading import Segments, in_ids, segment_set_ids

FOLLOW_UPS = FollowUp.__table__
RESPONSES = Response.__table__
SEGMENT_SETS = SegmentSet.__table__
STATUSES = ("new", "contacted", "resolved")
# Who can be on a follow-up list at all, as migration 0008's SQLite index states it.
SQLITE_CANDIDATES = ("responses.score <= 8 AND responses.comment IS NOT NULL "
                     "AND responses.comment != '' AND responses.excluded = 0")


@dataclass(frozen=True)
class FollowUpFilter:
    """Which respondents a follow-up list holds."""

    created_from: datetime | None = None
    created_to: datetime | None = None
    segments: Segments | None = None
    passives: bool = False  # include passives (7-8) besides detractors (0-6)
    status: str | None = None  # only this status ("new" includes the untouched)


class FollowUps:
    """The follow-ups of one ``Store`` (its engine and its write gate)."""

    def __init__(self, store) -> None:
        self.store = store

    def _conditions(self, wanted: FollowUpFilter) -> list:
        """Who is on the list: the responses' own conditions (the status aside)."""
        top = PROMOTER_MIN - 1 if wanted.passives else PASSIVE_MIN - 1
        conditions = [RESPONSES.c.score <= top, RESPONSES.c.comment.is_not(None),
                      RESPONSES.c.comment != "", RESPONSES.c.excluded.is_(False)]
        if self.store.dialect == "sqlite":
            # The partial index's own terms, word for word (migration 0008): SQLite uses a
            # partial index only when the query repeats its WHERE, constants included.
            conditions.append(text(SQLITE_CANDIDATES))
        if wanted.created_from is not None:
            conditions.append(RESPONSES.c.created_at >= wanted.created_from)
        if wanted.created_to is not None:
            conditions.append(RESPONSES.c.created_at < wanted.created_to)
        if wanted.segments:
            conditions.append(in_ids(self.store.engine, RESPONSES.c.segment_set_id,
                                     segment_set_ids(self.store.engine, wanted.segments)))
        return conditions

    def _query(self, wanted: FollowUpFilter) -> Select:
        status = func.coalesce(FOLLOW_UPS.c.status, "new")
        stmt = (select(RESPONSES.c.id, RESPONSES.c.created_at, RESPONSES.c.score,
                       RESPONSES.c.comment, SEGMENT_SETS.c.key, status.label("status"),
                       FOLLOW_UPS.c.owner, FOLLOW_UPS.c.updated_at, FOLLOW_UPS.c.updated_by)
                .join(SEGMENT_SETS, SEGMENT_SETS.c.id == RESPONSES.c.segment_set_id)
                .outerjoin(FOLLOW_UPS, FOLLOW_UPS.c.response_id == RESPONSES.c.id)
                .where(and_(*self._conditions(wanted))))
        if wanted.status is not None:
            stmt = stmt.where(status == wanted.status)
        return stmt

    def list(self, wanted: FollowUpFilter, limit: int = 100,
             before_id: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        """A page of the list, newest response first (``before_id`` or ``offset`` pages
        on)."""
        stmt = self._query(wanted).order_by(RESPONSES.c.id.desc()).limit(limit)
        if offset:
            stmt = stmt.offset(offset)
        if before_id is not None:
            stmt = stmt.where(RESPONSES.c.id < before_id)
        with translated(), self.store.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [_as_dict(row) for row in rows]

    def pages(self, wanted: FollowUpFilter, page_size: int = 5_000
              ) -> Iterator[list[dict[str, Any]]]:
        """The whole list in pages, newest first (for the CSV export)."""
        before: int | None = None
        while True:
            page = self.list(wanted, page_size, before)
            if not page:
                return
            yield page
            if len(page) < page_size:
                return
            before = page[-1]["id"]

    def counts(self, wanted: FollowUpFilter) -> dict[str, int]:
        """How many of the list are in each status (every status present, 0 when none)."""
        stmt = self._query(wanted).subquery()
        with translated(), self.store.engine.connect() as conn:
            rows = conn.execute(select(stmt.c.status, func.count()).group_by(stmt.c.status))
            found = dict(rows.all())
        return {status: int(found.get(status, 0)) for status in STATUSES}

    def progress(self, wanted: FollowUpFilter) -> tuple[int, int]:
        """(how many the list holds, how many of them are contacted or resolved): the wall's
        line, in two counts that need no join per candidate: the candidates alone (on SQLite
        from migration 0008's index only), and the statuses set, read from the small
        ``follow_ups`` table with each one's response looked up by id."""
        conditions = self._conditions(wanted)
        candidates = select(func.count()).select_from(RESPONSES).where(*conditions)
        touched = (select(func.count())
                   .select_from(FOLLOW_UPS.join(RESPONSES,
                                                RESPONSES.c.id == FOLLOW_UPS.c.response_id))
                   .where(FOLLOW_UPS.c.status.in_(("contacted", "resolved")), *conditions))
        with translated(), self.store.engine.connect() as conn:
            total = conn.execute(candidates).scalar_one()
            done = conn.execute(touched).scalar_one()
        return int(total), int(done)

    def mark(self) -> tuple[int, str | None]:
        """(how many statuses are stored, the newest change): moves with every ``set``, so
        the poller can tell that the follow-ups changed, as it does for events."""
        with translated(), self.store.engine.connect() as conn:
            count, newest = conn.execute(select(func.count(), func.max(
                FOLLOW_UPS.c.updated_at))).one()
        return int(count), None if newest is None else str(newest)

    def set(self, response_id: int, status: str, owner: str | None, by: str) -> bool:
        """Set a response's status and owner; False when there is no such response."""
        if status not in STATUSES:
            raise ValueError(f"status: must be one of {', '.join(STATUSES)}")
        now = datetime.now(UTC)
        values = {"response_id": response_id, "status": status, "owner": owner,
                  "updated_at": now, "updated_by": by}
        dialect_insert = pg_insert if self.store.dialect == "postgresql" else sqlite_insert
        stmt = dialect_insert(FOLLOW_UPS).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[FOLLOW_UPS.c.response_id],
            set_={k: stmt.excluded[k] for k in ("status", "owner", "updated_at", "updated_by")})
        with self.store._writing() as conn:
            exists = conn.execute(select(RESPONSES.c.id).where(
                RESPONSES.c.id == response_id)).first()
            if exists is None:
                return False
            conn.execute(stmt)
        return True


def _as_dict(row: Any) -> dict[str, Any]:
    segments: Mapping[str, str] = json.loads(row.key)
    return {"id": row.id, "created_at": row.created_at.isoformat(), "score": row.score,
            "comment": row.comment, "segments": dict(segments), "status": row.status,
            "owner": row.owner,
            "updated_at": row.updated_at.isoformat() if row.updated_at else None,
            "updated_by": row.updated_by}
