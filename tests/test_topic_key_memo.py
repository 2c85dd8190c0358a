"""The store remembers the topic-set key of short comments per tagger (imports repeat them):
the key is the one the tagger and tone give, a new tagger starts afresh, corrections and long
comments are never remembered, and the memo stays bounded."""

from __future__ import annotations

from functools import partial

from app.store import Store
from app.store import corrections as memo_module
from app.store.corrections import Corrections
from app.tone import topic_key
from app.topics import build_taxonomy, tag_topics

COMMENTS = ("Support was slow but friendly.", "Too expensive.", "", None,
            "The app crashes on login, support never answered. Useless!")


def counting(store: Store) -> list[str | None]:
    calls: list[str | None] = []
    tagger = store.tagger
    store.tagger = lambda text: (calls.append(text), tagger(text))[1]
    return calls


def test_a_remembered_key_is_the_key_the_tagger_gives(sqlite_store, tagger):
    sqlite_store.tagger = tagger
    for comment in COMMENTS * 3:
        assert sqlite_store.topic_key_for(comment) == topic_key(
            comment, list(tagger(comment)), tagger)


def test_a_repeated_comment_is_tagged_once(sqlite_store, tagger):
    sqlite_store.tagger = tagger
    calls = counting(sqlite_store)
    first = sqlite_store.topic_key_for("Too expensive for what it does.")
    made = len(calls)
    assert made >= 1 and first.startswith("Pricing")
    for _ in range(5):
        assert sqlite_store.topic_key_for("Too expensive for what it does.") == first
    assert len(calls) == made


def test_a_new_tagger_forgets_what_the_old_one_said(sqlite_store, tagger):
    sqlite_store.tagger = tagger
    assert sqlite_store.topic_key_for("lovely people").split(",,")[0] != "Support"
    sqlite_store.tagger = partial(tag_topics, taxonomy=build_taxonomy(
        {"topics": [{"name": "Support", "keywords": ["people"]}]}))
    assert sqlite_store.topic_key_for("lovely people").split(",,")[0] == "Support"


def test_corrections_and_long_comments_are_never_remembered(sqlite_store, tagger):
    sqlite_store.tagger = tagger
    assert sqlite_store.topic_key_for("Too expensive.").split(",,")[0] == "Pricing"
    fixes = Corrections(added=frozenset({"Billing"}), removed=frozenset({"Pricing"}))
    assert sqlite_store.topic_key_for("Too expensive.", fixes).split(",,")[0] == "Billing"
    assert sqlite_store.topic_key_for("Too expensive.").split(",,")[0] == "Pricing"
    calls = counting(sqlite_store)
    long = "The price went up again. " * 40
    before = len(calls)
    sqlite_store.topic_key_for(long)
    once = len(calls) - before
    sqlite_store.topic_key_for(long)
    assert once >= 1 and len(calls) - before == 2 * once


def test_the_memo_is_bounded(sqlite_store, tagger, monkeypatch):
    monkeypatch.setattr(memo_module, "MEMO_ENTRIES", 10)
    sqlite_store.tagger = tagger
    for i in range(25):
        sqlite_store.topic_key_for(f"comment number {i}")
    assert len(sqlite_store.__dict__["_key_memo"][1]) <= 10
