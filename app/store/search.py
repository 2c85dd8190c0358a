"""Comment search for the manager's explorer: words and "quoted phrases", score category,
topic, segments and dates, sorted and paged.

Every word and phrase must occur in the comment (case-insensitive, as a substring, so
"crash" finds "crashes"). Paging is by offset within one sort; the newest/oldest sorts ride
the ``created_at`` index, so deep pages stay cheap.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, and_, func, select

from app.metrics import CATEGORY_RANGES
from app.store.errors import translated
from app.store.models import Response, SegmentSet, TopicSet
from app.store.reading import in_ids, segment_set_ids
from app.tone import decode_key

RESPONSES = Response.__table__
SEGMENT_SETS = SegmentSet.__table__
TOPIC_SETS = TopicSet.__table__
SORTS = ("newest", "oldest", "score_low", "score_high")
MAX_TERMS = 10
MAX_TERM_CHARS = 100
_TERM = re.compile(r'"([^"]*)"|(\S+)')


@dataclass(frozen=True)
class CommentQuery:
    """What the explorer asks for (every field optional)."""

    text: str = ""  # words and "quoted phrases"; all must occur
    created_from: datetime | None = None
    created_to: datetime | None = None  # exclusive
    segments: Mapping[str, tuple[str, ...]] | None = None
    category: str | None = None  # promoter, passive or detractor
    topic: str | None = None
    sort: str = "newest"
    limit: int = 50
    offset: int = 0


def search_terms(text: str) -> list[str]:
    """The words and phrases of a search box, lower-cased, at most ``MAX_TERMS``; raises
    ValueError naming the problem for a phrase that is too long."""
    terms = []
    for phrase, word in _TERM.findall(text or ""):
        term = " ".join((phrase or word).split()).lower()
        if not term:
            continue
        if len(term) > MAX_TERM_CHARS:
            raise ValueError(f"a word or phrase is {len(term)} characters; the limit is "
                             f"{MAX_TERM_CHARS}")
        terms.append(term)
    if len(terms) > MAX_TERMS:
        raise ValueError(f"{len(terms)} words or phrases; the limit is {MAX_TERMS}")
    return terms


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filtered(engine: Engine, query: CommentQuery) -> Select:
    conditions = [RESPONSES.c.comment.is_not(None), RESPONSES.c.comment != ""]
    for term in search_terms(query.text):
        conditions.append(func.lower(RESPONSES.c.comment).like(_like(term), escape="\\"))
    if query.created_from is not None:
        conditions.append(RESPONSES.c.created_at >= query.created_from)
    if query.created_to is not None:
        conditions.append(RESPONSES.c.created_at < query.created_to)
    if query.category:
        low, high = CATEGORY_RANGES[query.category]
        conditions += [RESPONSES.c.score >= low, RESPONSES.c.score <= high]
    if query.segments:
        conditions.append(in_ids(engine, RESPONSES.c.segment_set_id,
                                 segment_set_ids(engine, query.segments)))
    if query.topic:
        conditions.append(in_ids(engine, RESPONSES.c.topic_set_id,
                                 _topic_set_ids(engine, query.topic)))
    return select(RESPONSES.c.id).where(and_(*conditions))


def _topic_set_ids(engine: Engine, topic: str) -> list[int]:
    with translated(), engine.connect() as conn:
        ids = [i for i, key in conn.execute(select(TOPIC_SETS.c.id, TOPIC_SETS.c.key))
               if topic in decode_key(key)[0]]
    return ids or [-1]


def search_comments(engine: Engine, query: CommentQuery) -> list[dict[str, Any]]:
    """A page of matching comments in the asked order (the JSON shape of
    ``GET /api/v1/responses`` rows, with ``topics`` and ``tones``)."""
    if query.sort not in SORTS:
        raise ValueError(f"sort: must be one of {', '.join(SORTS)}")
    order = {"newest": (RESPONSES.c.created_at.desc(), RESPONSES.c.id.desc()),
             "oldest": (RESPONSES.c.created_at, RESPONSES.c.id),
             "score_low": (RESPONSES.c.score, RESPONSES.c.created_at.desc()),
             "score_high": (RESPONSES.c.score.desc(), RESPONSES.c.created_at.desc())}
    stmt = (_filtered(engine, query)
            .add_columns(RESPONSES.c.created_at, RESPONSES.c.score, RESPONSES.c.comment,
                         RESPONSES.c.source, RESPONSES.c.external_id, SEGMENT_SETS.c.key,
                         TOPIC_SETS.c.key.label("topics_key"))
            .join(SEGMENT_SETS, SEGMENT_SETS.c.id == RESPONSES.c.segment_set_id)
            .join(TOPIC_SETS, TOPIC_SETS.c.id == RESPONSES.c.topic_set_id)
            .order_by(*order[query.sort]).limit(query.limit).offset(query.offset))
    with translated(), engine.connect() as conn:
        rows = conn.execute(stmt).all()
    result = []
    for r in rows:
        topics, tones = decode_key(r.topics_key)
        result.append({"id": r.id, "created_at": r.created_at.isoformat(), "score": r.score,
                       "comment": r.comment, "source": r.source,
                       "external_id": r.external_id, "segments": json.loads(r.key),
                       "topics": list(topics), "tones": list(tones)})
    return result


def count_comments(engine: Engine, query: CommentQuery) -> int:
    """How many comments match (for "1,234 comments" and the page count)."""
    stmt = select(func.count()).select_from(_filtered(engine, query).subquery())
    with translated(), engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())
