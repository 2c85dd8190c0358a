"""The demo's comment corpus agrees with the shipped taxonomy (app.demo.corpus)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from app.demo.corpus import (
    COMMENTS,
    PASSIVE,
    PROMOTER,
    STORIES,
    TONES,
    DemoComment,
    select_comments,
)
from app.topics import Taxonomy, load_taxonomy, tag_topics

SHIPPED_TOPICS = Path(__file__).resolve().parents[1] / "data" / "topics.json"


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy(SHIPPED_TOPICS)


def test_corpus_has_at_least_300_distinct_comments() -> None:
    texts = [comment.text for comment in COMMENTS]
    assert len(texts) >= 300
    duplicates = [text for text, n in Counter(t.casefold().strip() for t in texts).items() if n > 1]
    assert duplicates == []


def test_tones_are_valid_and_roughly_in_proportion() -> None:
    assert {comment.tone for comment in COMMENTS} == set(TONES)
    shares = {tone: n / len(COMMENTS) for tone, n in Counter(c.tone for c in COMMENTS).items()}
    assert shares["promoter"] == pytest.approx(0.45, abs=0.05)
    assert shares["passive"] == pytest.approx(0.25, abs=0.05)
    assert shares["detractor"] == pytest.approx(0.30, abs=0.05)


def test_comment_lengths_vary_from_terse_to_long() -> None:
    words = [len(comment.text.split()) for comment in COMMENTS]
    assert min(words) >= 3
    assert max(words) <= 50
    assert sum(n <= 5 for n in words) >= 15
    assert sum(n >= 30 for n in words) >= 5


@pytest.mark.parametrize("comment", COMMENTS, ids=lambda c: c.text[:40])
def test_declared_topics_are_found_by_the_tagger(
    taxonomy: Taxonomy, comment: DemoComment
) -> None:
    found = tag_topics(comment.text, taxonomy)
    assert set(comment.topics) <= set(found), f"{comment.text!r} tagged {found}"


def test_declared_topics_exist_in_the_taxonomy(taxonomy: Taxonomy) -> None:
    declared = {topic for comment in COMMENTS for topic in comment.topics}
    assert declared <= set(taxonomy.names)


def test_every_topic_has_at_least_ten_comments(taxonomy: Taxonomy) -> None:
    counts = Counter(topic for comment in COMMENTS for topic in comment.topics)
    thin = {name: counts[name] for name in taxonomy.names if counts[name] < 10}
    assert thin == {}


def test_both_stories_have_comments_of_the_right_tones() -> None:
    assert {comment.story for comment in COMMENTS} == {None, *STORIES}
    price_change = [c for c in COMMENTS if c.story == "price_change"]
    release = [c for c in COMMENTS if c.story == "release"]
    assert len(price_change) >= 10
    assert len(release) >= 10
    assert all(c.tone != PROMOTER and "Pricing" in c.topics for c in price_change)
    assert all(c.tone != "detractor" and "Performance" in c.topics for c in release)


def test_select_comments_filters_by_tone_and_story() -> None:
    passives = select_comments(PASSIVE)
    assert passives and all(c.tone == PASSIVE and c.story is None for c in passives)
    release = select_comments(PROMOTER, "release")
    assert release and all(c.tone == PROMOTER and c.story == "release" for c in release)


def test_corpus_has_no_contact_details_or_real_brands() -> None:
    email = re.compile(r"\S+@\S+\.\w+")
    phone = re.compile(r"\+?\d[\d ()-]{7,}\d")
    brands = re.compile(r"\b(salesforce|slack|google|microsoft|excel|okta|zapier|apple|"
                        r"iphone|hubspot|quickbooks|jira|zendesk)\b", re.IGNORECASE)
    for comment in COMMENTS:
        assert not email.search(comment.text), comment.text
        assert not phone.search(comment.text), comment.text
        assert not brands.search(comment.text), comment.text
