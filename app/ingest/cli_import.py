"""The ``nps-tv import FILE`` sub-command: argparse wiring and the printed summary."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from app.ingest.csv_import import (
    SCALES,
    ImportAborted,
    ImportFailed,
    ImportOptions,
    ImportReport,
    ImportWriteFailed,
    import_file,
)
from app.ingest.rules import TimeRange
from app.store import Store

ERRORS_LISTED = 20
# 0 all imported; 1 refused rows (listed; the others imported); 2 nothing imported, the input
# or options were refused (argparse's usage errors are 2 as well); 3 nothing imported, the
# store failed while writing (safe to run again once it is fixed).
EXIT_OK, EXIT_REFUSED_ROWS, EXIT_REFUSED, EXIT_WRITE_FAILED = 0, 1, 2, 3

DESCRIPTION = """\
Import survey responses from a CSV or TSV export. Every COL is a header name or a 1-based
column position (handy when headers are whole questions). Rows without a score are skipped;
rows that break the input rules (score, time range, text limits) are listed and left out.
Scale cells such as "10 - Extremely likely" are read as their number. Everything is written in
one transaction: a failure part-way imports nothing. Re-importing the same file adds nothing:
rows are keyed by --id-column, or by a hash of the row's cells.

exit codes: 0 imported; 1 some rows refused (listed), the others imported; 2 nothing imported,
the file or options were refused (or more than --max-errors rows); 3 nothing imported, writing
to the store failed."""


def add_import_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``import`` sub-command to an argparse sub-parser collection and return it."""
    parser = subparsers.add_parser(
        "import", help="import responses from a CSV/TSV survey export",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path, metavar="FILE", help="the CSV or TSV file")
    parser.add_argument("--score", required=True, metavar="COL",
                        help="column holding the 0-10 (or 1-10) score")
    parser.add_argument("--comment", action="append", default=[], metavar="COL",
                        help="comment column; repeat to join several with ' · ' (each read "
                             "for tone on its own)")
    # Required: with the import's own time, a re-import would move every response to "now".
    parser.add_argument("--time", metavar="COL", required=True,
                        help="column with the response time")
    parser.add_argument("--time-format", metavar="FMT",
                        help="strptime format of --time, or 'unix' for seconds since 1970 "
                             "(default: auto-detect ISO 8601, M/D/YYYY H:MM:SS and M/D/YY H:MM)")
    parser.add_argument("--timezone", default="UTC", metavar="TZ",
                        help="IANA zone of times written without one (default: UTC)")
    parser.add_argument("--segment", action="append", default=[], metavar="NAME=COL",
                        help="segment property from a column, named NAME or after the header "
                             "lowercased when given as COL (a name is a letter or _ and up to "
                             "63 letters, digits or _); repeatable")
    parser.add_argument("--scale", choices=tuple(SCALES), default="0-10",
                        help="score scale; 1-10 rejects 0 (default: 0-10)")
    parser.add_argument("--source", metavar="NAME",
                        help="source name stored with each response (default: import:FILENAME)")
    parser.add_argument("--id-column", metavar="COL",
                        help="column with a unique response id (default: hash of the row)")
    parser.add_argument("--delimiter", metavar="CHAR",
                        help="field separator (default: tab for .tsv, else guessed from the "
                             "header)")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate the whole file and write nothing")
    parser.add_argument("--max-errors", type=_non_negative, default=100, metavar="N",
                        help="abort, importing nothing, after more than N errors (default: 100)")
    parser.add_argument("--workers", type=_non_negative, metavar="N",
                        help="processes that tag comments while rows are written; 0 tags in "
                             "this one (default: one per idle CPU, at most 4, from 1,000 rows)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def build_options(args: argparse.Namespace, time_range: TimeRange | None = None,
                  fields: tuple[str, ...] = ()) -> ImportOptions:
    """The ImportOptions that parsed ``import`` arguments describe."""
    delimiter = args.delimiter
    if delimiter is not None and delimiter.lower() in {"tab", "\\t"}:
        delimiter = "\t"
    return ImportOptions(
        score=args.score, comments=tuple(args.comment), time=args.time,
        time_format=args.time_format, timezone=args.timezone, segments=tuple(args.segment),
        scale=args.scale, source=args.source, id_column=args.id_column, delimiter=delimiter,
        dry_run=args.dry_run, max_errors=args.max_errors, time_range=time_range or TimeRange(),
        workers=getattr(args, "workers", None), fields=fields)


def run_import(args: argparse.Namespace, store: Store, out: TextIO | None = None,
               time_range: TimeRange | None = None, fields: tuple[str, ...] = ()) -> int:
    """Run the import sub-command; the exit code is one of the EXIT_* above."""
    out = out or sys.stdout
    options = build_options(args, time_range or TimeRange(), fields)
    try:
        report = import_file(store, args.file, options, progress=not args.no_progress)
    except ImportWriteFailed as exc:
        print(f"import failed: {exc}", file=sys.stderr)
        return EXIT_WRITE_FAILED
    except ImportAborted as exc:
        print(format_summary(exc.report, aborted_because=str(exc)), file=out)
        return EXIT_REFUSED
    except ImportFailed as exc:
        print(f"import failed: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    print(format_summary(report), file=out)
    return EXIT_REFUSED_ROWS if report.errors else EXIT_OK


def format_summary(report: ImportReport, aborted_because: str | None = None) -> str:
    """A one-paragraph account of an import, followed by its first errors."""
    name = Path(report.path).name
    if aborted_because is not None:
        head = (f"{name}: import aborted, {aborted_because}. Read {report.rows_read:,} rows "
                f"before stopping ({report.skipped_blank:,} without a score).")
    elif report.dry_run:
        head = (f"{name} (dry run, nothing written): read {report.rows_read:,} rows; "
                f"{report.valid:,} valid, {report.skipped_blank:,} skipped blank "
                f"(no score), {len(report.errors):,} errors; "
                f"{report.rows_per_second:,.0f} rows/s.")
    else:
        head = (f"{name} → source {report.source!r}: read {report.rows_read:,} rows; "
                f"imported {report.imported:,}, updated {report.updated:,}, "
                f"unchanged {report.unchanged:,}, skipped blank {report.skipped_blank:,} "
                f"(no score), {len(report.errors):,} errors; {report.seconds:.1f} s, "
                f"{report.rows_per_second:,.0f} rows/s.")
    lines = [head]
    if report.labelled:
        lines.append(f"  {report.labelled:,} labelled scale cells (such as "
                     "'10 - Extremely likely') read as their number.")
    refused = len({error.line for error in report.errors})
    if refused and aborted_because is None:
        lines.append(f"  {refused:,} refused rows would not be imported:" if report.dry_run
                     else f"  {refused:,} refused rows were NOT imported:")
    for error in report.errors[:ERRORS_LISTED]:
        lines.append(f"  line {error.line}, column {_short(error.column)}: {error.reason}")
    if len(report.errors) > ERRORS_LISTED:
        lines.append(f"  … and {len(report.errors) - ERRORS_LISTED:,} more errors")
    return "\n".join(lines)


def _short(text: str, limit: int = 50) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
