"""Reads of whole stored responses for people: the JSON page (``GET /api/v1/responses``) and
the streaming export (``GET /api/v1/responses.csv``), with the same filters.

The export reads pages by id (keyset, never OFFSET) and decodes each segment and topic set
once per page, since a million rows point at a few hundred sets.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import BigInteger, Engine, Select, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY

from app.store.errors import translated
from app.store.models import Response, SegmentSet, TopicSet
from app.store.polling import epoch, raw_rows
from app.tone import decode_key

TOPIC_SEPARATOR = " | "  # topics in one export cell: not ";" or ",", which split cells
RESPONSES = Response.__table__
SEGMENT_SETS = SegmentSet.__table__
TOPIC_SETS = TopicSet.__table__
Segments = Mapping[str, str | Collection[str]]


@lru_cache(maxsize=4096)
def _iso_day(day: int) -> str:
    """The date part of ``iso_utc`` for a day since the epoch (cached: an export meets each
    day many times)."""
    t = time.gmtime(day * 86400)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"


def iso_utc(seconds: int) -> str:
    """Whole UTC seconds as ISO 8601 with ``Z`` (the export's time column); the date from a
    cache, the time by division (a gmtime per row was a third of the export's time)."""
    day, rest = divmod(seconds, 86400)
    hour, rest = divmod(rest, 3600)
    minute, second = divmod(rest, 60)
    return f"{_iso_day(day)}{hour:02d}:{minute:02d}:{second:02d}Z"


def topics_of(key: str) -> list[str]:
    """The topic names of a stored topic-set key (its tones are left out)."""
    return list(decode_key(key)[0])


def responses_query(engine: Engine, *, after_id: int = 0, limit: int = 100,
                    created_from: datetime | None = None, created_to: datetime | None = None,
                    source: str | None = None, segments: Segments | None = None,
                    score_min: int | None = None, score_max: int | None = None) -> Select:
    """Responses after ``after_id`` matching the filters, oldest id first, ``limit`` of them,
    with their segment and topic set keys."""
    seg = SEGMENT_SETS.alias("seg")
    top = TOPIC_SETS.alias("top")
    stmt = (
        select(RESPONSES, seg.c.key.label("segments_key"), top.c.key.label("topics_key"))
        .join(seg, seg.c.id == RESPONSES.c.segment_set_id)
        .join(top, top.c.id == RESPONSES.c.topic_set_id)
        .where(RESPONSES.c.id > after_id)
        .order_by(RESPONSES.c.id)
        .limit(limit)
    )
    if created_from is not None:
        stmt = stmt.where(RESPONSES.c.created_at >= created_from)
    if created_to is not None:
        stmt = stmt.where(RESPONSES.c.created_at < created_to)
    if source:
        stmt = stmt.where(RESPONSES.c.source == source)
    if score_min is not None:
        stmt = stmt.where(RESPONSES.c.score >= score_min)
    if score_max is not None:
        stmt = stmt.where(RESPONSES.c.score <= score_max)
    if segments:
        stmt = stmt.where(in_ids(engine, RESPONSES.c.segment_set_id,
                                 segment_set_ids(engine, segments)))
    return stmt


def segment_set_ids(engine: Engine, segments: Segments) -> list[int]:
    """Ids of the segment sets with a wanted value in every field (any of several values:
    ``{"product": ("Ledger", "Pulse")}``); [-1] when none, so the query matches nothing."""
    wanted = {k: {v} if isinstance(v, str) else set(v) for k, v in segments.items()}
    with translated(), engine.connect() as conn:
        ids = [i for i, key in conn.execute(select(SEGMENT_SETS.c.id, SEGMENT_SETS.c.key))
               if all(json.loads(key).get(k) in v for k, v in wanted.items())]
    return ids or [-1]


def list_responses(engine: Engine, **filters: Any) -> list[dict[str, Any]]:
    """A page of stored responses, oldest id first, for the JSON API."""
    with translated(), engine.connect() as conn:
        rows = conn.execute(responses_query(engine, **filters)).mappings().all()
    return [{
        "id": r["id"], "source": r["source"], "external_id": r["external_id"],
        "score": r["score"], "comment": r["comment"],
        "created_at": r["created_at"].isoformat(), "updated_at": r["updated_at"].isoformat(),
        "segments": json.loads(r["segments_key"]), "topics": topics_of(r["topics_key"]),
        "excluded": bool(r["excluded"]),
    } for r in rows]


def export_rows(engine: Engine, page_size: int, segment_fields: Sequence[str],
                **filters: Any) -> Iterator[list[tuple]]:
    """Every matching response, in pages of ``page_size`` by id, as tuples ready for a CSV:
    (id, created_at ISO, score, comment, (value of each segment field), "topic | topic",
    source, external_id, excluded). Segment and topic sets are decoded once per export (a
    set written while the export runs is read when first met), and the rows are plain driver
    tuples (no per-row mapping objects). The first page is read before this returns, so a
    store failure is raised to the caller, not in the middle of a stream."""
    after = filters.pop("after_id", 0)
    filters.pop("limit", None)
    wanted = filters.pop("segments", None)  # resolved once, not once a page
    ids = segment_set_ids(engine, wanted) if wanted else None
    segments = SetCache(engine, SEGMENT_SETS,
                         lambda key: tuple(json.loads(key).get(f, "") for f in segment_fields))
    topics = SetCache(engine, TOPIC_SETS, lambda key: TOPIC_SEPARATOR.join(topics_of(key)))
    columns = (RESPONSES.c.id, epoch(engine, RESPONSES.c.created_at), RESPONSES.c.score,
               RESPONSES.c.comment, RESPONSES.c.segment_set_id, RESPONSES.c.topic_set_id,
               RESPONSES.c.source, RESPONSES.c.external_id, RESPONSES.c.excluded)

    def page_after(last: int) -> list[tuple]:
        stmt = responses_query(engine, after_id=last, limit=page_size, **filters)
        stmt = stmt.with_only_columns(*columns)
        if ids is not None:
            stmt = stmt.where(in_ids(engine, RESPONSES.c.segment_set_id, ids))
        with translated(), engine.connect() as conn:
            rows = raw_rows(conn, stmt)
        segments.load(r[4] for r in rows)
        topics.load(r[5] for r in rows)
        return [(i, iso_utc(created), score, comment, segments[seg], topics[top], source,
                 external, bool(excluded))
                for i, created, score, comment, seg, top, source, external, excluded in rows]

    first = page_after(after)

    def pages() -> Iterator[list[tuple]]:
        page = first
        while page:
            yield page
            if len(page) < page_size:
                return
            page = page_after(page[-1][0])

    return pages()


class SetCache(dict):
    """Decoded lookup sets by id, filled from the table on first need."""

    def __init__(self, engine: Engine, table, decode) -> None:
        super().__init__()
        self.engine, self.table, self.decode = engine, table, decode

    def load(self, wanted: Iterable[int]) -> None:
        missing = {int(i) for i in wanted} - self.keys()
        if not missing:
            return
        with translated(), self.engine.connect() as conn:
            rows = conn.execute(select(self.table.c.id, self.table.c.key).where(
                in_ids(self.engine, self.table.c.id, sorted(missing)))).all()
        self.update((i, self.decode(key)) for i, key in rows)


def in_ids(engine: Engine, column, ids: Sequence[int]):
    """``column IN ids`` that works for any number of ids: one array parameter on
    PostgreSQL (whose protocol takes at most 65,535 parameters), a list on SQLite."""
    if engine.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(BigInteger)))
    return column.in_(list(ids))
