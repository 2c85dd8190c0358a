"""Bulk import of survey exports (CSV or TSV): map columns onto responses, validate, upsert.

One streaming pass with the csv module reads, checks and converts each row once and writes
the valid ones in batches of ``BATCH_SIZE``, all in ONE transaction: an import that exceeds
``max_errors`` raises part-way and the transaction is rolled back, as is one whose write fails,
so a refused file leaves the store as it was. Rows follow the same rules as REST
(app.ingest.rules), with the same messages. Re-importing the same file is a no-op: rows are
keyed by an id column or by a hash of the row's raw cells.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import NamedTuple

from sqlalchemy.exc import SQLAlchemyError
from tqdm import tqdm

from app.ingest.csv_files import detect_delimiter, estimate_rows, iter_rows
from app.ingest.csv_values import (
    Column,
    ColumnSpec,
    ImportFailed,
    build_time_parser,
    cell_value,
    import_source,
    parse_score,
    resolve_column,
    resolve_segments,
    resolve_zone,
    shorten,
    split_scale_label,
)
from app.ingest.rules import (
    MAX_COMMENT,
    TimeRange,
    clean_comment,
    clean_external_id,
    clean_segment_value,
)
from app.ingest.tag_pool import TagAhead, default_workers
from app.store import ResponseRecord, Store

# Parts of a comment taken from several columns ("--comment best --comment least"). Cards on
# the wall and the manager collapse whitespace, so a blank line ran the parts together; a
# middle dot stays visible on every surface (cards, API, exports). The row's key hashes the raw
# cells, not this text, so re-importing a file imported with another joiner updates its rows
# in place rather than adding them again.
COMMENT_JOINER = " · "

BATCH_SIZE = 2_000
KNOWN_CELLS = 50_000  # accepted repeating cells remembered during one import (then cleared)
SCALES = {"0-10": 0, "1-10": 1}
SOURCE_MAX = 64  # responses.source is VARCHAR(64)


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
    labelled: int = 0  # score cells such as "10 - Extremely likely", read as their number
    errors: list[ImportError_] = field(default_factory=list)
    seconds: float = 0.0
    aborted: bool = False

    @property
    def rows_per_second(self) -> float:
        """Rows read per second of wall-clock time (0 before anything was timed)."""
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0


class ImportAborted(ImportFailed):
    """More than ``max_errors`` rejected values: nothing was written."""

    def __init__(self, report: ImportReport, max_errors: int):
        self.report = report
        super().__init__(f"more than {max_errors} errors by line {report.errors[-1].line}; "
                         "nothing imported")


class ImportWriteFailed(ImportFailed):
    """The store refused a write part-way: the transaction was rolled back, nothing imported."""


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
    time_range: TimeRange = TimeRange()  # the app's: TimeRange.from_settings(settings)
    workers: int | None = None  # tagging processes (tag_pool.py); None: default_workers
    fields: tuple[str, ...] = ()  # NPS_TV_SEGMENT_FIELDS: a name in another case is the field

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
    time_range: TimeRange
    started: datetime  # "now" for the time range: one instant for the whole file
    low: int
    source: str
    max_errors: int


def import_file(store: Store, path: str | Path, options: ImportOptions,
                progress: bool = False) -> ImportReport:
    """Read, check and upsert a CSV/TSV export in one pass and one transaction; on abort
    (more than ``max_errors`` refused rows) or a failed write, nothing is written."""
    started = time.perf_counter()
    path = Path(path)
    plan = _build_plan(path, options)
    report = ImportReport(path=str(path), source=plan.source, dry_run=options.dry_run)
    size = path.stat().st_size
    try:
        with _progress_bar(progress, size, "B",
                           "checking" if options.dry_run else "importing") as bar:
            records = _iter_records(path, plan, report, bar)
            if options.dry_run:
                report.valid = sum(1 for _record in records)
            else:
                workers = (default_workers(estimate_rows(path, size))
                           if options.workers is None else options.workers)
                _write_all(store, records, report, workers)
            bar.update(max(size - bar.n, 0))
    except ImportAborted:
        report.aborted = True
        raise
    finally:
        report.seconds = time.perf_counter() - started
    return report


def _write_all(store: Store, records: Iterator[ResponseRecord], report: ImportReport,
               workers: int) -> None:
    """Upsert ``records`` in batches as they are read, in one transaction; ``workers``
    processes tag the next batches meanwhile (tag_pool.py). A refused file (ImportAborted
    from ``records``) or a failed write rolls the transaction back."""
    sent = 0

    def read() -> Iterator[list[ResponseRecord]]:
        for batch in iter(lambda: list(islice(records, BATCH_SIZE)), []):  # until none is left
            report.valid += len(batch)
            yield batch

    def written(batches: Iterable[list[ResponseRecord]]) -> Iterator[list[ResponseRecord]]:
        # Counted on the store's side of TagAhead, which reads batches ahead of the writes.
        nonlocal sent
        for batch in batches:
            yield batch  # back here once the store has written it
            sent += len(batch)

    with TagAhead(store, workers) as ahead:
        try:
            result = store.upsert_many(written(ahead.batches(read())))
        except SQLAlchemyError as exc:
            report.valid += _count_rest(records)
            raise ImportWriteFailed(
                f"writing to the store failed after {sent:,} of {report.valid:,} rows: "
                f"{_one_line(exc)}{_locked_hint(exc)}; rolled back, nothing imported") from None
    report.imported, report.updated, report.unchanged = (
        result.inserted, result.updated, result.unchanged)


def _count_rest(records: Iterator[ResponseRecord]) -> int:
    """After a failed write: the valid rows still in the file, so the message says how much
    of it was written (those read already are counted)."""
    rest = 0
    try:
        for _record in records:
            rest += 1
    except ImportFailed:  # the rest of the file would have been refused: what was read
        pass
    return rest


def _locked_hint(exc: SQLAlchemyError) -> str:
    """SQLite's "database is locked" after its busy timeout: who held it, and what to do."""
    if "database is locked" not in str(getattr(exc, "orig", exc)):
        return ""
    return (" (another import or write held the store's lock too long; run the import again "
            "once it has ended)")


def _one_line(exc: SQLAlchemyError) -> str:
    """The driver's own first line ("attempt to write a readonly database"), no SQL or URL."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines() or [type(cause).__name__]
    return f"{type(cause).__name__}: {shorten(lines[0], 200)}"


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
    known: dict[tuple, object] = {}  # cells checked before, with what they gave (_known)
    for line, cells in iter_rows(path, plan.delimiter, bar):
        report.rows_read += 1
        record = _convert_row(cells, line, plan, report, seen_rows, seen_ids, known)
        if len(report.errors) > plan.max_errors:
            raise ImportAborted(report, plan.max_errors)
        if record is not None:
            yield record


def _convert_row(cells: list[str], line: int, plan: _Plan, report: ImportReport,
                 seen_rows: dict[bytes, int], seen_ids: dict[str, int],
                 known: dict[tuple, object]) -> ResponseRecord | None:
    raw_score = cell_value(cells, plan.score.index)
    if raw_score is None:
        report.skipped_blank += 1
        return None
    errors = report.errors
    count_before = len(errors)
    number, labelled = split_scale_label(raw_score)
    score = _known(known, errors, line, plan.score, parse_score, number, plan.low)
    if labelled and score is not None:
        report.labelled += 1
    # Without a time column: now for a new response, the stored time on a re-import.
    created_at = None
    if plan.time is not None:
        created_at = _apply(errors, line, plan.time, _parse_time,
                            cell_value(cells, plan.time.index), plan)
    if plan.id_column is None:
        digest = hashlib.blake2b("\x1f".join(cells).encode(), digest_size=16).digest()
        repeat = seen_rows[digest] = seen_rows.get(digest, 0) + 1
        # Identical rows are distinct answers (19 in the 2018 R survey): number the repeats.
        external_id = digest.hex() if repeat == 1 else f"{digest.hex()}-{repeat}"
    else:
        external_id = _apply(errors, line, plan.id_column, _external_id,
                             cell_value(cells, plan.id_column.index), line, seen_ids)
    texts = []
    for column in plan.comments:
        raw = cell_value(cells, column.index)
        if raw is not None and (text := _apply(errors, line, column, clean_comment, raw)):
            texts.append(text)
    comment = COMMENT_JOINER.join(texts).replace("\r\n", "\n") if texts else None
    if comment is not None and len(comment) > MAX_COMMENT:
        columns = " + ".join(c.name for c in plan.comments)
        errors.append(ImportError_(line, columns, f"joined comments are {len(comment)} "
                                                  f"characters; the limit is {MAX_COMMENT}"))
    segments = {}
    for name, column in plan.segments:
        raw = cell_value(cells, column.index)
        value = None if raw is None else _known(known, errors, line, column,
                                                 clean_segment_value, raw)
        if value:  # a cell of invisible characters is no value, as a blank one is not
            segments[name] = value
    if len(errors) > count_before:
        return None
    return ResponseRecord(
        source=plan.source, external_id=external_id, score=score, created_at=created_at,
        comment=comment, segments=segments)


def _known(known: dict[tuple, object], errors: list[ImportError_], line: int, column: Column,
           rule: Callable, *args):
    """``_apply`` for cells that repeat (scores, segment values): a value ``rule`` accepted
    once is not checked again; a refused one is, so each refusal is reported on its line."""
    key = (column.index, *args)
    value = known.get(key)
    if value is None:
        value = _apply(errors, line, column, rule, *args)
        if value is not None:
            if len(known) >= KNOWN_CELLS:
                known.clear()
            known[key] = value
    return value


def _apply(errors: list[ImportError_], line: int, column: Column, rule: Callable, *args):
    """``rule(*args)``, or None with the rule's reason recorded against the cell."""
    try:
        return rule(*args)
    except ValueError as exc:
        errors.append(ImportError_(line, column.name, str(exc)))
        return None


def _parse_time(raw: str | None, plan: _Plan) -> datetime:
    if raw is None:
        raise ValueError("time is missing")
    return plan.time_range.check(plan.parse_time(raw), plan.started)


def _external_id(raw: str | None, line: int, seen: dict[str, int]) -> str:
    external_id = clean_external_id(raw or "")
    first = seen.setdefault(external_id, line)
    if first != line:
        raise ValueError(f"id {shorten(external_id)!r} repeats line {first}")
    return external_id


# -- planning ---------------------------------------------------------------------------------


def _build_plan(path: Path, options: ImportOptions) -> _Plan:
    """Resolve the options against the file's header; ImportFailed on anything wrong."""
    if not path.is_file():
        raise ImportFailed(f"{path}: no such file")
    delimiter = options.delimiter or detect_delimiter(path)
    if len(delimiter) != 1 or delimiter in "\"\r\n":
        # csv.reader raised a TypeError (a traceback) for "::", and '"' read every row as one.
        raise ImportFailed(f"--delimiter {delimiter!r}: must be one character other than a "
                           "quote or a line break (or 'tab')")
    header = next((cells for _line, cells in iter_rows(path, delimiter, None, True)), None)
    if header is None:
        raise ImportFailed(f"{path.name} is empty: no header row")
    header = [name.strip() for name in header]
    segments = resolve_segments(options.segments, header, options.fields)
    time_column = None if options.time is None else resolve_column(header, options.time, "--time")
    source = import_source(options.source, path, SOURCE_MAX)
    return _Plan(
        delimiter=delimiter,
        score=resolve_column(header, options.score, "--score"),
        comments=tuple(resolve_column(header, c, "--comment") for c in options.comments),
        time=time_column,
        segments=tuple(segments),
        id_column=None if options.id_column is None
        else resolve_column(header, options.id_column, "--id-column"),
        parse_time=build_time_parser(options.time_format, resolve_zone(options.timezone)),
        time_range=options.time_range,
        started=datetime.now(UTC),
        low=SCALES[options.scale],
        source=source,
        max_errors=options.max_errors,
    )
