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


def request_complete(data: bytes, body_limit: int) -> bool:
    """True when ``data`` holds a whole request head and the body it declares (when that body
    is within ``body_limit``; a larger one is left to the app, which refuses it)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return len(data) > HEAD_LIMIT
    head = data[:end + 2].lower()
    match = CONTENT_LENGTH.search(head)
    if match is None and CHUNKED.search(head):
        return chunks_complete(data, end + 4, body_limit)
    if match is None or int(match.group(1)) > body_limit:
        return True
    return len(data) >= end + 4 + int(match.group(1))


def chunks_complete(data: bytes, at: int, body_limit: int) -> bool:
    """Whether a chunked body starting at ``at`` has come to its last chunk and trailers, or
    to more than ``body_limit`` bytes (all the app reads before it refuses the body), or is
    malformed (gunicorn's parser refuses it). A client that stops inside its chunks was
    handed to a thread at once, whose read of the body waited for as long as the client
    kept the socket open: eight such sockets held every thread of a worker."""
    body = 0
    while True:
        line_end = data.find(b"\r\n", at)
        if line_end < 0:
            return len(data) - at > CHUNK_LINE_LIMIT
        size = CHUNK_SIZE.match(data, at, line_end + 2)
        if size is None:
            return True
        chunk = int(size.group(1), 16)
        if chunk == 0:  # the last chunk, then trailers up to an empty line
            return data.find(b"\r\n\r\n", line_end) >= 0
        start = line_end + 2
        body += min(chunk, len(data) - start)
        if body > body_limit:
            return True
        if len(data) < start + chunk + 2:
            return False
        if data[start + chunk:start + chunk + 2] != b"\r\n":
            return True
        at = start + chunk + 2
