"""One set of input rules for every way in: REST, webhooks, CSV import and the CLI.

Every path that takes a response or an event from outside calls these, so the same input is
refused (or cleaned) the same way with the same message wherever it arrives. Each function
raises ``ValueError`` whose text is the reason; callers add the field or line it came from.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

MAX_COMMENT = 10_000
MAX_SEGMENT_VALUE = 200
MAX_ID = 255
MAX_LABEL = 200
MAX_NOTE = 2_000
MAX_SEGMENTS = 20  # segment properties on one response

# A segment (property) name: what REST takes as a key of "segments", and the import as the
# name of a --segment column; the same wording in both refusals.
SEGMENT_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
SEGMENT_NAME_RULE = "a letter or _ followed by up to 63 letters, digits or _"
# Characters that show nothing on their own, besides whitespace and format characters (Cf:
# zero-width space and joiners, U+2060, U+FEFF): Hangul fillers and the blank braille cell.
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")

# C0 controls but tab, line feed and carriage return; DEL; C1 controls (ESC starts a terminal
# escape sequence, so it is in here).
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Embeddings, overrides and isolates reorder how text is shown ("Trojan Source"): a comment
# could display other words than it holds. Marks (U+200E/U+200F) are harmless and kept.
BIDI_RE = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
# Line breaks of any kind, for one-line values (segments, ids, labels).
LINE_BREAK_RE = re.compile(r"[\t\n\r\x0b\x0c\u0085\u2028\u2029]")
# One search instead of two or three for the common, clean value (imports run these per cell).
_UNSAFE_TEXT_RE = re.compile(f"{CONTROL_RE.pattern}|{BIDI_RE.pattern}")
_UNSAFE_LINE_RE = re.compile(f"{CONTROL_RE.pattern}|{BIDI_RE.pattern}|{LINE_BREAK_RE.pattern}")


@dataclass(frozen=True)
class TimeRange:
    """The plausible response times: from ``earliest`` to ``ahead`` after now."""

    earliest: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    ahead: timedelta = timedelta(days=1)

    @classmethod
    def from_settings(cls, settings) -> TimeRange:
        """The range the settings configure (NPS_TV_EARLIEST_DATE, NPS_TV_FUTURE_HOURS)."""
        earliest = date.fromisoformat(settings.earliest_date)
        return cls(datetime(earliest.year, earliest.month, earliest.day, tzinfo=UTC),
                   timedelta(hours=settings.future_hours))

    def latest(self, now: datetime | None = None) -> datetime:
        """The latest plausible time at ``now``."""
        return (now or datetime.now(UTC)) + self.ahead

    def check(self, moment: datetime, now: datetime | None = None) -> datetime:
        """``moment`` (aware) when it lies in the range; ValueError naming the range if not."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"must include a time zone, got {moment.isoformat()}")
        try:
            utc = moment.astimezone(UTC)
        except OverflowError:  # 0001-01-01 at +01:00 is before year 1 in UTC: out of range
            utc = None
        if utc is None or not self.earliest <= utc <= self.latest(now):
            shown = moment.isoformat() if utc is None else show_utc(utc)
            raise ValueError(
                f"must lie between {show_utc(self.earliest)[:10]} and "
                f"{describe_ahead(self.ahead)}, got {shown}")
        return moment


def show_utc(moment: datetime) -> str:
    """'0001-01-01T00:00:00Z': strftime's %Y drops the zero padding of years below 1000."""
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}Z"


def describe_ahead(ahead: timedelta) -> str:
    """'now + 24 h' style wording of how far ahead a time may lie."""
    hours = ahead.total_seconds() / 3600
    return f"now + {hours:g} h"


def clean_comment(value: str, limit: int = MAX_COMMENT) -> str:
    """A comment as stored: control and direction-override characters removed, length checked.

    Line breaks and tabs stay (customers write paragraphs); the length counts what is kept.
    A comment that shows nothing (only whitespace or zero-width characters) is "", as an
    empty one: callers store no comment.
    """
    text = value.strip()
    if _UNSAFE_TEXT_RE.search(text):
        text = BIDI_RE.sub("", CONTROL_RE.sub("", text)).strip()
    if len(text) > limit:
        raise ValueError(f"is {len(text)} characters; the limit is {limit}")
    return text if text.isascii() or shows_something(text) else ""


def shows_something(text: str) -> bool:
    """False for text made only of whitespace, format characters (zero-width space, joiners,
    U+FEFF) and blank fillers, which a screen shows as nothing."""
    return any(not ch.isspace() and ch not in BLANK_LETTERS
               and unicodedata.category(ch) != "Cf" for ch in text)


def clean_line(value: str, limit: int, what: str = "characters") -> str:
    """A one-line value (segment value, id, label): refused when it holds control or direction
    characters or line breaks, or is longer than ``limit``; surrounding blanks are trimmed."""
    text = value.strip()
    if _UNSAFE_LINE_RE.search(text):
        if CONTROL_RE.search(text) or LINE_BREAK_RE.search(text):
            raise ValueError("must be one line without control characters")
        raise ValueError("must not contain text-direction override characters")
    if len(text) > limit:
        raise ValueError(f"is {len(text)} {what}; the limit is {limit}")
    return text


def check_segment_name(name: str) -> str:
    """``name`` when it is a valid segment name; ValueError stating the rule otherwise."""
    if not isinstance(name, str) or not SEGMENT_NAME_RE.fullmatch(name):
        raise ValueError(f"must be {SEGMENT_NAME_RULE}")
    return name


def clean_segment_value(value: str) -> str:
    """A segment value (product, region, ...): one printable line of at most 200 characters,
    in NFC and without invisible characters at either end; "" when nothing would show.
    "EMEA" with a zero-width space after it, and "Zürich" typed with a combining mark, were
    values of their own beside the ones they look like (two "Zürich" rows in a comparison)."""
    text = clean_line(unicodedata.normalize("NFC", value), MAX_SEGMENT_VALUE)
    start, end = 0, len(text)
    while start < end and _invisible(text[start]):
        start += 1
    while end > start and _invisible(text[end - 1]):
        end -= 1
    return text[start:end]


def _invisible(ch: str) -> bool:
    return ch.isspace() or ch in BLANK_LETTERS or unicodedata.category(ch) == "Cf"


def parse_ascii_int(text: str) -> int:
    """An integer written in ASCII digits ("10", "-3"); other digits ("١٠", "１０") are refused.

    ``int()`` reads every Unicode decimal digit, which nobody types into a survey on purpose.
    """
    stripped = text.strip()
    body = stripped[1:] if stripped[:1] in "+-" else stripped
    if not body or not (body.isascii() and body.isdigit()):
        raise ValueError(f"must be written with the digits 0-9, got {stripped[:40]!r}")
    return int(stripped)


def parse_iso_time(value: str) -> datetime:
    """An ISO 8601 time that names its zone ("2026-11-23T09:30:00Z"); naive or garbage refused."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"must be an ISO 8601 time like 2026-11-23T09:30:00Z, "
                         f"got {value[:40]!r}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"must include a time zone (Z or +01:00), got {value[:40]!r}")
    return moment


def clean_external_id(value: str) -> str:
    """A response id: one printable line of 1 to 255 characters."""
    text = clean_line(value, MAX_ID)
    if not text:
        raise ValueError("must not be empty")
    return text


def clean_label(value: str) -> str:
    """An event label: one printable line of 1 to 200 characters."""
    text = clean_line(value, MAX_LABEL)
    if not text:
        raise ValueError("must not be empty")
    return text


def clean_note(value: str) -> str:
    """An event note: cleaned like a comment (paragraphs allowed), at most 2,000 characters."""
    return clean_comment(value, MAX_NOTE)
