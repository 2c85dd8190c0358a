"""What text may reach a screen in a public room: personal data masked, direction overrides
and control characters removed, profanity masked (on the wall), length cut at a word boundary.

Stored data can predate the input rules (app/ingest/rules.py), so everything shown on the wall
or the manager page passes through ``clean_for_display`` on its own.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from app.config import SHIPPED_DATA_DIR
from app.ingest.rules import BIDI_RE, CONTROL_RE

ELLIPSIS = "…"
# A cut goes back to the last space when one lies in the last WORD_CUT_SHARE of the limit;
# past that the text is one long word (a URL, a hash) and is cut where it must.
WORD_CUT_SHARE = 0.3
PROFANITY_FILE = "profanity.txt"
SEEN_TOKENS = 20_000  # the per-list memo of tokens, cleared when full
SCAN_FACTOR = 4  # masking shortens text by far less than this before it is cut to its limit
# Invisible characters that can hide inside an address ("a\u200b@b.com" shows as a@b.com):
# soft hyphen, Mongolian vowel separator, zero-width space/joiners, word joiner, invisible
# operators and the BOM.
_INVISIBLE = "\u00ad\u180e\u200b-\u200d\u2060-\u2064\ufeff"
_LOCAL_CHARS = rf"\w.+\-{_INVISIBLE}"
_LABEL = rf"[\w\-{_INVISIBLE}]+"
# "@", fullwidth "＠", small "﹫", or a spelled-out "(at)" / "[at]" / "{at}" / "<at>".
_AT = r"(?:[ ]?[@\uff20\ufe6b][ ]?|\s*[(\[{<]\s*at\s*[)\]}>]\s*)"
# ".", fullwidth "．", ideographic "。" / halfwidth "｡", or a spelled-out "(dot)" / "[dot]".
_DOT = r"(?:[.\uff0e\u3002\uff61]|\s*[(\[{<]\s*dot\s*[)\]}>]\s*)"
# The top-level domain starts with a letter, so "9 @ 10.30" stays a time.
_TLD = rf"[{_INVISIBLE}]*[^\W\d_][\w\-{_INVISIBLE}]+"
# The look-behind lets a match start only where a run of address characters starts, so a
# 10,000-character word is scanned once rather than once per position.
EMAIL = re.compile(
    rf"(?<![{_LOCAL_CHARS}])[{_LOCAL_CHARS}]+{_AT}{_LABEL}(?:{_DOT}{_LABEL})*{_DOT}{_TLD}",
    re.IGNORECASE)
# Card-like: 13-19 digits, optionally grouped by spaces or dashes.
CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
# Phone-like: an optional +country code, then 7+ digits with common separators.
PHONE = re.compile(
    r"(?<![\w])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){2,4}(?![\w])")


def mask_personal_data(text: str) -> str:
    """Replace e-mail addresses, card-like numbers and phone numbers with placeholders."""
    if not text:
        return text
    text = EMAIL.sub("[email]", text)
    text = CARD.sub("[number]", text)
    return PHONE.sub(_phone, text)


def _mask_reversed(text: str) -> str:
    """Mask addresses written backwards: under a right-to-left override "moc.elpmaxe@nhoj"
    shows as john@example.com, and it still reads as one once the override is removed."""
    n = len(text)
    spans = [(n - m.end(), n - m.start()) for m in EMAIL.finditer(text[::-1])]
    for start, end in reversed(spans):
        text = text[:start] + "[email]" + text[end:]
    return text


def neutralise_direction(text: str) -> str:
    """``text`` without direction embeddings, overrides and isolates (U+202A-U+202E,
    U+2066-U+2069) or control characters, which could make it show other words than it holds."""
    return BIDI_RE.sub("", CONTROL_RE.sub("", text)) if text else text


@dataclass(frozen=True, repr=False)
class Profanity:
    """A word list: whole words, stems (``fuck*`` also masks "fucking"), and the longest word,
    to skip longer tokens cheaply. Matching ignores case, leetspeak digits and symbols
    (``sh1t``, ``@ss``), stretched letters (``shiiit``) and ``*`` standing for letters
    (``f*ck``)."""

    words: frozenset[str]
    stems: tuple[str, ...]
    # Answers by token: most words of a comment ("the", "export") repeat across comments.
    _seen: dict[str, bool] = field(default_factory=dict, compare=False, hash=False)

    def __repr__(self) -> str:
        # Part fingerprints hash repr(): a set's order changes between processes, this does not.
        return self._repr

    @functools.cached_property
    def _repr(self) -> str:
        """Made once: a feed's, a "what changed" and the gong's fingerprint each take it
        (12 us to sort and hash the list, for every screen whose part moved)."""
        listed = "\n".join(sorted(self.words)) + "\n*" + "\n".join(self.stems)
        return f"Profanity({hashlib.blake2b(listed.encode(), digest_size=8).hexdigest()})"

    @classmethod
    def parse(cls, text: str) -> Profanity:
        """A list from a file's text: one word a line, ``*`` at the end for a stem, ``#``
        comments."""
        lines = [ln.split("#", 1)[0].strip().lower() for ln in text.splitlines()]
        words = frozenset(w for w in lines if w and not w.endswith("*"))
        stems = tuple(sorted(w[:-1] for w in lines if w.endswith("*") and len(w) > 1))
        return cls(words, stems)

    def matches(self, token: str) -> bool:
        """True when ``token`` (one word as written) is on the list."""
        known = self._seen.get(token)
        if known is None:
            if len(self._seen) >= SEEN_TOKENS:
                self._seen.clear()
            known = self._seen[token] = self._match(token)
        return known

    def _match(self, token: str) -> bool:
        plain = token.lower().translate(_LEET)
        if "*" in plain:
            return self._matches_pattern(plain)
        squeezed = _REPEATS.sub(r"\1", plain)
        return any(w in self.words or w.startswith(self.stems) for w in (plain, squeezed))

    def _matches_pattern(self, plain: str) -> bool:
        if plain.strip("*") == "" or len(plain) < 3:
            return False  # "*" or "**": punctuation, not a hidden word
        pattern = plain.replace("*", "?")
        return any(fnmatch.fnmatchcase(w, pattern) for w in self.words) or any(
            fnmatch.fnmatchcase(s, pattern[: len(s)]) and len(pattern) >= len(s)
            for s in self.stems)


_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                       "$": "s"})
_REPEATS = re.compile(r"(.)\1+")
# A word as someone may write it to get past a filter: letters, digits, @, $ and * inside.
_TOKEN = re.compile(r"[\w@$*]*\w[\w@$*]*|[\w@$]+\*+")


def mask_profanity(text: str, profanity: Profanity | None) -> str:
    """Each listed word in ``text`` replaced by its first letter and asterisks ("f***")."""
    if not text or profanity is None or not (profanity.words or profanity.stems):
        return text
    return _TOKEN.sub(lambda m: _star(m.group(0)) if profanity.matches(m.group(0))
                      else m.group(0), text)


def _star(word: str) -> str:
    return word[0] + "*" * (len(word) - 1)


@functools.lru_cache(maxsize=8)
def load_profanity(data_dir: str | None = None) -> Profanity:
    """The wall's word list: DATA_DIR/profanity.txt when there is one (an empty file turns
    masking off), else the list shipped in data/profanity.txt."""
    local = Path(data_dir) / PROFANITY_FILE if data_dir else None
    path = local if local is not None and local.exists() else SHIPPED_DATA_DIR / PROFANITY_FILE
    return Profanity.parse(path.read_text(encoding="utf-8"))


def cut_at_word(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, an ellipsis included when cut: back to the
    last space when there is one near the end, else mid-word."""
    if len(text) <= limit:
        return text
    head = text[: max(limit - 1, 0)]
    space = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
    if space >= limit * (1 - WORD_CUT_SHARE):
        head = head[:space]
    return head.rstrip() + ELLIPSIS


def clean_for_display(text: str | None, limit: int | None = None,
                      profanity: Profanity | None = None) -> str:
    """``text`` as a public screen may show it: neutralised, masked (personal data, and the
    words of ``profanity`` when given), and cut to ``limit`` characters (an ellipsis
    included) at a word boundary when given."""
    if not text:
        return ""
    if limit is not None and len(text) > SCAN_FACTOR * limit:
        # Only a prefix can be shown, so only a prefix is scanned (a 10,000-character comment
        # costs what a short one does). A partial last word goes too when enough is left: it
        # could be the start of an address that the scan would no longer see whole.
        text = text[: SCAN_FACTOR * limit]
        head = text.rsplit(None, 1)[0] if text.strip() else ""
        text = head if len(head) > limit else text
    overridden = BIDI_RE.search(text) is not None
    text = neutralise_direction(text)
    if overridden:
        text = _mask_reversed(text)
    text = mask_profanity(mask_personal_data(text), profanity)
    if limit is not None:
        text = cut_at_word(text, limit)
    return text


def _phone(match: re.Match) -> str:
    digits = sum(ch.isdigit() for ch in match.group(0))
    # Short digit runs are versions, years or prices ("v2.3.1", "2019", "50 000"), not phones.
    return "[phone]" if digits >= 7 else match.group(0)
