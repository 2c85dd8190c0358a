"""The pure half of the CSV import: reading one cell's text as a value, and finding columns.

Nothing here touches a file or the store: missing-value handling, score parsing, time-format
detection and parsing, time zone resolution, and resolving a column spec against a header.
``app.ingest.csv_import`` drives these over a whole file.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.ingest.rules import (
    MAX_SEGMENTS,
    SEGMENT_NAME_RULE,
    check_segment_name,
    clean_line,
    parse_ascii_int,
)

MISSING_VALUES = frozenset({"", "NA", "N/A"})  # compared after strip() and upper()

# M/D/YYYY H:MM:SS (Google Forms) or M/D/YY H:MM (Excel), seconds and AM/PM optional.
_SLASH_TIME = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})"
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([AaPp])\.?[Mm]\.?)?)?"
)

# ASCII digits only: \d would also match "١٠" (Arabic-Indic) and "１０" (fullwidth).
_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
# "10 - Extremely likely", "0 – Not at all likely", "10: Extremely likely", "10 (Promoter)".
_SCALE_LABEL = re.compile(r"(?P<number>[0-9]{1,2})\s*(?:[-\u2013\u2014:=(]\s*|\s)"
                          r"(?P<label>.+?)\)?", re.DOTALL)

ColumnSpec = str | int


class ImportFailed(ValueError):
    """The import cannot run: a bad option, an unknown column, an unreadable file."""


class Column(NamedTuple):
    """A resolved column: its 0-based index and the name used in messages."""

    index: int
    name: str


# -- cells ------------------------------------------------------------------------------------


def cell_value(cells: list[str], index: int) -> str | None:
    """The stripped cell, or None when it is absent, blank, NA or N/A."""
    if index >= len(cells):
        return None
    text = cells[index].strip()
    return None if text.upper() in MISSING_VALUES else text


def parse_score(text: str, low: int = 0) -> int:
    """A whole score from ``low`` to 10 ("9", "9.0") in ASCII digits; ValueError otherwise."""
    if not _NUMBER.fullmatch(text):
        if any(ch.isdigit() for ch in text) and not text.isascii():
            parse_ascii_int(text)  # raises the shared rule's message for "١٠" or "１０"
        # float() would also read "1_0", "1e1" and "inf"; nobody means those as a score.
        raise ValueError(f"score {shorten(text)!r} is not a number")
    number = float(text)
    if not low <= number <= 10:
        # Before the whole-number check: float("9" * 5000) is inf, which is not whole either,
        # and "not a whole number" sent people looking for a decimal point.
        shown = int(number) if number.is_integer() and abs(number) < 1e15 else shorten(text)
        raise ValueError(f"score {shown} is outside the {low}-10 scale")
    if not number.is_integer():
        raise ValueError(f"score {shorten(text)!r} is not a whole number")
    return int(number)


def split_scale_label(text: str) -> tuple[str, bool]:
    """("10", True) for a labelled scale cell such as "10 - Extremely likely"; (text, False)
    for anything else. SurveyMonkey and others label the ends of the scale that way."""
    match = _SCALE_LABEL.fullmatch(text)
    if match is None or not any(ch.isalpha() for ch in match["label"]):
        return text, False
    return match["number"], True


def shorten(text: str, limit: int = 40) -> str:
    """``text`` cut to ``limit`` characters, ending in an ellipsis when cut, for messages."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- times ------------------------------------------------------------------------------------

UNIX_SECONDS = re.compile(r"[0-9]{1,11}(\.[0-9]{1,9})?", re.ASCII)
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def build_time_parser(time_format: str | None, zone: tzinfo) -> Callable[[str], datetime]:
    """A parser returning aware datetimes; naive times are read in ``zone``.

    ``time_format`` None (or "auto") accepts ISO 8601, M/D/YYYY H:MM:SS and M/D/YY H:MM;
    anything else is a ``strptime`` format.
    """
    kind = (time_format or "auto").lower()
    if kind == "auto":
        parse_naive = _parse_auto_time
    elif kind == "unix":
        parse_naive = _parse_unix_time
    else:
        try:
            datetime.strptime("", time_format)
        except ValueError as exc:  # a directive strptime does not know: no row could match
            if "bad directive" in str(exc) or "stray %" in str(exc):
                raise ImportFailed(f"--time-format {time_format!r}: {exc}") from None

        def parse_naive(text: str) -> datetime:
            try:
                return datetime.strptime(text, time_format)
            except ValueError:
                raise ValueError(f"time {shorten(text)!r} does not match "
                                 f"{time_format!r}") from None

    def parse(text: str) -> datetime:
        moment = parse_naive(text)
        if moment.tzinfo is not None:
            return moment
        local = moment.replace(tzinfo=zone)
        if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
            # In the hour the clocks skip (spring forward): no such time was ever shown there.
            raise ValueError(f"time {shorten(text)!r} does not exist in {zone} (the clocks "
                             "skipped it); check --timezone")
        return local

    return parse


def _parse_unix_time(text: str) -> datetime:
    """Seconds since 1970-01-01 UTC (``--time-format unix``), as the webhooks take them."""
    try:
        seconds = float(text) if UNIX_SECONDS.fullmatch(text) else None
    except ValueError:
        seconds = None
    if seconds is None or not 0 <= seconds < 1e11:
        raise ValueError(f"time {shorten(text)!r} is not Unix seconds (0 to 99,999,999,999; "
                         "milliseconds are not accepted)")
    return datetime.fromtimestamp(seconds, UTC)


def _parse_auto_time(text: str) -> datetime:
    if "/" not in text:
        try:
            return datetime.fromisoformat(text)  # 3.11 reads a trailing Z and most ISO forms
        except ValueError as exc:
            if ISO_DATE.match(text) and not str(exc).startswith("Invalid isoformat"):
                # a date that cannot be ("2026-02-29", a 60th second): say why
                raise ValueError(f"time {shorten(text)!r} is not a valid date: {exc}") from None
    else:
        match = _SLASH_TIME.fullmatch(text)
        if match is not None:
            try:
                return _slash_datetime(*match.groups())
            except ValueError as exc:
                raise ValueError(f"time {shorten(text)!r} is not a valid date: {exc}") from None
    raise ValueError(f"time {shorten(text)!r} is not ISO 8601, M/D/YYYY H:MM:SS or "
                     "M/D/YY H:MM (give a --time-format)")


def _slash_datetime(month: str, day: str, year: str, hour: str | None, minute: str | None,
                    second: str | None, half: str | None) -> datetime:
    full_year = int(year)
    if len(year) == 2:  # strptime's %y rule: 69-99 are 19xx, 00-68 are 20xx
        full_year += 1900 if full_year >= 69 else 2000
    hours = int(hour or 0)
    if half:
        if not 1 <= hours <= 12:
            raise ValueError("hour must be 1-12 with AM/PM")
        hours = hours % 12 + (12 if half in "Pp" else 0)
    return datetime(full_year, int(month), int(day), hours, int(minute or 0), int(second or 0))


def resolve_zone(name: str) -> tzinfo:
    """The time zone for a --timezone name (UTC, Z or IANA); ImportFailed if unknown."""
    if name.strip().upper() in {"UTC", "Z"}:
        return UTC
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ImportFailed(f"--timezone {name!r}: unknown time zone "
                           "(use an IANA name such as Europe/Paris)") from None


# -- columns ----------------------------------------------------------------------------------


def resolve_segments(items: Sequence[str | tuple[str, ColumnSpec]], header: list[str],
                     fields: Sequence[str] = ()) -> list[tuple[str, Column]]:
    """(segment name, column) for each --segment item, under REST's rules for segment names
    and their number; ImportFailed naming the item otherwise. A name that is one of
    ``fields`` in another case is that field, as on REST and the webhooks (``Region=COL``
    was a field of its own that no screen shows)."""
    spelled = {field.lower(): field for field in fields}
    if len(items) > MAX_SEGMENTS:
        raise ImportFailed(f"--segment is given {len(items)} times; the limit is "
                           f"{MAX_SEGMENTS} segments, as for REST")
    segments: list[tuple[str, Column]] = []
    for item in items:
        name, spec = split_segment(item, header)
        column = resolve_column(header, spec, "--segment")
        shown = item if isinstance(item, str) else f"{item[0]}={item[1]}"
        _check_segment_name(shown, name, column)
        name = name or column.name.lower()
        name = spelled.get(name.lower(), name)
        if any(name == taken for taken, _column in segments):
            raise ImportFailed(f"--segment {shown!r}: segment {name!r} is given twice")
        segments.append((name, column))
    return segments


def _check_segment_name(shown: str, name: str | None, column: Column) -> None:
    # Before a row is read: a column given by position whose header is a whole question ("In
    # what country do you currently reside?") was stored under that text, a name no filter
    # or REST request could use.
    try:
        check_segment_name(name or column.name.lower())
    except ValueError:
        if name is not None:
            raise ImportFailed(f"--segment {shown!r}: the name {name!r} must be "
                               f"{SEGMENT_NAME_RULE}") from None
        raise ImportFailed(
            f"--segment {shown!r}: the segment would be named after its header "
            f"{shorten(column.name.lower(), 60)!r}, which is not a segment name (it must be "
            f"{SEGMENT_NAME_RULE}); name it: --segment NAME={shown}") from None


def split_segment(item: str | tuple[str, ColumnSpec], header: list[str]
                  ) -> tuple[str | None, ColumnSpec]:
    """(segment name or None, column) for a ``NAME=COLUMN``, ``COLUMN`` or (name, column) item."""
    if isinstance(item, tuple):
        return item[0], item[1]
    text = str(item)
    if "=" in text and text.strip() not in header:
        name, spec = text.split("=", 1)
        if not name.strip():
            raise ImportFailed(f"--segment {text!r}: the segment name before '=' is empty")
        return name.strip(), spec.strip()
    return None, text


def resolve_column(header: Sequence[str], spec: ColumnSpec, option: str) -> Column:
    """Find a column by exact header name, else by 1-based position; ImportFailed if neither."""
    text = str(spec).strip()
    hits = [i for i, name in enumerate(header) if name == text]
    if len(hits) == 1:
        return Column(hits[0], header[hits[0]])
    if len(hits) > 1:
        positions = ", ".join(str(i + 1) for i in hits)
        raise ImportFailed(f"{option} {text!r}: several columns have that header "
                           f"(positions {positions}); give a position instead")
    if text.isdigit():
        position = int(text)
        if 1 <= position <= len(header):
            return Column(position - 1, header[position - 1] or f"#{position}")
        raise ImportFailed(f"{option} {text}: no such position; the file has "
                           f"{len(header)} columns (1-{len(header)})")
    raise ImportFailed(f"{option} {text!r}: no such column; {_suggest(header, text)}")


def _suggest(header: Sequence[str], text: str) -> str:
    lowered = [name.lower() for name in header]
    wanted = text.lower()
    picks = [i for i, name in enumerate(lowered) if wanted and wanted in name]
    for name in difflib.get_close_matches(wanted, lowered, n=5, cutoff=0.6):  # best first
        index = lowered.index(name)
        if index not in picks:
            picks.append(index)
    if not picks:
        shown = ", ".join(repr(shorten(name, 30)) for name in header[:12])
        more = ", …" if len(header) > 12 else ""
        return f"the columns are {shown}{more}"
    return "close matches: " + ", ".join(
        f"{shorten(header[i], 60)!r} (position {i + 1})" for i in picks[:5])


def import_source(given: str | None, path: Path, limit: int) -> str:
    """The source stored with each row: ``--source`` when given (one clean line: refused with
    control or direction characters, as REST refuses them), else ``import:<file name>`` with
    any such character of the name made ``_`` (an ESC in a file name reached the store and
    every export); the name is kept otherwise, so a re-import keeps its source."""
    if given is None:
        name = "".join(ch if ch.isprintable() and unicodedata.category(ch) != "Cf" else "_"
                       for ch in path.name)
        return f"import:{name}"[:limit]
    try:
        return clean_line(given, limit)
    except ValueError as exc:
        raise ImportFailed(f"--source {given[:80]!r}: {exc}") from None
