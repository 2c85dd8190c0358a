"""Bulk import of survey exports (CSV or TSV): map columns onto responses, validate, upsert.

The file is read twice, streaming with the csv module: a first pass validates every row (so an
import that would exceed ``max_errors`` writes nothing), a second converts the rows again and
writes them in batches of ``BATCH_SIZE``, one transaction each. Re-importing the same file is
a no-op: rows are keyed by an id column or by a hash of the row's raw cells.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tqdm import tqdm

from app.store import ResponseRecord, Store

BATCH_SIZE = 2_000
MISSING_VALUES = frozenset({"", "NA", "N/A"})  # compared after strip() and upper()
SCALES = {"0-10": 0, "1-10": 1}
SOURCE_MAX = 64  # responses.source is VARCHAR(64)
EXTERNAL_ID_MAX = 255  # responses.external_id is VARCHAR(255)
TAB_EXTENSIONS = frozenset({".tsv", ".tab"})
SNIFF_DELIMITERS = (",", "\t", ";", "|")

# M/D/YYYY H:MM:SS (Google Forms) or M/D/YY H:MM (Excel), seconds and AM/PM optional.
_SLASH_TIME = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})"
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([AaPp])\.?[Mm]\.?)?)?"
)

ColumnSpec = str | int


class ImportError_(NamedTuple):  # the underscore keeps the builtin ImportError usable
    """One rejected value: the file line its row starts on, the column, and why."""

    line: int
    column: str
    reason: str


@dataclass
class ImportReport:
    """What an import read, wrote, skipped and rejected."""

    path: str
    source: str
    dry_run: bool = False
    rows_read: int = 0
    valid: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_blank: int = 0
    errors: list[ImportError_] = field(default_factory=list)
    seconds: float = 0.0
    aborted: bool = False

    @property
    def rows_per_second(self) -> float:
        """Rows read per second of wall-clock time (0 before anything was timed)."""
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0


class ImportFailed(ValueError):
    """The import cannot run: a bad option, an unknown column, an unreadable file."""


class ImportAborted(ImportFailed):
    """More than ``max_errors`` rejected values: nothing was written."""

    def __init__(self, report: ImportReport, max_errors: int):
        self.report = report
        super().__init__(f"more than {max_errors} errors by line {report.errors[-1].line}; "
                         "nothing imported")


@dataclass(frozen=True)
class ImportOptions:
    """How a file's columns map onto responses; every column is a header name or 1-based position.

    ``segments`` is either a mapping of segment name to column, or a sequence of ``COLUMN``
    (the segment is named after the header, lowercased) and ``NAME=COLUMN`` strings.
    """

    score: ColumnSpec
    comments: Sequence[ColumnSpec] = ()
    time: ColumnSpec | None = None
    time_format: str | None = None
    timezone: str = "UTC"
    segments: Mapping[str, ColumnSpec] | Sequence[str] = ()
    scale: str = "0-10"
    source: str | None = None
    id_column: ColumnSpec | None = None
    delimiter: str | None = None
    dry_run: bool = False
    max_errors: int = 100

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise ImportFailed(f"--scale {self.scale!r}: choose one of {', '.join(SCALES)}")
        if self.max_errors < 0:
            raise ImportFailed("--max-errors must be 0 or more")
        comments, segments = self.comments, self.segments
        if isinstance(segments, Mapping):
            segments = tuple((str(name), col) for name, col in segments.items())
        object.__setattr__(self, "comments", _as_tuple(comments))
        object.__setattr__(self, "segments", _as_tuple(segments))


def _as_tuple(value: object) -> tuple:
    return (value,) if isinstance(value, str | int) else tuple(value)


class Column(NamedTuple):
    """A resolved column: its 0-based index and the name used in messages."""

    index: int
    name: str


@dataclass(frozen=True)
class _Plan:
    """Options resolved against one file's header."""

    delimiter: str
    score: Column
    comments: tuple[Column, ...]
    time: Column | None
    segments: tuple[tuple[str, Column], ...]
    id_column: Column | None
    parse_time: Callable[[str], datetime]
    low: int
    source: str
    max_errors: int


def import_file(store: Store, path: str | Path, options: ImportOptions,
                progress: bool = False) -> ImportReport:
    """Validate a whole CSV/TSV export, then upsert it in batches; on abort nothing is written."""
    started = time.perf_counter()
    path = Path(path)
    plan = _build_plan(path, options)
    report = ImportReport(path=str(path), source=plan.source, dry_run=options.dry_run)
    size = path.stat().st_size
    try:
        with _progress_bar(progress, size, "B", "checking") as bar:
            for _record in _iter_records(path, plan, report, bar):
                report.valid += 1
            bar.update(max(size - bar.n, 0))
    except ImportAborted:
        report.aborted = True
        report.seconds = time.perf_counter() - started
        raise
    if not options.dry_run:
        scratch = ImportReport(path=str(path), source=plan.source)
        with _progress_bar(progress, report.valid, "rows", "importing") as bar:
            batch: list[ResponseRecord] = []
            for record in _iter_records(path, plan, scratch, None):
                batch.append(record)
                if len(batch) >= BATCH_SIZE:
                    _write_batch(store, batch, report, bar)
                    batch = []
            _write_batch(store, batch, report, bar)
    report.seconds = time.perf_counter() - started
    return report


def _write_batch(store: Store, batch: list[ResponseRecord], report: ImportReport, bar) -> None:
    if not batch:
        return
    result = store.upsert_responses(batch)
    report.imported += result.inserted
    report.updated += result.updated
    report.unchanged += result.unchanged
    bar.update(len(batch))


def _progress_bar(enabled: bool, total: int, unit: str, desc: str) -> tqdm:
    # tqdm writes to stderr by default; leave=False keeps only the summary on screen.
    return tqdm(total=total, unit=unit, unit_scale=unit == "B", desc=desc, disable=not enabled,
                leave=False, dynamic_ncols=True)


# -- reading ----------------------------------------------------------------------------------


def _iter_records(path: Path, plan: _Plan, report: ImportReport,
                  bar: tqdm | None) -> Iterator[ResponseRecord]:
    """Convert each data row, counting blanks and errors in ``report``."""
    seen_rows: dict[bytes, int] = {}
    seen_ids: dict[str, int] = {}
    for line, cells in _iter_rows(path, plan.delimiter, bar):
        report.rows_read += 1
        record = _convert_row(cells, line, plan, report, seen_rows, seen_ids)
        if len(report.errors) > plan.max_errors:
            raise ImportAborted(report, plan.max_errors)
        if record is not None:
            yield record


def _iter_rows(path: Path, delimiter: str, bar: tqdm | None,
               with_header: bool = False) -> Iterator[tuple[int, list[str]]]:
    """(line the row starts on, cells) for each non-empty row; the header only if asked."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(_counted(handle, bar), delimiter=delimiter)
            start, first = 1, True
            try:
                for cells in reader:
                    if cells and (with_header or not first):
                        yield start, cells
                    first = first and not cells
                    start = reader.line_num + 1
            except csv.Error as exc:
                raise ImportFailed(f"{path.name}, line {start}: {exc} "
                                   "(is a quote left open?)") from None
            except UnicodeDecodeError:
                raise ImportFailed(f"{path.name}, near line {reader.line_num + 1}: not UTF-8 "
                                   "text; save the file as UTF-8 and import again") from None
    except OSError as exc:
        raise ImportFailed(f"cannot read {path}: {exc.strerror or exc}") from None


def _counted(lines: Iterable[str], bar: tqdm | None) -> Iterator[str]:
    if bar is None or bar.disable:
        yield from lines
        return
    for text in lines:
        bar.update(len(text))  # characters: close enough to bytes for a progress bar
        yield text


def _convert_row(cells: list[str], line: int, plan: _Plan, report: ImportReport,
                 seen_rows: dict[bytes, int], seen_ids: dict[str, int]) -> ResponseRecord | None:
    raw_score = _value(cells, plan.score.index)
    if raw_score is None:
        report.skipped_blank += 1
        return None
    errors = report.errors
    count_before = len(errors)
    try:
        score = parse_score(raw_score, plan.low)
    except ValueError as exc:
        errors.append(ImportError_(line, plan.score.name, str(exc)))
    # Without a time column: now for a new response, the stored time on a re-import.
    created_at: datetime | None = None
    if plan.time is not None:
        raw_time = _value(cells, plan.time.index)
        try:
            if raw_time is None:
                raise ValueError("time is missing")
            created_at = plan.parse_time(raw_time)
        except ValueError as exc:
            errors.append(ImportError_(line, plan.time.name, str(exc)))
    if plan.id_column is None:
        digest = hashlib.blake2b("\x1f".join(cells).encode(), digest_size=16).digest()
        repeat = seen_rows[digest] = seen_rows.get(digest, 0) + 1
        # Identical rows are distinct answers (19 in the 2018 R survey): number the repeats.
        external_id = digest.hex() if repeat == 1 else f"{digest.hex()}-{repeat}"
    else:
        external_id = _value(cells, plan.id_column.index) or ""
        reason = _check_id(external_id, line, seen_ids)
        if reason:
            errors.append(ImportError_(line, plan.id_column.name, reason))
    if len(errors) > count_before:
        return None
    texts = [t for t in (_value(cells, c.index) for c in plan.comments) if t is not None]
    segments = {}
    for name, column in plan.segments:
        value = _value(cells, column.index)
        if value is not None:
            segments[name] = value
    return ResponseRecord(
        source=plan.source, external_id=external_id, score=score, created_at=created_at,
        comment="\n\n".join(texts).replace("\r\n", "\n") if texts else None, segments=segments)


def _value(cells: list[str], index: int) -> str | None:
    """The stripped cell, or None when it is absent, blank, NA or N/A."""
    if index >= len(cells):
        return None
    text = cells[index].strip()
    return None if text.upper() in MISSING_VALUES else text


def _check_id(external_id: str, line: int, seen: dict[str, int]) -> str | None:
    if not external_id:
        return "id is missing"
    if len(external_id) > EXTERNAL_ID_MAX:
        return f"id is longer than {EXTERNAL_ID_MAX} characters"
    first = seen.setdefault(external_id, line)
    return None if first == line else f"id {_shorten(external_id)!r} repeats line {first}"


def parse_score(text: str, low: int = 0) -> int:
    """A whole score from ``low`` to 10 ("9", "9.0"); ValueError with the reason otherwise."""
    try:
        if "_" in text:  # float() and int() read "1_0" as 10; a person did not mean that
            raise ValueError(text)
        number = float(text)
    except ValueError:
        raise ValueError(f"score {_shorten(text)!r} is not a number") from None
    if not number.is_integer():
        raise ValueError(f"score {_shorten(text)!r} is not a whole number")
    value = int(number)
    if not low <= value <= 10:
        raise ValueError(f"score {value} is outside the {low}-10 scale")
    return value


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- times ------------------------------------------------------------------------------------


def build_time_parser(time_format: str | None, zone: tzinfo) -> Callable[[str], datetime]:
    """A parser returning aware datetimes; naive times are read in ``zone``.

    ``time_format`` None (or "auto") accepts ISO 8601, M/D/YYYY H:MM:SS and M/D/YY H:MM;
    anything else is a ``strptime`` format.
    """
    if (time_format or "auto").lower() == "auto":
        parse_naive = _parse_auto_time
    else:
        def parse_naive(text: str) -> datetime:
            try:
                return datetime.strptime(text, time_format)
            except ValueError:
                raise ValueError(f"time {_shorten(text)!r} does not match "
                                 f"{time_format!r}") from None

    def parse(text: str) -> datetime:
        moment = parse_naive(text)
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)

    return parse


def _parse_auto_time(text: str) -> datetime:
    if "/" not in text:
        try:
            return datetime.fromisoformat(text)  # 3.11 reads a trailing Z and most ISO forms
        except ValueError:
            pass
    else:
        match = _SLASH_TIME.fullmatch(text)
        if match is not None:
            try:
                return _slash_datetime(*match.groups())
            except ValueError as exc:
                raise ValueError(f"time {_shorten(text)!r} is not a valid date: {exc}") from None
    raise ValueError(f"time {_shorten(text)!r} is not ISO 8601, M/D/YYYY H:MM:SS or "
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


def _resolve_zone(name: str) -> tzinfo:
    if name.strip().upper() in {"UTC", "Z"}:
        return UTC
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ImportFailed(f"--timezone {name!r}: unknown time zone "
                           "(use an IANA name such as Europe/Paris)") from None


# -- planning ---------------------------------------------------------------------------------


def _build_plan(path: Path, options: ImportOptions) -> _Plan:
    """Resolve the options against the file's header; ImportFailed on anything wrong."""
    if not path.is_file():
        raise ImportFailed(f"{path}: no such file")
    delimiter = options.delimiter or detect_delimiter(path)
    header = next((cells for _line, cells in _iter_rows(path, delimiter, None, True)), None)
    if header is None:
        raise ImportFailed(f"{path.name} is empty: no header row")
    header = [name.strip() for name in header]
    segments = []
    for item in options.segments:
        name, spec = _split_segment(item, header)
        column = resolve_column(header, spec, "--segment")
        name = name or column.name.lower()
        if any(name == taken for taken, _column in segments):
            raise ImportFailed(f"--segment {item!r}: segment {name!r} is given twice")
        segments.append((name, column))
    time_column = None if options.time is None else resolve_column(header, options.time, "--time")
    source = options.source or f"import:{path.name}"[:SOURCE_MAX]
    if len(source) > SOURCE_MAX:
        raise ImportFailed(f"--source {source!r} is longer than {SOURCE_MAX} characters")
    return _Plan(
        delimiter=delimiter,
        score=resolve_column(header, options.score, "--score"),
        comments=tuple(resolve_column(header, c, "--comment") for c in options.comments),
        time=time_column,
        segments=tuple(segments),
        id_column=None if options.id_column is None
        else resolve_column(header, options.id_column, "--id-column"),
        parse_time=build_time_parser(options.time_format, _resolve_zone(options.timezone)),
        low=SCALES[options.scale],
        source=source,
        max_errors=options.max_errors,
    )


def _split_segment(item: str | tuple[str, ColumnSpec], header: list[str]
                   ) -> tuple[str | None, ColumnSpec]:
    if isinstance(item, tuple):
        return item[0], item[1]
    text = str(item)
    if "=" in text and text.strip() not in header:
        name, spec = text.split("=", 1)
        if not name.strip():
            raise ImportFailed(f"--segment {text!r}: the segment name before '=' is empty")
        return name.strip(), spec.strip()
    return None, text


def detect_delimiter(path: Path) -> str:
    """Tab for .tsv/.tab files; otherwise the most frequent of , TAB ; | in the first line."""
    if path.suffix.lower() in TAB_EXTENSIONS:
        return "\t"
    with path.open(encoding="utf-8-sig", newline="", errors="replace") as handle:
        first = handle.readline()
    counts = {d: first.count(d) for d in SNIFF_DELIMITERS}
    best = max(SNIFF_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


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
        shown = ", ".join(repr(_shorten(name, 30)) for name in header[:12])
        more = ", …" if len(header) > 12 else ""
        return f"the columns are {shown}{more}"
    return "close matches: " + ", ".join(
        f"{_shorten(header[i], 60)!r} (position {i + 1})" for i in picks[:5])
