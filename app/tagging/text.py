"""Normalising a comment for the topic model: folded text, expanded contractions, money and
lemmas, and the word features the model reads (see docs/architecture.md, "Topic tagging").

A comment becomes a ``Normalised``: ``text`` is the folded comment with contractions written
out ("won't" -> "will not") and amounts replaced by the token ``moneyamount`` ("$10 a month"),
which the phrase rules read; ``lemmas`` are its words reduced by simplemma (English data
shipped inside that package, no download) and ``negated`` marks the words that follow a
negation ("no", "not", "never", ...) up to the end of the clause or three words on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import simplemma

from app.topics import fold_text

# Contractions written out, so "won't open", "wont open" and "will not open" read alike; each
# with the substrings one of which any of its matches contains (a cheap test first).
_CONTRACTIONS = (
    (re.compile(r"\bwo(?:n'?t)\b"), "will not", ("won",)),
    (re.compile(r"\bca(?:n'?t)\b|\bcannot\b"), "can not", ("can",)),
    (re.compile(r"\bain'?t\b"), "is not", ("ain",)),
    (re.compile(r"\b(do|does|did|is|are|was|were|has|have|had|could|would|should|must)n'?t\b"),
     r"\1 not", ("nt", "n't")),
    (re.compile(r"\b(\w+)n't\b"), r"\1 not", ("n't",)),
    (re.compile(r"\b(i|you|we|they|it|that|there)'(s|re|ve|ll|d|m)\b"), r"\1 \2", ("'",)),
)
_MONEY = re.compile(
    r"(?:[$\u20ac\u00a3]\s?\d+(?:[.,]\d+)?|\b\d+(?:[.,]\d+)?\s?(?:dollars?|bucks|usd|eur|euros?"
    r"|pounds?|cents?|gbp)\b|\b\d+(?:[.,]\d+)?\s?[$\u20ac\u00a3])"
)
# Cheap checks first: most comments have neither, and the full patterns cost more.
_MAY_CONTRACT = re.compile(r"'|nt\b|cannot")
_MAY_BE_MONEY = re.compile(r"[\d$\u20ac\u00a3]")
_CLAUSES = re.compile(r"[.,;:!?()\[\]\n]|\bbut\b")
_WORDS = re.compile(r"[a-z0-9]+(?:\+\+|#)?")
NEGATORS = frozenset({"not", "no", "never", "without", "nothing", "none", "nor", "hardly",
                      "lack", "lacks", "lacking"})
NEGATION_SCOPE = 3
MONEY_TOKEN = "moneyamount"


@dataclass(frozen=True)
class Normalised:
    """One comment as the rules and the model read it."""

    text: str
    lemmas: tuple[str, ...]
    negated: tuple[bool, ...]


def normalise(text: str) -> Normalised:
    """Fold, expand contractions, mark money, then lemmatise clause by clause."""
    folded = expand(fold_text(text))
    lemmas: list[str] = []
    negated: list[bool] = []
    for clause in _CLAUSES.split(folded):
        words = _WORDS.findall(clause)
        lemmas.extend(map(lemmatise, words))
        if NEGATORS.isdisjoint(words):  # most clauses: nothing negated, no loop
            negated.extend([False] * len(words))
            continue
        left = 0
        for word in words:
            negated.append(left > 0)
            left = NEGATION_SCOPE if word in NEGATORS else max(left - 1, 0)
    return Normalised(folded, tuple(lemmas), tuple(negated))


def expand(folded: str) -> str:
    """Folded text with contractions written out and amounts of money as one token."""
    text = folded.replace("\u2019", "'")
    if _MAY_CONTRACT.search(text):
        for pattern, replacement, needs in _CONTRACTIONS:
            if any(part in text for part in needs):  # a cheap test before each pattern
                text = pattern.sub(replacement, text)
    if _MAY_BE_MONEY.search(text):
        text = _MONEY.sub(f" {MONEY_TOKEN} ", text)
    return text


@lru_cache(maxsize=65_536)
def lemmatise(word: str) -> str:
    """The English lemma of one lower-case word ("crashes" -> "crash"); digits become "0"."""
    if word.isdigit():
        return "0"
    if len(word) < 3 or not word.isascii():
        return word
    return simplemma.lemmatize(word, lang="en").lower()


def word_features(normalised: Normalised) -> set[str]:
    """Lemmas (``w:``) and negated lemmas (``n:``). Pairs of neighbouring lemmas were tried:
    no better under cross-validation, and they doubled the model file, so the phrases that
    matter are phrase rules instead."""
    lemmas = normalised.lemmas
    features = {f"w:{lemma}" for lemma in lemmas}
    features.update(f"n:{lemma}" for lemma, neg in zip(lemmas, normalised.negated, strict=True)
                    if neg)
    return features


def warm_up() -> None:
    """Load simplemma's English dictionary now, not on the first comment a request tags."""
    simplemma.lemmatize("warming", lang="en")
