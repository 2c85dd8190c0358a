"""CSV exports that stream: rows go out as they are read, so a million never sit in memory.

Every cell is made safe for spreadsheets: a value that starts with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return would be read by Excel, LibreOffice or Google Sheets as a formula
(CSV injection, OWASP), so it gets a leading apostrophe, which those programs show as text and
do not display. The same goes for such a character after a ``;`` or a line break inside a
cell, where a spreadsheet set to split on semicolons (most European Excel locales) or a
careless reader would start a new cell or row. Every text cell is quoted. Numbers are written
as numbers (a negative NPS in the comparison table is a number the program reads as one).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from app.metrics import CATEGORY_NAMES, categorize

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A formula character after a separator a spreadsheet may split on (";" in semicolon
# locales, line breaks, tabs), blanks between allowed.
INNER_FORMULA = re.compile(r"([;\t\r\n][ \t]*)([=+\-@])")
FLUSH_ROWS = 2_000  # rows per chunk handed to the web server


def excel_safe(value: Any) -> Any:
    """``value`` as a spreadsheet will read it as text: strings starting like a formula (blanks
    before it included), or holding one after a ``;``, tab or line break, get an apostrophe
    before it; numbers and None pass unchanged."""
    if type(value) is not str:
        return value
    if value.lstrip(" ").startswith(FORMULA_STARTS):
        value = "'" + value
    if INNER_FORMULA.search(value):
        value = INNER_FORMULA.sub(r"\1'\2", value)
    return value


def stream_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """CSV text in chunks of ``FLUSH_ROWS`` rows, header first, every cell ``excel_safe``."""
    buffer = io.StringIO()
    # Every text cell quoted: a ";" or line break inside one never splits it.
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow([excel_safe(h) for h in header])
    pending = 0
    for row in rows:
        writer.writerow([excel_safe(cell) if type(cell) is str else
                         ("" if cell is None else cell) for cell in row])
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
                  mask: Callable[[str | None], str | None] | None = None,
                  hide_comments: bool = False) -> Iterator[tuple]:
    """One CSV row per response of ``pages`` (the store's ``export_rows`` tuples), with its
    category; ``mask`` (for readers who may not see personal data) is applied to the comment
    and the external id; ``hide_comments`` drops the comment."""
    category = [CATEGORY_NAMES[categorize(score)] for score in range(11)]
    for page in pages:
        for i, created, score, text, segments, topics, source, external, excluded in page:
            if hide_comments:
                text = None
            if mask is not None:
                text, external = mask(text), mask(external)
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
