"""Comment search for the manager's explorer: words and "quoted phrases", score category,
topic, segments and dates, sorted and paged.

Every word and phrase must occur in the comment (case-insensitive, as a substring, so
"crash" finds "crashes"). Words of three characters or more are looked up in the search index
of migration 0006 (SQLite: an FTS5 trigram table; PostgreSQL: a trigram GIN index that serves
the same ``LIKE``), so a word that occurs nowhere is answered without reading a million rows;
shorter words, or a store without the index, read the rows. Paging is by offset within one
sort; counts stop at ``COUNT_CAP`` ("more than 1,000"), so a count never reads everything.
Common words (more than ``COMMON_HITS`` index hits) are matched on the rows instead: they are
dense, so a page of them is found after a few hundred rows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Engine,
    Select,
    and_,
    func,
    inspect,
    literal_column,
    or_,
    select,
    table,
    text,
)

from app.metrics import CATEGORY_RANGES
from app.store.errors import translated
from app.store.models import Response, SegmentSet, TopicSet
from app.store.polling import epoch, raw_rows
from app.store.reading import (
    TOPIC_SEPARATOR,
    SetCache,
    in_ids,
    iso_utc,
    segment_set_ids,
    topics_of,
)
from app.tone import decode_key

RESPONSES = Response.__table__
SEGMENT_SETS = SegmentSet.__table__
TOPIC_SETS = TopicSet.__table__
SORTS = ("newest", "oldest", "score_low", "score_high")
COUNT_CAP = 1_000
MIN_INDEXED = 3  # the trigram index finds words of three characters or more
# Above this many index hits the words are common: reading rows newest first finds a page of
# them sooner than fetching every hit from the index.
COMMON_HITS = 2_000
_INDEXED: dict[str, bool] = {}  # engine URL -> whether SQLite's comment_search table exists
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


_UNSEARCHABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def search_terms(text: str) -> list[str]:
    """The words and phrases of a search box, lower-cased, at most ``MAX_TERMS``; raises
    ValueError naming the problem for a phrase that is too long or for control characters
    (NUL among them) and lone surrogates, which no comment holds and no driver takes."""
    if _UNSEARCHABLE.search(text or ""):
        raise ValueError("the search holds control characters; type words or phrases")
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


def _sqlite_index(engine: Engine) -> bool:
    """Whether this SQLite store has the FTS5 search table (looked up once per store)."""
    key = str(engine.url)
    if key not in _INDEXED:
        _INDEXED[key] = inspect(engine).has_table("comment_search")
    return _INDEXED[key]


def _text_conditions(engine: Engine, terms: list[str]) -> list:
    """One condition per term; on SQLite with the index, the long terms in one MATCH."""
    conditions = []
    indexed = engine.dialect.name == "sqlite" and _sqlite_index(engine)
    long_terms = [t for t in terms if len(t) >= MIN_INDEXED] if indexed else []
    if long_terms:
        match = " AND ".join('"' + t.replace('"', '""') + '"' for t in long_terms)
        found = select(literal_column("rowid")).select_from(table("comment_search")).where(
            text("comment_search MATCH :match").bindparams(match=match))
        with translated(), engine.connect() as conn:
            hits = conn.execute(select(func.count()).select_from(
                found.limit(COMMON_HITS + 1).subquery())).scalar_one()
        if hits > COMMON_HITS:
            long_terms = []  # common words: read the rows (below) rather than every hit
        else:
            conditions.append(RESPONSES.c.id.in_(found))
    # SQLite's own lower() folds ASCII only; the store registers a Unicode one (sqlite.py).
    lower = func.nps_lower if engine.dialect.name == "sqlite" else func.lower
    for term in terms:
        if term not in long_terms:
            conditions.append(lower(RESPONSES.c.comment).like(_like(term), escape="\\"))
    return conditions


def _filtered(engine: Engine, query: CommentQuery) -> Select | None:
    """The matching ids as a query; None when no response can match (a topic no topic set
    holds, segment values no segment set has), which a scan would take a whole index to
    find out."""
    # Excluded responses count nowhere else (scores, panels, follow-ups): not here either.
    conditions = [RESPONSES.c.comment.is_not(None), RESPONSES.c.comment != "",
                  RESPONSES.c.excluded.is_(False)]
    conditions += _text_conditions(engine, search_terms(query.text))
    if query.created_from is not None:
        conditions.append(RESPONSES.c.created_at >= query.created_from)
    if query.created_to is not None:
        conditions.append(RESPONSES.c.created_at < query.created_to)
    if query.category:
        low, high = CATEGORY_RANGES[query.category]
        conditions += [RESPONSES.c.score >= low, RESPONSES.c.score <= high]
    for wanted, column, ids_of in (
            (query.segments, RESPONSES.c.segment_set_id, segment_set_ids),
            (query.topic, RESPONSES.c.topic_set_id, _topic_set_ids)):
        if wanted:
            ids = ids_of(engine, wanted)
            if ids == [-1]:
                return None
            conditions.append(in_ids(engine, column, ids))
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
    found = _filtered(engine, query)
    if found is None:
        return []
    stmt = (found
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
    """How many comments match (for "1,234 comments" and the page count), at most
    ``COUNT_CAP + 1``: more than the cap reads as "more than 1,000"."""
    found = _filtered(engine, query)
    if found is None:
        return 0
    stmt = select(func.count()).select_from(found.limit(COUNT_CAP + 1).subquery())
    with translated(), engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def export_comments(engine: Engine, query: CommentQuery, segment_fields: Sequence[str],
                    page_size: int = 5_000) -> Iterator[list[tuple]]:
    """Every comment the explorer's filters match (``query``'s sort, limit and offset aside),
    newest first, in pages of ``page_size`` as CSV-ready tuples: (id, created_at ISO, score,
    comment, (value of each segment field), "topic | topic"). Pages follow the time index
    (after the last row's time and id, never an offset), so each costs what the first does;
    sets are decoded once per export; the first page is read before this returns, so a
    store failure is the caller's error, not a broken stream."""
    found = _filtered(engine, query)
    segments = SetCache(engine, SEGMENT_SETS,
                        lambda key: tuple(json.loads(key).get(f, "") for f in segment_fields))
    topics = SetCache(engine, TOPIC_SETS, lambda key: TOPIC_SEPARATOR.join(topics_of(key)))
    created = RESPONSES.c.created_at
    columns = (RESPONSES.c.id, epoch(engine, created), RESPONSES.c.score, RESPONSES.c.comment,
               RESPONSES.c.segment_set_id, RESPONSES.c.topic_set_id, created)

    def page_after(last: tuple | None) -> tuple[list[tuple], tuple | None]:
        """A page after ``last`` = (id, created_at as stored), and the page's own last."""
        if found is None:
            return [], None
        stmt = found.with_only_columns(*columns).order_by(created.desc(), RESPONSES.c.id.desc())
        if last is not None:
            when = _aware(last[1])
            stmt = stmt.where(created <= when, or_(created < when, and_(
                created == when, RESPONSES.c.id < last[0])))
        with translated(), engine.connect() as conn:
            rows = raw_rows(conn, stmt.limit(page_size))
        segments.load(r[4] for r in rows)
        topics.load(r[5] for r in rows)
        page = [(i, iso_utc(seconds), score, comment, segments[seg], topics[top])
                for i, seconds, score, comment, seg, top, _ in rows]
        return page, (rows[-1][0], rows[-1][6]) if rows else None

    first = page_after(None)

    def pages() -> Iterator[list[tuple]]:
        page, last = first
        while page:
            yield page
            if len(page) < page_size:
                return
            page, last = page_after(last)

    return pages()


def _aware(value: Any) -> datetime:
    """A created_at as the driver returned it (SQLite: text; PostgreSQL: naive UTC), aware."""
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when
