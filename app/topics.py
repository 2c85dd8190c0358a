"""Keyword taxonomy: load the topic list and tag comments with the topics they mention.

A taxonomy file is JSON of the form
``{"topics": [{"name": "Pricing", "keywords": ["price", "cost*", "too expensive"]}, ...]}``.

Matching rules, applied to every keyword:

- case-insensitive and accent-insensitive ("Facturación" matches ``facturacion``);
- whole words only: ``price`` does not match "priceless" and ``app`` does not match "happy";
- a plain keyword also matches its plural: ``bug`` → "bugs", ``crash`` → "crashes",
  ``query`` → "queries";
- a trailing ``*`` matches any word that starts with the stem: ``slow*`` → "slowness";
- the words of a phrase may be separated by any run of spaces or hyphens: ``sign up`` →
  "sign-up"; the plural rule applies to its last word.

Each topic's keywords are compiled once into a single alternation regex, factored as a trie so
the regex engine rejects most positions after one character; tagging a short comment costs a
few microseconds.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A character that is not part of a word: topic patterns must start and end at one of these.
# After a keyword's first character: the character before it is not part of a word.
_AFTER_WORD_START = r"(?<!\w.)"
_WORD_END = r"(?!\w)"
_PHRASE_GAP = r"[\s\-]+"
_CONSONANT_Y = re.compile(r"[^aeiou]y$")
# Typographic apostrophes and dashes customers paste from word processors; folded to ASCII.
_PUNCTUATION_FOLD = str.maketrans({"\u2019": "'", "\u2018": "'", "\u2010": "-", "\u2011": "-",
                                   "\u2013": "-", "\u2014": "-"})


@dataclass(frozen=True)
class Taxonomy:
    """An ordered list of topics, each with its keywords and compiled matcher."""

    names: tuple[str, ...]
    keywords: tuple[tuple[str, ...], ...]
    patterns: tuple[re.Pattern[str], ...]
    source: str = "<memory>"

    def __len__(self) -> int:
        return len(self.names)


def load_taxonomy(path: Path) -> Taxonomy:
    """Read a taxonomy JSON file and compile its matchers; ValueError names a malformed file."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    return build_taxonomy(data, source=str(path))


def build_taxonomy(data: Any, source: str = "<memory>") -> Taxonomy:
    """Validate an already-parsed taxonomy document and compile one regex per topic."""

    def fail(problem: str) -> ValueError:
        return ValueError(f"{source}: {problem}")

    if not isinstance(data, Mapping) or "topics" not in data:
        raise fail('missing "topics": expected {"topics": [{"name": ..., "keywords": [...]}]}')
    topics = data["topics"]
    if not isinstance(topics, list) or not topics:
        raise fail('"topics" must be a non-empty list')

    names: list[str] = []
    seen: dict[str, int] = {}
    all_keywords: list[tuple[str, ...]] = []
    patterns: list[re.Pattern[str]] = []
    for index, topic in enumerate(topics, start=1):
        where = f"topic #{index}"
        if not isinstance(topic, Mapping):
            raise fail(f"{where} must be an object with a name and keywords")
        name = topic.get("name")
        if not isinstance(name, str) or not name.strip():
            raise fail(f"{where} has no name")
        name = name.strip()
        where = f"topic #{index} ({name!r})"
        if "," in name:
            # Stored topic lists are comma-separated (see app.store.models).
            raise fail(f"{where}: a topic name cannot contain a comma")
        key = name.casefold()
        if key in seen:
            raise fail(f"{where}: duplicate topic name (same as topic #{seen[key]})")
        seen[key] = index
        keywords = topic.get("keywords")
        if not isinstance(keywords, list) or not keywords:
            raise fail(f"{where} has no keywords (expected a non-empty list of strings)")
        cleaned: list[str] = []
        for keyword in keywords:
            problem = _check_keyword(keyword)
            if problem:
                raise fail(f"{where}: keyword {keyword!r} {problem}")
            cleaned.append(keyword.strip())
        names.append(name)
        all_keywords.append(tuple(cleaned))
        patterns.append(compile_keywords(cleaned))
    return Taxonomy(tuple(names), tuple(all_keywords), tuple(patterns), source)


def tag_topics(text: str | None, taxonomy: Taxonomy) -> tuple[str, ...]:
    """Names of the topics that ``text`` mentions, in taxonomy order; () for None or blank."""
    if not text:
        return ()
    folded = fold_text(text)
    return tuple(
        name
        for name, pattern in zip(taxonomy.names, taxonomy.patterns, strict=True)
        if pattern.search(folded)
    )


def fold_text(text: str) -> str:
    """Lower-case ``text`` and strip accents and typographic punctuation, as matching sees it."""
    if text.isascii():
        return text.lower()
    text = text.translate(_PUNCTUATION_FOLD)
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped)


def compile_keywords(keywords: Iterable[str]) -> re.Pattern[str]:
    """Compile keywords into one whole-word alternation regex that matches folded text."""
    trie = _build_trie(_keyword_tokens(keyword) for keyword in keywords)
    # The word-start guard goes after each branch's first character rather than in front of
    # the whole alternation: then the pattern begins with a set of literal characters and the
    # regex engine skips, in C, every position that cannot start a keyword.
    branches = [
        token + _AFTER_WORD_START + _render(child)
        for token, child in sorted(trie.items())
    ]
    return re.compile("|".join(branches))


def _check_keyword(keyword: Any) -> str | None:
    if not isinstance(keyword, str):
        return "is not a string"
    stem = keyword.strip().removesuffix("*").strip()
    if not stem:
        return "is empty"
    if "*" in stem:
        return "has a '*' that is not at the end (only a trailing '*' prefix match is supported)"
    if not re.search(r"\w", stem):
        return "has no letters or digits"
    return None


def _keyword_tokens(keyword: str) -> list[str]:
    """The regex for one keyword as a list of steps: one per character, gap or ending."""
    keyword = fold_text(keyword.strip())
    prefix = keyword.endswith("*")
    words = [part for part in re.split(r"[\s\-]+", keyword.removesuffix("*")) if part]
    last = words[-1]
    ending: list[str]
    if prefix:
        ending = [r"\w*"]
    elif not last[-1].isalpha():
        ending = [_WORD_END]
    elif _CONSONANT_Y.search(last):
        words[-1] = last[:-1]
        ending = [r"(?:y|ies)", _WORD_END]
    else:
        ending = [r"(?:e?s)?", _WORD_END]
    tokens: list[str] = []
    for position, word in enumerate(words):
        if position:
            tokens.append(_PHRASE_GAP)
        tokens.extend(re.escape(char) for char in word)
    return tokens + ending


def _build_trie(sequences: Iterable[list[str]]) -> dict[str, Any]:
    """Factor token sequences into a prefix trie; the key "" marks the end of a sequence."""
    trie: dict[str, Any] = {}
    for tokens in sequences:
        node = trie
        for token in tokens:
            node = node.setdefault(token, {})
        node[""] = {}
    return trie


def _render(node: dict[str, Any]) -> str:
    ends_here = "" in node
    branches = [token + _render(child) for token, child in sorted(node.items()) if token]
    if not branches:
        return ""
    if len(branches) == 1 and not ends_here:
        return branches[0]
    body = "(?:" + "|".join(branches) + ")"
    return body + "?" if ends_here else body
