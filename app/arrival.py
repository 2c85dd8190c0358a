"""Whether a request has arrived whole: its head, and the body it declares (by Content-Length
or in chunks). ``app.wsgi``'s worker collects requests in its event loop with this and hands
one to a thread only once it is whole, so no thread waits on a client that stalls."""

from __future__ import annotations

import re

# Request line and headers larger than this go to gunicorn's parser, which refuses them (its
# limit_request_line and limit_request_field_size are smaller).
HEAD_LIMIT = 64 * 1024
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length[ \t]*:[ \t]*(\d{1,12})[ \t]*\r\n")
CHUNKED = re.compile(rb"\r\ntransfer-encoding[ \t]*:[^\r\n]*chunked")
# A chunk's size line: hex digits, then extensions (";name=value") up to its line break.
CHUNK_SIZE = re.compile(rb"([0-9a-fA-F]{1,8})[ \t]*(?:;[^\r\n]*)?(?=\r\n)")
CHUNK_LINE_LIMIT = 1024
CHUNKS_MAX = 16_384  # more chunks than any client sends a body of the limit's size in


class Refused(ValueError):
    """A request the worker answers 400 and closes without a thread (the reason says why)."""


class Scan:
    """Where the chunk scan of a request still arriving stopped, so each read parses only
    what came since: from the first byte every time, a body of one-byte chunks cost the event
    loop time growing with the square of its size (43 s of CPU for 1 MB)."""

    __slots__ = ("at", "body", "chunks")

    def __init__(self) -> None:
        self.at: int | None = None  # the size line the next read starts from
        self.body = 0  # bytes of the chunks before it
        self.chunks = 0


def request_complete(data: bytes, body_limit: int, scan: Scan | None = None) -> bool:
    """True when ``data`` holds a whole request head and the body it declares (when that body
    is within ``body_limit``; a larger one is left to the app, which refuses it). ``scan``:
    the request's own, kept across reads. Refused for more than ``CHUNKS_MAX`` chunks."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return len(data) > HEAD_LIMIT
    head = data[:end + 2].lower()
    match = CONTENT_LENGTH.search(head)
    if match is None and CHUNKED.search(head):
        return chunks_complete(data, end + 4, body_limit, scan or Scan())
    if match is None or int(match.group(1)) > body_limit:
        return True
    return len(data) >= end + 4 + int(match.group(1))


def chunks_complete(data: bytes, at: int, body_limit: int, scan: Scan) -> bool:
    """Whether a chunked body starting at ``at`` has come to its last chunk and trailers, or
    to more than ``body_limit`` bytes (all the app reads before it refuses the body), or is
    malformed (gunicorn's parser refuses it). A client that stops inside its chunks was
    handed to a thread at once, whose read of the body waited for as long as the client
    kept the socket open: eight such sockets held every thread of a worker."""
    at = at if scan.at is None else scan.at
    while True:
        line_end = data.find(b"\r\n", at, at + CHUNK_LINE_LIMIT + 2)
        if line_end < 0:
            scan.at = at
            return len(data) - at > CHUNK_LINE_LIMIT
        size = CHUNK_SIZE.match(data, at, line_end + 2)
        if size is None:
            return True
        chunk = int(size.group(1), 16)
        if chunk == 0:  # the last chunk, then trailers up to an empty line
            scan.at = at
            return (data.find(b"\r\n\r\n", line_end) >= 0
                    or len(data) - line_end > HEAD_LIMIT)
        start = line_end + 2
        if scan.body + min(chunk, len(data) - start) > body_limit:
            return True
        if len(data) < start + chunk + 2:
            scan.at = at
            return False
        if data[start + chunk:start + chunk + 2] != b"\r\n":
            return True
        scan.body += chunk
        scan.chunks += 1
        if scan.chunks > CHUNKS_MAX:
            raise Refused(f"more than {CHUNKS_MAX:,} chunks")
        at = start + chunk + 2
