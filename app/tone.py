"""Praise or complaint per topic mention: VADER on the clause that mentions the topic.

A comment is cut into sentences and clauses (at ``but``, ``however``, ``although``...), each
clause is tagged with the caller's tagger, and a topic's tone is the VADER compound score of
the clauses that mention it (their mean); a topic no single clause carries (a keyword phrase
cut in two, a topic added by hand) or whose clauses judge nothing ("Support never answered.
Useless.") takes the whole comment's compound. So "Support was great, but the price hike
hurts" is praise of Support and a complaint about Pricing.

Thresholds are VADER's own convention: compound >= 0.05 positive, <= -0.05 negative, else
neutral (``tests/test_tone.py`` checks them on the demo corpus: see docs/architecture.md).
VADER's lexicon is general English, so :data:`DOMAIN_LEXICON` adds the product-feedback words
it lacks ("slow", "crashes", "overpriced" are neutral to it) and neutralises words that name a
topic rather than judge it ("support" is +1.7 to VADER, so every Support mention read as praise).

Tone is computed once, when a response is written, and stored in its topic-set key
(:func:`topic_key`): ``"Pricing,Support,,-+"``, the topic names, an empty field, then one tone
mark per topic. Topic names are never empty, so ``,,`` never occurs in a key without tones,
and a key written before tones existed (``"Pricing,Support"``) still reads: tone unknown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

POSITIVE, NEGATIVE, NEUTRAL, UNKNOWN = "+", "-", "=", "?"
THRESHOLD = 0.05  # VADER's convention for its compound score
TONE_SEPARATOR = ",,"
MARKS = frozenset((POSITIVE, NEGATIVE, NEUTRAL, UNKNOWN))

Tagger = Callable[[str], Iterable[str]]

# Words VADER lacks (or misreads) in product feedback, on VADER's -4..+4 valence scale.
DOMAIN_LEXICON: dict[str, float] = {
    # complaints
    "expensive": -1.5, "overpriced": -2.0, "pricey": -1.0, "overcharged": -2.0,
    "overcharging": -2.0, "slow": -1.5, "slower": -1.5, "slowness": -1.5, "sluggish": -1.7,
    "laggy": -1.5, "crashes": -2.0, "crashed": -2.0, "crashing": -2.0, "buggy": -2.0,
    "bugs": -1.0, "outage": -2.0, "outages": -2.0, "downtime": -1.5, "flaky": -1.5,
    "freezes": -1.5, "froze": -1.5, "unreliable": -2.0, "glitchy": -1.5, "clunky": -1.5,
    "unintuitive": -1.5, "convoluted": -1.5, "cluttered": -1.0, "complicated": -1.0,
    "unanswered": -1.5, "hike": -1.0, "hikes": -1.0, "joke": -1.5, "bait": -1.5,
    # praise
    "fast": 1.5, "faster": 1.5, "snappy": 1.8, "snappier": 1.8, "quick": 1.2,
    "quickly": 1.2, "intuitive": 1.8, "reliable": 1.5, "affordable": 1.5, "cheaper": 1.2,
    "seamless": 1.8, "smooth": 1.5, "painless": 1.5, "killer": 1.5,
    # names of things, not judgements ("customer success", "third party", "credit card")
    "support": 0.0, "success": 0.0, "credit": 0.0, "party": 0.0, "promised": 0.0,
    # "data manipulation" is what a data tool is for (VADER: -1.2, read as a complaint)
    "manipulation": 0.0,
}
# "No crashes", "zero downtime", "no more timeouts": praise that VADER reads as complaint
# ("no" is -1.2 to it and not a negation); read as "not ...", which VADER does negate.
_NONE_OF = re.compile(r"\b(?:no(?:\s+more)?|zero)\b(?=\s+\w)", re.IGNORECASE)

# Sentence ends (and the middle dot the CSV importer joins several answers with: "like best ·
# like least" are two judgements, not one), then the words that turn a sentence from one
# judgement to another.
_SENTENCES = re.compile(r"(?<=[.!?;])\s+|\n+|\s+\u00b7\s+")
_CLAUSES = re.compile(r",?\s+(?=(?:but|however|although|though|whereas|except)\b)",
                      re.IGNORECASE)


@lru_cache(maxsize=1)
def analyser():
    """The one VADER analyser of the process, with the domain words (read-only: thread-safe)."""
    from app.tone_vader import FastAnalyzer  # VADER's scores, faster (see that module)

    built = FastAnalyzer()
    built.lexicon.update(DOMAIN_LEXICON)
    return built


def compound(text: str) -> float:
    """VADER's compound score of ``text``, -1 (complaint) to +1 (praise)."""
    return float(analyser().polarity_scores(_NONE_OF.sub("not", text))["compound"])


def classify(score: float) -> str:
    """The tone mark of a compound score: POSITIVE, NEGATIVE or NEUTRAL."""
    if score >= THRESHOLD:
        return POSITIVE
    if score <= -THRESHOLD:
        return NEGATIVE
    return NEUTRAL


def split_clauses(text: str) -> list[str]:
    """The sentences of ``text``, each cut before a contrasting word (but, however...)."""
    clauses = []
    for sentence in _SENTENCES.split(text):
        clauses.extend(c.strip() for c in _CLAUSES.split(sentence) if c.strip())
    return clauses


def topic_tones(text: str | None, topics: Sequence[str], tag: Tagger) -> dict[str, str]:
    """Each of ``topics`` with its tone mark in ``text``; a topic no clause names gets the
    whole comment's tone (a topic added by hand, a phrase cut at a clause border)."""
    if not topics:
        return {}
    if not text or not text.strip():
        return dict.fromkeys(topics, UNKNOWN)
    clauses = split_clauses(text)
    scores: dict[str, list[float]] = {}
    if len(clauses) > 1:
        for clause in clauses:
            mentioned = [t for t in tag(clause) if t in topics]
            if mentioned:
                value = compound(clause)
                for topic in mentioned:
                    scores.setdefault(topic, []).append(value)
    whole = None
    tones = {}
    for topic in topics:
        values = scores.get(topic)
        if values is None:
            whole = compound(text) if whole is None else whole
            tones[topic] = classify(whole)
        else:
            mark = classify(sum(values) / len(values))
            if mark == NEUTRAL:  # "Support never answered. Useless.": the judgement is next door
                whole = compound(text) if whole is None else whole
                mark = classify(whole)
            tones[topic] = mark
    return tones


def topic_key(comment: str | None, topics: Sequence[str], tag: Tagger) -> str:
    """The topic-set key stored for a response: its topics and, after ``,,``, their tones."""
    topics = list(topics)
    if not topics:
        return ""
    tones = topic_tones(comment, topics, tag)
    return encode_key(topics, [tones[t] for t in topics])


def encode_key(topics: Sequence[str], tones: Sequence[str]) -> str:
    """``"Pricing,Support,,-+"`` from topic names and their tone marks."""
    if not topics:
        return ""
    return ",".join(topics) + TONE_SEPARATOR + "".join(tones)


def decode_key(key: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Topic names and tone marks of a stored key; a key without tones gives UNKNOWN tones."""
    names, sep, marks = key.partition(TONE_SEPARATOR)
    topics = tuple(t for t in names.split(",") if t)
    if not sep or len(marks) != len(topics) or not set(marks) <= MARKS:
        return topics, (UNKNOWN,) * len(topics)
    return topics, tuple(marks)
