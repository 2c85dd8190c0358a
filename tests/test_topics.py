"""Keyword taxonomy: loading, validation and tagging (app.topics)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.topics import Taxonomy, build_taxonomy, fold_text, load_taxonomy, tag_topics

SHIPPED_TOPICS = Path(__file__).resolve().parents[1] / "data" / "topics.json"

SAMPLE = {
    "topics": [
        {"name": "Pricing", "keywords": ["price", "cost*", "too expensive", "per seat"]},
        {"name": "Support", "keywords": ["support", "ticket*", "reply", "sign up"]},
        {"name": "Performance", "keywords": ["slow*", "crash", "3.0", "c++"]},
        {"name": "Facturación", "keywords": ["facturación", "café"]},
        {"name": "Mobile app", "keywords": ["app", "phone"]},
    ]
}


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return build_taxonomy(SAMPLE, source="sample")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # whole words, plain keywords and their plurals
        ("The price is fair", ("Pricing",)),
        ("prices went up", ("Pricing",)),
        ("It crashes daily", ("Performance",)),
        ("two crashs", ("Performance",)),
        ("no replies yet", ("Support",)),
        ("one reply", ("Support",)),
        # prefix keywords
        ("costly", ("Pricing",)),
        ("Costs", ("Pricing",)),
        ("slowness everywhere", ("Performance",)),
        ("tickets, ticketing", ("Support",)),
        # no match inside longer words
        ("priceless", ()),
        ("supportive team", ()),
        ("happy with it", ()),
        ("the applause", ()),
        ("a new 3.05 build", ()),
        ("overslow", ()),
        # case
        ("PRICE", ("Pricing",)),
        ("SuPpOrT", ("Support",)),
        # phrases: any run of spaces or hyphens between words, plural on the last word
        ("way too expensive", ("Pricing",)),
        ("too\n  expensive", ("Pricing",)),
        ("pay per-seat", ("Pricing",)),
        ("two per seats", ("Pricing",)),
        ("the sign-up flow", ("Support",)),
        ("signup", ()),
        ("too cheap, not expensive", ()),
        # keywords with non-letter characters
        ("since 3.0 it flies", ("Performance",)),
        ("written in C++!", ("Performance",)),
        # accents fold both ways, and accented letters are part of words
        ("Facturación lenta", ("Facturación",)),
        ("FACTURACION", ("Facturación",)),
        ("facturacion", ("Facturación",)),
        ("un cafe", ("Facturación",)),
        ("Cafés", ("Facturación",)),
        ("cafétéria", ()),
        ("costé", ("Pricing",)),
        ("ápp", ("Mobile app",)),
        ("éprice", ()),
        # typographic punctuation and several topics at once, in taxonomy order
        ("phone app: slow\u2014price\u2019s high; support", (
            "Pricing", "Support", "Performance", "Mobile app")),
        ("The app is slow and the price too high", ("Pricing", "Performance", "Mobile app")),
        # nothing to tag
        ("", ()),
        (None, ()),
        ("   ", ()),
        ("Great product, keep it up!", ()),
    ],
)
def test_tag_topics_matches_whole_words_prefixes_and_plurals(
    taxonomy: Taxonomy, text: str | None, expected: tuple[str, ...]
) -> None:
    assert tag_topics(text, taxonomy) == expected


def test_taxonomy_keeps_topic_order(taxonomy: Taxonomy) -> None:
    assert taxonomy.names == ("Pricing", "Support", "Performance", "Facturación", "Mobile app")
    assert len(taxonomy) == 5
    assert len(taxonomy.patterns) == 5


def test_topic_patterns_match_folded_text(taxonomy: Taxonomy) -> None:
    assert taxonomy.patterns[0].search(fold_text("Too  EXPENSIVE"))
    assert not taxonomy.patterns[0].search(fold_text("priceless"))


def test_keyword_shared_by_two_topics_tags_both() -> None:
    doc = {"topics": [{"name": "A", "keywords": ["sync*"]},
                      {"name": "B", "keywords": ["sync fails", "fail*"]}]}
    both = build_taxonomy(doc)
    assert tag_topics("the sync fails nightly", both) == ("A", "B")
    assert tag_topics("syncing", both) == ("A",)


def test_load_taxonomy_reads_shipped_file() -> None:
    shipped = load_taxonomy(SHIPPED_TOPICS)
    assert 10 <= len(shipped.names) <= 12
    assert shipped.source == str(SHIPPED_TOPICS)
    assert tag_topics("Since the 3.0 release dashboards load instantly", shipped) == (
        "Performance", "Reporting")


def test_shipped_keywords_are_lowercase_and_not_too_many() -> None:
    data = json.loads(SHIPPED_TOPICS.read_text(encoding="utf-8"))
    for topic in data["topics"]:
        assert 8 <= len(topic["keywords"]) <= 20, topic["name"]
        for keyword in topic["keywords"]:
            assert keyword == keyword.lower().strip(), keyword


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("[]", 'missing "topics"'),
        ('{"themes": []}', 'missing "topics"'),
        ('{"topics": []}', '"topics" must be a non-empty list'),
        ('{"topics": {"name": "A"}}', '"topics" must be a non-empty list'),
        ('{"topics": ["Pricing"]}', "topic #1 must be an object"),
        ('{"topics": [{"keywords": ["price"]}]}', "topic #1 has no name"),
        ('{"topics": [{"name": "  ", "keywords": ["price"]}]}', "topic #1 has no name"),
        ('{"topics": [{"name": 7, "keywords": ["price"]}]}', "topic #1 has no name"),
        ('{"topics": [{"name": "A", "keywords": ["a"]}, {"name": "a", "keywords": ["b"]}]}',
         "topic #2 ('a'): duplicate topic name, already used by topic #1"),
        ('{"topics": [{"name": "A"}]}', "topic #1 ('A') has empty keywords"),
        ('{"topics": [{"name": "A", "keywords": []}]}', "topic #1 ('A') has empty keywords"),
        ('{"topics": [{"name": "A", "keywords": "price"}]}', "topic #1 ('A') has empty keywords"),
        ('{"topics": [{"name": "A", "keywords": [""]}]}', "keyword '' is empty"),
        ('{"topics": [{"name": "A", "keywords": ["*"]}]}', "keyword '*' is empty"),
        ('{"topics": [{"name": "A", "keywords": [3]}]}', "keyword 3 is not a string"),
        ('{"topics": [{"name": "A", "keywords": ["p*ce"]}]}', "'*' that is not at the end"),
        ('{"topics": [{"name": "A", "keywords": ["!?"]}]}', "has no letters or digits"),
        ('{"topics": [{"name": "A, B", "keywords": ["x"]}]}', "cannot contain a comma"),
    ],
)
def test_load_taxonomy_rejects_malformed_file(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "broken-topics.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as raised:
        load_taxonomy(path)
    message = str(raised.value)
    assert str(path) in message
    assert problem in message


def test_load_taxonomy_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_taxonomy(tmp_path / "absent.json")


def test_fold_text_lowercases_and_strips_accents() -> None:
    assert fold_text("ÇA Coûte") == "ca coute"
    assert fold_text("ASCII Only") == "ascii only"
    assert fold_text("it\u2019s \ufb01ne") == "it's fine"
