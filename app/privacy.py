"""What text may reach a screen in a public room: personal data masked, direction overrides
and control characters removed, length cut.

Stored data can predate the input rules (app/ingest/rules.py), so everything shown on the wall
or the manager page passes through ``clean_for_display`` on its own.
"""

from __future__ import annotations

import re

from app.ingest.rules import BIDI_RE, CONTROL_RE

ELLIPSIS = "…"
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


def clean_for_display(text: str | None, limit: int | None = None) -> str:
    """``text`` as a public screen may show it: neutralised, masked, and cut to ``limit``
    characters (an ellipsis included) when given."""
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
    text = mask_personal_data(text)
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)].rstrip() + ELLIPSIS
    return text


def _phone(match: re.Match) -> str:
    digits = sum(ch.isdigit() for ch in match.group(0))
    # Short digit runs are versions, years or prices ("v2.3.1", "2019", "50 000"), not phones.
    return "[phone]" if digits >= 7 else match.group(0)
