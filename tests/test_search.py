"""Comment search: words and phrases (all must occur), category, topic, segments, dates, sorts
and pages, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.store.search import CommentQuery, search_terms
from tests.conftest import make_record

NOW = datetime.now(UTC)


def _seed(store) -> None:
    store.upsert_responses([
        make_record(1, 2, when=NOW - timedelta(days=1), comment="The app crashes on start",
                    product="Ledger"),
        make_record(2, 9, when=NOW - timedelta(days=2), comment="Great support, fast answers",
                    product="Pulse"),
        make_record(3, 4, when=NOW - timedelta(days=3), comment="Crashed twice; support slow",
                    product="Ledger"),
        make_record(4, 8, when=NOW - timedelta(days=40), comment="100% of the price is fair",
                    product="Ledger"),
        make_record(5, 10, when=NOW - timedelta(days=1), comment=None, product="Ledger"),
    ])


def ids(store, **kw) -> list[str]:
    return [r["external_id"] for r in store.search_comments(CommentQuery(**kw))]


def test_words_and_phrases_must_all_occur(store):
    _seed(store)
    assert ids(store, text="crash") == ["1", "3"]  # substring: crashes, Crashed
    assert ids(store, text="crash support") == ["3"]
    assert ids(store, text='"support slow"') == ["3"]
    assert ids(store, text='"slow support"') == []
    assert ids(store, text="100%") == ["4"]  # LIKE wildcards are searched for as text
    assert ids(store, text="_") == []
    assert store.count_comments(CommentQuery(text="crash")) == 2


def test_filters_sorts_and_pages(store):
    _seed(store)
    assert ids(store) == ["1", "2", "3", "4"]  # newest first; no empty comments
    assert ids(store, sort="oldest") == ["4", "3", "2", "1"]
    assert ids(store, sort="score_low") == ["1", "3", "4", "2"]
    assert ids(store, category="detractor") == ["1", "3"]
    assert ids(store, segments={"product": ("Pulse",)}) == ["2"]
    assert ids(store, created_from=NOW - timedelta(days=7)) == ["1", "2", "3"]
    assert ids(store, limit=2, offset=2) == ["3", "4"]
    assert store.count_comments(CommentQuery(category="detractor",
                                             segments={"product": ("Ledger",)})) == 2


def test_topic_filter_reads_the_stored_topics(store):
    _seed(store)
    rows = store.search_comments(CommentQuery())
    some = next(t for r in rows for t in r["topics"])
    found = store.search_comments(CommentQuery(topic=some))
    assert found and all(some in r["topics"] for r in found)
    assert ids(store, topic="No such topic") == []


@pytest.mark.parametrize(("text", "reason"), [
    ("x" * 101, "the limit is 100"), (" ".join(["w"] * 11), "11 words or phrases"),
])
def test_oversized_searches_are_refused_naming_the_limit(text, reason):
    with pytest.raises(ValueError, match=reason):
        search_terms(text)


def test_an_unknown_sort_is_refused(store):
    with pytest.raises(ValueError, match="sort: must be one of"):
        store.search_comments(CommentQuery(sort="random"))


def test_the_index_follows_changed_comments(store):
    _seed(store)
    store.upsert_responses([make_record(1, 2, when=NOW - timedelta(days=1),
                                        comment="Now it freezes instead", product="Ledger")])
    assert ids(store, text="crashes") == []
    assert ids(store, text="freezes") == ["1"]
    assert ids(store, text="crash") == ["3"]


def test_short_words_and_a_store_without_the_index_give_the_same_answers(store, monkeypatch):
    import app.store.search as search

    _seed(store)
    assert ids(store, text="st") == ["1", "2"]  # two letters (start, fast): read, not looked up
    with_index = [ids(store, text=t) for t in ("crash", "crash support", '"support slow"')]
    monkeypatch.setattr(search, "_sqlite_index", lambda engine: False)
    if store.dialect == "postgresql":
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DROP INDEX IF EXISTS ix_responses_comment_trgm")
    assert [ids(store, text=t) for t in ("crash", "crash support", '"support slow"')] == \
        with_index


def test_the_sqlite_store_has_the_search_index(sqlite_store):
    from sqlalchemy import inspect

    assert inspect(sqlite_store.engine).has_table("comment_search")


def test_counts_stop_at_the_cap(store, monkeypatch):
    import app.store.search as search

    _seed(store)
    monkeypatch.setattr(search, "COUNT_CAP", 2)
    assert store.count_comments(CommentQuery()) == 3  # 4 match; 3 means "more than 2"


@pytest.mark.parametrize("text", ["ab\x00", "\x00abc", "x\x07yz", "\ud800abc"])
def test_control_characters_and_lone_surrogates_are_refused_not_sent(text):
    with pytest.raises(ValueError, match="control characters"):
        search_terms(text)


def test_accented_capitals_are_found_by_every_path(store, monkeypatch):
    import app.store.search as search

    store.upsert_responses([make_record(1, 3, comment="ÉCRAN noir après la mise à jour"),
                            make_record(2, 9, comment="Tout va bien")])
    assert ids(store, text="écran") == ["1"]  # the index (or PostgreSQL's LIKE)
    assert ids(store, text="é") == ["1"]  # one letter: read with a Unicode lower()
    monkeypatch.setattr(search, "COMMON_HITS", 0)  # as if the word were common: rows read
    assert ids(store, text="écran") == ["1"]


def test_excluded_responses_are_not_in_the_explorer(store):
    import dataclasses

    store.upsert_responses([dataclasses.replace(make_record(1, 0, comment="Awful, crashes"),
                                                excluded=True),
                            make_record(2, 0, comment="Crashes daily")])
    assert ids(store, text="crashes") == ["2"]
    assert store.count_comments(CommentQuery(category="detractor")) == 1
