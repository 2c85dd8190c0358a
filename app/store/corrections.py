"""Topic corrections: an admin's word on a comment's topics, which wins over the tagger.

The admin sends the full set of topics a comment should have; the store keeps it as one row
per topic: ``add`` (the tagger missed it), ``remove`` (the tagger was wrong) and ``keep``
(the tagger was right, confirmed). A response's topics are then always
``Store.topics_for(comment, corrections)``: the tagger's topics minus the removed ones plus the
added and kept ones, in taxonomy order. The kept rows make the admin's set the ground truth
for ``nps-tv topics report`` and ``learn`` even after the tagger changes.

``TopicMethods`` is mixed into ``Store`` (app/store/database.py) so the store stays one class
without growing past its size limit.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, exists, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.store.errors import translated
from app.store.models import Response, TopicCorrection, TopicSet
from app.tone import decode_key, topic_key

RESPONSES = Response.__table__
CORRECTIONS = TopicCorrection.__table__
TOPIC_SETS = TopicSet.__table__
ACTIONS = ("add", "remove", "keep")
MAX_TOPICS_PER_COMMENT = 63  # the rollup keeps a response's topics in a 64-bit mask
WHO_CHARS = 100


class CorrectionRefused(ValueError):
    """A correction the store will not take: ``field: reason``; ``status`` is 400 or 404."""

    def __init__(self, field: str, reason: str, status: int = 400):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason, self.status = field, reason, status


@dataclass(frozen=True)
class Corrections:
    """One response's corrections by topic name."""

    added: frozenset[str] = frozenset()
    removed: frozenset[str] = frozenset()
    kept: frozenset[str] = frozenset()

    @classmethod
    def from_actions(cls, actions: Iterable[tuple[str, str]]) -> Corrections:
        """From (topic, action) pairs as stored."""
        by_action: dict[str, set[str]] = {a: set() for a in ACTIONS}
        for topic, action in actions:
            by_action.setdefault(action, set()).add(topic)
        return cls(frozenset(by_action["add"]), frozenset(by_action["remove"]),
                   frozenset(by_action["keep"]))

    @classmethod
    def between(cls, tagged: Iterable[str], wanted: Iterable[str]) -> Corrections:
        """What turns the tagger's topics into the wanted ones."""
        tagged, wanted = set(tagged), set(wanted)
        return cls(frozenset(wanted - tagged), frozenset(tagged - wanted),
                   frozenset(wanted & tagged))

    @property
    def truth(self) -> frozenset[str]:
        """The topics the admin said the comment has."""
        return self.added | self.kept

    def actions(self) -> dict[str, str]:
        """Topic -> action, sorted by topic."""
        pairs = [(t, "add") for t in self.added] + [(t, "remove") for t in self.removed]
        pairs += [(t, "keep") for t in self.kept]
        return dict(sorted(pairs))

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.kept)


@dataclass(frozen=True)
class TopicState:
    """A response's topics: what screens show, what the tagger says, and the corrections."""

    response_id: int
    comment: str | None
    topics: list[str]
    tagger_topics: list[str]
    corrections: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON body of GET/PUT /api/v1/responses/<id>/topics."""
        return {"id": self.response_id, "topics": self.topics,
                "tagger_topics": self.tagger_topics, "corrections": self.corrections}


@dataclass(frozen=True)
class CorrectedComment:
    """A comment an admin corrected, with the topics the admin gave it."""

    response_id: int
    comment: str
    truth: frozenset[str]


def taxonomy_order(tagger: Callable[..., Any]) -> tuple[str, ...]:
    """The topic names a tagger knows, in taxonomy order (() when it does not say).

    Reads a ``Tagger``'s ``topics`` (also through its bound ``tag`` method) or the taxonomy
    of ``functools.partial(tag_topics, taxonomy=...)``.
    """
    for owner in (tagger, getattr(tagger, "__self__", None)):
        topics = getattr(owner, "topics", None)
        if topics:
            return tuple(str(getattr(t, "name", t)) for t in topics)
    keywords = getattr(tagger, "keywords", None)
    taxonomy = keywords.get("taxonomy") if isinstance(keywords, dict) else None
    return tuple(taxonomy.names) if taxonomy is not None else ()


def check_topics(topics: Any, known: Sequence[str]) -> list[str]:
    """The wanted topics, checked against the taxonomy; CorrectionRefused names the problem."""
    if not isinstance(topics, list | tuple) or any(not isinstance(t, str) for t in topics):
        raise CorrectionRefused("topics", "must be a list of topic names")
    if len(topics) > MAX_TOPICS_PER_COMMENT:
        raise CorrectionRefused("topics", f"at most {MAX_TOPICS_PER_COMMENT} topics")
    wanted = [t.strip() for t in topics]
    for index, name in enumerate(wanted):
        if name not in known:
            shown = name[:60] + ("…" if len(name) > 60 else "")
            raise CorrectionRefused(f"topics[{index}]",
                                    f"unknown topic {shown!r}; the taxonomy has: "
                                    f"{', '.join(known) or '(no topics)'}")
    return [t for t in known if t in set(wanted)]


# Topic keys of uncorrected comments and the tagger that made them: taken only while that
# tagger is still the store's.
KnownKeys = tuple[Callable | None, Mapping[str, str]]
# Short comments repeat ("Great service", "Too expensive"): their key is remembered per tagger,
# so an import or a re-delivery tags each distinct one once. Bounded: about 4 MB at most.
MEMO_ENTRIES = 8192
MEMO_MAX_CHARS = 500


class TopicMethods:
    """The Store's topic methods: tagging with corrections, and reading and writing them."""

    tagger: Callable[[str | None], Iterable[str]]
    _set_cache: dict[str, dict[str, int]]

    @property
    def topic_names(self) -> tuple[str, ...]:
        """The taxonomy's topic names, in order."""
        return taxonomy_order(self.tagger)

    def topics_for(self, comment: str | None,
                   corrections: Corrections | None = None) -> list[str]:
        """A response's topics: the tagger's minus removed plus added (and kept) ones, in
        taxonomy order. The one place ingest and retag compute them."""
        tagged = list(self.tagger(comment))
        if not corrections:
            return tagged
        wanted = (set(tagged) - corrections.removed) | corrections.added | corrections.kept
        order = self.topic_names or tuple(tagged)
        return [t for t in order if t in wanted]

    def topic_key_for(self, comment: str | None, corrections: Corrections | None = None,
                      ahead: KnownKeys | None = None) -> str:
        """The stored topic-set key of a response: its topics (``topics_for``) with the tone
        of each mention (``app.tone``). Ingest, corrections and retag all write this.

        ``ahead``: keys this write tagged before taking its locks (``tag_ahead``)."""
        if not corrections and comment:
            for known in (ahead, self.__dict__.get("_known_keys")):
                if known is not None and known[0] is self.tagger and comment in known[1]:
                    return known[1][comment]
        if corrections or not comment or len(comment) > MEMO_MAX_CHARS:
            return topic_key(comment, self.topics_for(comment, corrections), self.tagger)
        memo = self.__dict__.get("_key_memo")
        if memo is None or memo[0] is not self.tagger:  # a new tagger: nothing carries over
            memo = (self.tagger, {})
            self.__dict__["_key_memo"] = memo
        keys = memo[1]
        key = keys.get(comment)
        if key is None:
            key = topic_key(comment, self.topics_for(comment), self.tagger)
            if len(keys) >= MEMO_ENTRIES:
                keys.clear()
            keys[comment] = key
        return key

    def tag_ahead(self, comments: Iterable[str | None]) -> KnownKeys:
        """The topic keys of ``comments`` as if uncorrected, for ``topic_key_for(ahead=)``.

        A write tags before it takes its write slot and locks, so other writers do not wait
        on its tagging; a comment found corrected inside the write is tagged again there."""
        tagger = self.tagger
        return tagger, {c: self.topic_key_for(c) for c in set(comments) if c}

    def know_topic_keys(self, keys: Mapping[str, str], tagger: Callable | None) -> None:
        """Keys of uncorrected comments computed elsewhere with ``tagger`` (an import's
        tagging processes, app/ingest/tag_pool.py): ``topic_key_for`` takes them while
        ``tagger`` is still the store's. Replaces what was known; ``({}, None)`` forgets."""
        self.__dict__["_known_keys"] = (tagger, dict(keys)) if keys else None

    def corrections_for(self, conn, response_ids: Collection[int]) -> dict[int, Corrections]:
        """The corrections of the given responses (only those that have some)."""
        found: dict[int, list[tuple[str, str]]] = {}
        ids = list(response_ids)
        for start in range(0, len(ids), 500):
            rows = conn.execute(select(CORRECTIONS.c.response_id, CORRECTIONS.c.topic,
                                       CORRECTIONS.c.action).where(
                CORRECTIONS.c.response_id.in_(ids[start:start + 500]))).all()
            for rid, topic, action in rows:
                found.setdefault(int(rid), []).append((topic, action))
        return {rid: Corrections.from_actions(pairs) for rid, pairs in found.items()}

    def corrections_by_key(self, conn, keys: Sequence[tuple[str, str]]
                           ) -> dict[tuple[str, str], Corrections]:
        """Corrections of stored responses by (source, external_id): ingest's lookup, one
        cheap EXISTS when nobody has corrected anything, else one indexed join per 500 keys
        that returns only the corrected ones."""
        if not keys or not conn.execute(select(exists().select_from(CORRECTIONS))).scalar():
            return {}
        found: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for source in {s for s, _ in keys}:
            ids = [e for s, e in keys if s == source]
            for start in range(0, len(ids), 500):
                rows = conn.execute(
                    select(RESPONSES.c.external_id, CORRECTIONS.c.topic, CORRECTIONS.c.action)
                    .join(CORRECTIONS, CORRECTIONS.c.response_id == RESPONSES.c.id)
                    .where(RESPONSES.c.source == source,
                           RESPONSES.c.external_id.in_(ids[start:start + 500])))
                for external_id, topic, action in rows:
                    found.setdefault((source, external_id), []).append((topic, action))
        return {key: Corrections.from_actions(pairs) for key, pairs in found.items()}

    def topic_set_ids(self, conn, keys: Iterable[str]) -> dict[str, int]:
        """Ids of topic-set keys, created when new (cache them only once committed)."""
        cache = self._set_cache.get(TOPIC_SETS.name, {})
        wanted = set(keys)
        found = {k: cache[k] for k in wanted if k in cache}
        missing = sorted(wanted - set(found))
        if missing:
            dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            conn.execute(dialect_insert(TOPIC_SETS).on_conflict_do_nothing(
                index_elements=["key"]), [{"key": k} for k in missing])
            found.update(conn.execute(select(TOPIC_SETS.c.key, TOPIC_SETS.c.id).where(
                TOPIC_SETS.c.key.in_(missing))).all())
        return found

    def learn_topic_sets(self, ids: dict[str, int]) -> None:
        """Cache topic-set ids after the transaction that made them committed."""
        self._set_cache.setdefault(TOPIC_SETS.name, {}).update(ids)

    def topic_state(self, response_id: int) -> TopicState:
        """A response's topics, the tagger's and the corrections; 404-refused when unknown."""
        with translated(), self.engine.connect() as conn:
            row = conn.execute(select(RESPONSES.c.comment, TOPIC_SETS.c.key).join(
                TOPIC_SETS, TOPIC_SETS.c.id == RESPONSES.c.topic_set_id).where(
                RESPONSES.c.id == response_id)).first()
            if row is None:
                raise _no_response(response_id)
            fixes = self.corrections_for(conn, [response_id]).get(response_id, Corrections())
        return TopicState(response_id, row.comment, list(decode_key(row.key)[0]),
                          list(self.tagger(row.comment)), fixes.actions())

    def set_topics(self, response_id: int, topics: Any, who: str = "admin",
                   now: datetime | None = None) -> TopicState:
        """Give a response exactly ``topics`` (taxonomy names): the difference to the tagger
        is stored, the response's topics and ``updated_at`` change in the same transaction (so
        every poller refolds it). Refused (CorrectionRefused) before anything is written."""
        wanted = check_topics(topics, self.topic_names)
        who = (who or "admin").strip()[:WHO_CHARS] or "admin"
        with self._writing(serialised=True) as conn:
            self._take_write_locks(conn)
            now = now or datetime.now(UTC)
            row = conn.execute(select(RESPONSES.c.comment).where(
                RESPONSES.c.id == response_id)).first()
            if row is None:
                raise _no_response(response_id)
            fixes = Corrections.between(self.tagger(row.comment), wanted)
            conn.execute(delete(CORRECTIONS).where(CORRECTIONS.c.response_id == response_id))
            if fixes:
                conn.execute(insert(CORRECTIONS), [
                    {"response_id": response_id, "topic": topic, "action": action,
                     "who": who, "created_at": now}
                    for topic, action in fixes.actions().items()])
            key = self.topic_key_for(row.comment, fixes)
            learned = self.topic_set_ids(conn, [key])
            conn.execute(update(RESPONSES).where(RESPONSES.c.id == response_id).values(
                topic_set_id=learned[key], updated_at=now))
        self.learn_topic_sets(learned)
        return self.topic_state(response_id)

    def corrected_comments(self) -> list[CorrectedComment]:
        """Every corrected response that has a comment, oldest id first, with its truth."""
        with translated(), self.engine.connect() as conn:
            rows = conn.execute(select(RESPONSES.c.id, RESPONSES.c.comment).where(
                RESPONSES.c.id.in_(select(CORRECTIONS.c.response_id)),
                RESPONSES.c.comment.is_not(None)).order_by(RESPONSES.c.id)).all()
            fixes = self.corrections_for(conn, [r.id for r in rows])
        return [CorrectedComment(int(r.id), r.comment, fixes[int(r.id)].truth)
                for r in rows if r.comment and int(r.id) in fixes]

    def count_corrections(self) -> int:
        """How many corrected responses there are."""
        with translated(), self.engine.connect() as conn:
            return len(conn.execute(select(CORRECTIONS.c.response_id).distinct()).all())


def _no_response(response_id: int) -> CorrectionRefused:
    return CorrectionRefused("id", f"no response with id {response_id}", status=404)
