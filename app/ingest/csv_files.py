"""Reading an export file: its delimiter, its rows with the line each starts on, its size in
rows (about), with clear errors for an open quote, text that is not UTF-8 or a missing file."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from tqdm import tqdm

from app.ingest.csv_values import ImportFailed

TAB_EXTENSIONS = frozenset({".tsv", ".tab"})
SNIFF_DELIMITERS = (",", "\t", ";", "|")
QUOTED_RE = re.compile(r'"[^"]*"')  # a quoted cell ("" inside one is two quoted parts)


def iter_rows(path: Path, delimiter: str, bar: tqdm | None,
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


def detect_delimiter(path: Path) -> str:
    """Tab for .tsv/.tab files; otherwise the most frequent of , TAB ; | in the first line."""
    if path.suffix.lower() in TAB_EXTENSIONS:
        return "\t"
    with path.open(encoding="utf-8-sig", newline="", errors="replace") as handle:
        first = handle.readline()
    # Only separators outside quotes count: headers that are whole questions ("How likely,
    # from 0 to 10, ...";"When?") made a semicolon export look comma-separated.
    first = QUOTED_RE.sub("", first)
    counts = {d: first.count(d) for d in SNIFF_DELIMITERS}
    best = max(SNIFF_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def estimate_rows(path: Path, size: int, sample: int = 1 << 16) -> int:
    """About how many rows ``path`` holds, from the lines in its first ``sample`` bytes (the
    number of tagging processes depends on it; the file is read once, in the import)."""
    with path.open("rb") as handle:
        head = handle.read(sample)
    lines = head.count(b"\n") or 1
    return size * lines // max(len(head), 1)
