"""Masking of personal data before a comment reaches a screen in a public room."""

from __future__ import annotations

import re

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
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


def _phone(match: re.Match) -> str:
    digits = sum(ch.isdigit() for ch in match.group(0))
    # Short digit runs are versions, years or prices ("v2.3.1", "2019", "50 000"), not phones.
    return "[phone]" if digits >= 7 else match.group(0)
