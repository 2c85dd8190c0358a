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

Each topic's keywords are compiled once, in :class:`Taxonomy`, into one alternation regex
factored as a prefix trie. Tagging scans a comment once with the union of all keywords to find
the word starts where some keyword begins, then asks only the topics whose keywords begin with
that letter whether they match there: a few microseconds per comment instead of one full scan
per topic.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_PHRASE_GAP = r"[\s\-]+"
_PREFIX_TAIL = r"\w*"
_CONSONANT_Y = re.compile(r"[^aeiou]y$")
_WORD_CHAR = re.compile(r"\w")
# Typographic apostrophes and dashes pasted from word processors fold to their ASCII forms.
# (str.replace per character: str.translate with a dict costs ~15 us on a 100-character
# non-ASCII comment, and the import joins comment columns with a middle dot.)
_PUNCTUATION_FOLD = (("\u2018", "'"), ("\u2019", "'"), ("\u2010", "-"), ("\u2011", "-"),
                     ("\u2013", "-"), ("\u2014", "-"))
_NON_ASCII = re.compile(r"[^\x00-\x7f]")

# A trie maps a regex token (one escaped character, a phrase gap or a word ending) to the
# subtree that follows it; the key "" marks the end of a keyword.
Trie = dict[str, "Trie"]


@dataclass(frozen=True)
class Taxonomy:
    """Ordered topics with their keywords, and the regexes that find them (built once)."""

    names: tuple[str, ...]
    keywords: tuple[tuple[str, ...], ...]
    source: str = "<memory>"
    # One regex per topic, matching any of its keywords in folded text (see fold_text).
    patterns: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)
    # Zero-width matches at every word start where some keyword of some topic begins.
    scanner: re.Pattern[str] = field(init=False, repr=False, compare=False)
    # First character of a folded keyword -> indexes of the topics having such a keyword.
    topics_by_initial: Mapping[str, tuple[int, ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if len(self.names) != len(self.keywords):
            raise ValueError("Taxonomy needs one keyword list per topic name")
        tokenized = [[_keyword_tokens(k) for k in topic] for topic in self.keywords]
        initials: dict[str, list[int]] = {}
        for index, keyword_tokens in enumerate(tokenized):
            for tokens in keyword_tokens:
                members = initials.setdefault(_unescape(tokens[0]), [])
                if index not in members:
                    members.append(index)
        union = _build_trie(tokens for topic in tokenized for tokens in topic)
        set_field = object.__setattr__  # the documented way to fill fields of a frozen dataclass
        set_field(self, "patterns", tuple(re.compile(_render_guarded(_build_trie(topic)))
                                          for topic in tokenized))
        set_field(self, "scanner", re.compile(_render_guarded(union, lookahead=True)))
        set_field(self, "topics_by_initial", {c: tuple(ix) for c, ix in initials.items()})

    def __len__(self) -> int:
        return len(self.names)


def load_taxonomy(path: Path) -> Taxonomy:
    """Read a taxonomy JSON file and compile it; ValueError names the file and the problem."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    return build_taxonomy(data, source=str(path))


def build_taxonomy(data: Any, source: str = "<memory>") -> Taxonomy:
    """Validate a parsed taxonomy document and compile it; ValueError names the problem."""

    def fail(problem: str) -> ValueError:
        return ValueError(f"{source}: {problem}")

    if not isinstance(data, Mapping) or "topics" not in data:
        raise fail('missing "topics" (expected {"topics": [{"name": ..., "keywords": [...]}]})')
    topics = data["topics"]
    if not isinstance(topics, list) or not topics:
        raise fail('"topics" must be a non-empty list')
    names: list[str] = []
    keyword_lists: list[tuple[str, ...]] = []
    first_seen: dict[str, int] = {}
    for number, topic in enumerate(topics, start=1):
        if not isinstance(topic, Mapping):
            raise fail(f"topic #{number} must be an object with a name and keywords")
        name = topic.get("name")
        if not isinstance(name, str) or not name.strip():
            raise fail(f"topic #{number} has no name")
        name = name.strip()
        where = f"topic #{number} ({name!r})"
        if "," in name:
            # The store keeps a response's topics as one comma-separated string.
            raise fail(f"{where}: a topic name cannot contain a comma")
        if name.casefold() in first_seen:
            raise fail(f"{where}: duplicate topic name, already used by topic "
                       f"#{first_seen[name.casefold()]}")
        first_seen[name.casefold()] = number
        keywords = topic.get("keywords")
        if not isinstance(keywords, list) or not keywords:
            raise fail(f"{where} has empty keywords (expected a non-empty list of strings)")
        for keyword in keywords:
            problem = _find_keyword_problem(keyword)
            if problem:
                raise fail(f"{where}: keyword {keyword!r} {problem}")
        names.append(name)
        keyword_lists.append(tuple(keyword.strip() for keyword in keywords))
    return Taxonomy(tuple(names), tuple(keyword_lists), source)


def tag_topics(text: str | None, taxonomy: Taxonomy) -> tuple[str, ...]:
    """Names of the topics that ``text`` mentions, in taxonomy order; () for None or blank."""
    if not text:
        return ()
    folded = fold_text(text)
    patterns = taxonomy.patterns
    by_initial = taxonomy.topics_by_initial
    found: set[int] = set()
    for candidate in taxonomy.scanner.finditer(folded):
        start = candidate.start()
        for index in by_initial[folded[start]]:
            if index not in found and patterns[index].match(folded, start):
                found.add(index)
    names = taxonomy.names
    return tuple(names[index] for index in sorted(found))


def fold_text(text: str) -> str:
    """Lower-case ``text`` and strip accents and typographic punctuation, as matching sees it."""
    if text.isascii():
        return text.lower()
    for typographic, plain in _PUNCTUATION_FOLD:
        if typographic in text:
            text = text.replace(typographic, plain)
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    if decomposed.isascii():
        return decomposed
    # The combining marks (accents) among its few distinct non-ASCII characters, removed.
    for char in set(_NON_ASCII.findall(decomposed)):
        if unicodedata.combining(char):
            decomposed = decomposed.replace(char, "")
    return unicodedata.normalize("NFC", decomposed)


def _find_keyword_problem(keyword: Any) -> str | None:
    if not isinstance(keyword, str):
        return "is not a string"
    stem = keyword.strip().removesuffix("*")
    if not fold_text(stem).strip(" -"):
        return "is empty"
    if "*" in stem:
        return "has a '*' that is not at the end (only a trailing '*' prefix match exists)"
    if not _WORD_CHAR.search(stem):
        return "has no letters or digits"
    return None


def _keyword_tokens(keyword: str) -> list[str]:
    """One keyword's regex as a list of steps: one per character, then gaps and its ending."""
    folded = fold_text(keyword.strip())
    words = [word for word in re.split(_PHRASE_GAP, folded.removesuffix("*")) if word]
    last = words[-1]
    ending: list[str]
    if folded.endswith("*"):
        ending = [_PREFIX_TAIL]
    elif not last[-1].isalpha():
        ending = [r"\b" if _WORD_CHAR.match(last[-1]) else r"(?!\w)"]
    elif _CONSONANT_Y.search(last):
        words[-1] = last[:-1]
        ending = ["(?:y|ies)", r"\b"]
    else:
        ending = ["(?:e?s)?", r"\b"]
    tokens: list[str] = []
    for word in words:
        if tokens:
            tokens.append(_PHRASE_GAP)
        tokens.extend(re.escape(char) for char in word)
    return tokens + ending


def _unescape(token: str) -> str:
    return token[-1]  # tokens at the start of a keyword are single, possibly escaped, characters


def _build_trie(sequences: Iterable[list[str]]) -> Trie:
    trie: Trie = {}
    for tokens in sequences:
        node = trie
        for token in tokens:
            node = node.setdefault(token, {})
        node[""] = {}
    return trie


def _render_guarded(trie: Trie, lookahead: bool = False) -> str:
    """Render a trie behind a word-start guard; ``\\b`` is cheaper, so use it where it's exact."""
    parts = []
    for guard, is_word_start in ((r"\b", True), (r"(?<!\w)", False)):
        branch = {t: child for t, child in trie.items()
                  if bool(_WORD_CHAR.match(_unescape(t))) == is_word_start}
        if branch:
            body = _render(branch)
            parts.append(f"{guard}(?={body})" if lookahead else guard + body)
    return "|".join(parts)


def _render(node: Trie) -> str:
    ends_here = "" in node
    branches = [token + _render(child) for token, child in sorted(node.items()) if token]
    if not branches:
        return ""
    if len(branches) == 1 and not ends_here:
        return branches[0]
    alternation = "(?:" + "|".join(branches) + ")"
    return alternation + "?" if ends_here else alternation
