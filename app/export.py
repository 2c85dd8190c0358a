"""CSV exports that stream: rows go out as they are read, so a million never sit in memory.

Every cell is made safe for spreadsheets: a value that starts with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return would be read by Excel, LibreOffice or Google Sheets as a formula
(CSV injection, OWASP), so it gets a leading apostrophe, which those programs show as text and
do not display. Numbers are written as numbers (a negative score cannot occur; a negative NPS
in the comparison table is a number the program reads as one, not text).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from app.metrics import CATEGORY_NAMES, categorize

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FLUSH_ROWS = 2_000  # rows per chunk handed to the web server


def excel_safe(value: Any) -> Any:
    """``value`` as a spreadsheet will read it as text: strings starting like a formula get
    a leading apostrophe; numbers and None pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def stream_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """CSV text in chunks of ``FLUSH_ROWS`` rows, header first, every cell ``excel_safe``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([excel_safe(h) for h in header])
    pending = 0
    starts = FORMULA_STARTS
    for row in rows:
        # excel_safe, inlined: this loop runs a million times in a big export.
        writer.writerow([("'" + cell if cell.startswith(starts) else cell)
                         if type(cell) is str else cell for cell in row])
        pending += 1
        if pending >= FLUSH_ROWS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()


def response_columns(segment_fields: Sequence[str]) -> list[str]:
    """The header of a responses export: fixed columns, then one per segment field."""
    return ["id", "created_at", "score", "category", "comment", *segment_fields, "topics",
            "source", "external_id", "excluded"]


def response_rows(pages: Iterable[Sequence[tuple]],
                  comment: Callable[[str | None], str | None] | None = None
                  ) -> Iterator[tuple]:
    """One CSV row per response of ``pages`` (the store's ``export_rows`` tuples), with its
    category; ``comment`` masks or drops the text as the reader may see it."""
    category = [CATEGORY_NAMES[categorize(score)] for score in range(11)]
    for page in pages:
        for i, created, score, text, segments, topics, source, external, excluded in page:
            if comment is not None:
                text = comment(text)
            yield (i, created, score, category[score], text, *segments, topics, source,
                   external, "true" if excluded else "false")


COMPARISON_COLUMNS = ["value", "rank", "n", "nps", "margin_of_error", "lower_bound",
                      "promoters", "passives", "detractors", "previous_n", "previous_nps",
                      "change", "change_noise", "change_significant"]


def comparison_rows(rows: Iterable[Mapping[str, Any]]) -> Iterator[list[Any]]:
    """CSV rows of a comparison table (``ComparisonRow.as_dict`` shapes)."""
    for r in rows:
        change = r["change"] or {}
        yield [r["value"], r["rank"], r["n"], r["nps"], r["margin_of_error"], r["lower_bound"],
               r["promoters"], r["passives"], r["detractors"], r["previous_n"],
               r["previous_nps"], change.get("delta"), change.get("noise"),
               change.get("significant")]
