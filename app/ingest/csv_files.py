"""Reading an export file: its delimiter, its rows with the line each starts on, its size in
rows (about), with clear errors for a cell too long to read, text that is not UTF-8 (with its
line and byte) or a missing file."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from tqdm import tqdm

from app.ingest.csv_values import ImportFailed

TAB_EXTENSIONS = frozenset({".tsv", ".tab"})
SNIFF_DELIMITERS = (",", "\t", ";", "|")
QUOTED_RE = re.compile(r'"[^"]*"')  # a quoted cell ("" inside one is two quoted parts)
# The longest cell the reader takes (characters). The csv module's default, 131,072, stopped a
# whole import at one long cell; up to this one a long cell reaches the row checks and only
# its row is refused (a comment over 10,000 characters), or it is ignored in a column not
# imported. It bounds the memory one cell (or a quote left open) may take: 16 Mi characters.
CELL_LIMIT = 1 << 24


def iter_rows(path: Path, delimiter: str, bar: tqdm | None,
               with_header: bool = False) -> Iterator[tuple[int, list[str]]]:
    """(line the row starts on, cells) for each non-empty row; the header only if asked."""
    # The limit is the csv module's, for the whole process: raised, never lowered.
    limit = max(csv.field_size_limit(), CELL_LIMIT)
    csv.field_size_limit(limit)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(_counted(handle, bar), delimiter=delimiter)
            start, first, last = 1, True, (1, 1)
            try:
                for cells in reader:
                    if cells and (with_header or not first):
                        yield start, cells
                    first = first and not cells
                    last = start, reader.line_num
                    start = reader.line_num + 1
            except csv.Error as exc:
                if not str(exc).startswith("field larger than field limit"):
                    raise ImportFailed(f"{path.name}, line {start}: {exc}") from None
                raise ImportFailed(_too_long(path, start, reader.line_num, limit)) from None
            except UnicodeDecodeError:
                raise ImportFailed(_not_utf8(path)) from None
    except OSError as exc:
        raise ImportFailed(f"cannot read {path}: {exc.strerror or exc}") from None
    if last[1] > last[0]:  # the last row ran over several lines: closed, or the file ended?
        _check_closed(path, delimiter, last[0])


def _check_closed(path: Path, delimiter: str, start: int) -> None:
    """ImportFailed when the file ends inside a quote the row on line ``start`` opened: the
    reader took every later line into that one cell, and the import said "read 1 row" and
    stored the rest of the file as a comment."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        tail = "".join(line for number, line in enumerate(handle, 1) if number >= start)
    try:
        for _ in csv.reader(io.StringIO(tail), delimiter=delimiter, strict=True):
            pass
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            raise ImportFailed(f"{path.name}, line {start}: a quote opened in this row is never "
                               "closed (the file ends inside it, so every later line would "
                               "be one cell); nothing imported") from None


def _too_long(path: Path, start: int, reached: int, limit: int) -> str:
    """Why a row could not be read: one of its cells holds more than ``limit`` characters."""
    message = (f"{path.name}, line {start}: a cell of the row there is longer than "
               f"{limit:,} characters, the most a cell may hold; nothing imported")
    if reached > start:  # what a quote left open looks like: the cell swallowed later lines
        message += (f" (the cell runs on to line {reached:,}: if it should have ended sooner, "
                    "a quote in it is not closed)")
    return message


def _not_utf8(path: Path) -> str:
    """Where the first byte that is not UTF-8 lies (line and byte), and what it is. The
    reader decodes ahead in blocks, so its own line count said "line 1" for a byte far on."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, line = 0, 1
    with path.open("rb") as handle:
        for piece in iter(lambda: handle.readline(1 << 16), b""):
            held = len(decoder.getstate()[0])  # bytes of a character split between pieces
            try:
                decoder.decode(piece)
            except UnicodeDecodeError as exc:
                at = exc.start - held  # within ``piece``; negative: in the held bytes
                line += piece.count(b"\n", 0, max(at, 0))
                bad = (exc.object[exc.start:exc.end] or exc.object[exc.start:exc.start + 1])
                return (f"{path.name}, line {line:,} (byte {offset + at + 1:,}): not UTF-8 text "
                        f"(byte 0x{bad[0]:02X} {exc.reason}); save the file as UTF-8 and "
                        "import again")
            offset += len(piece)
            line += piece.count(b"\n")
    held = len(decoder.getstate()[0])
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return (f"{path.name}, line {line:,} (byte {offset - held + 1:,}): not UTF-8 text (the "
                "file ends inside a character); save the file as UTF-8 and import again")
    return f"{path.name}: not UTF-8 text; save the file as UTF-8 and import again"


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
