"""Compressed answers for what the Dash front end loads and asks (issue 13).

A wall's cold load was 5.9 MB of scripts, styles and JSON sent as they are, and a screen's
first poll after a start (the parts whole) about 75 KB: on a TV stick's Wi-Fi, and for a
fleet opening together, the bytes are the cost. Browsers ask for compression
(``Accept-Encoding``); here it is given:

- **The Dash front end** (its script bundles, ``/assets/``, the layout, the dependencies and
  callback answers) through Flask-Compress (zstd, brotli or gzip, as the browser prefers).
  Static files are compressed once per process and kept (``StaticCache``, by a digest of
  their content); callback answers are compressed as they go. Pages, the API and the tick
  stream are left as they are: pages and the API carry tokens and reflected input (the
  BREACH pattern), and the stream is written by the worker.
- **The wall's poll** (``app.poll_answer``) in gzip, from the start every screen in one place
  shares (``gzip_start``, made once) and the few hundred bytes of the screen's own (its new
  state and the status) in stored blocks per answer: ``gzip_join``. A deflate stream may
  continue in a new block after a sync flush, and the gzip trailer's CRC continues from the
  start's.
  That answer is final (``answer_as_is``): a client without gzip gets it as it is, never
  compressed whole per poll.
"""

from __future__ import annotations

import hashlib
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable

from dash import Dash
from flask import Request, Response, g, request
from flask_compress import Compress
from flask_compress.flask_compress import _choose_algorithm

# Below this an answer goes as it is: the headers and the gzip frame would cost more.
MIN_BYTES = 500
LEVEL = 6  # zlib's default; each shared start is compressed once
STATIC_CACHE_BYTES = 64 * 2**20  # every compressed bundle of the front end fits several times
# The gzip starts kept (each counted as its start and its compressed form): the AnswerBook
# holds 16 MB of starts, and a kept start holds its bytes alive after the book lets them go.
START_CACHE_BYTES = 8 * 2**20
# The gzip member header: magic, deflate, no flags, no mtime, no extra flags, unknown OS.
STORED_MAX = 0xFFFF  # the most a stored deflate block holds
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
# Paths (after Dash's prefix) whose answers are compressed; static ones are also kept.
STATIC = ("_dash-component-suites/", "assets/", "_favicon.ico")
DYNAMIC = ("_dash-layout", "_dash-dependencies", "_dash-update-component")
FILES_ONLY = ("_dash-layout", "_dash-dependencies")  # NPS_TV_COMPRESS=files: no comments
ALGORITHMS = ("zstd", "br", "gzip")  # Flask-Compress's order of preference
NOT_KEPT = "-"  # the cache key of an answer that is compressed but not kept
KEY = "nps_tv_compress_key"  # in flask.g: a static answer's key, its content's digest
AS_IS = "nps_tv_as_is"  # in flask.g: the answer is final (the wall's poll), never compressed


class StaticCache:
    """Compressed static files by (algorithm, digest of their content), bounded in bytes;
    Flask-Compress's cache backend. Keys ``NOT_KEPT`` are neither found nor kept."""

    def __init__(self, max_bytes: int = STATIC_CACHE_BYTES):
        self.max_bytes = max_bytes
        self.bytes = 0
        self.compressed = 0  # how many were compressed (a kept one is not again)
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        if key.endswith(NOT_KEPT):
            return None
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def set(self, key: str, value: bytes) -> None:
        if key.endswith(NOT_KEPT):
            return
        with self._lock:
            if key in self._items:  # Flask-Compress sets again what it found
                self._items.move_to_end(key)
                return
            self.compressed += 1
            self._items[key] = value
            self.bytes += len(value)
            while self.bytes > self.max_bytes and self._items:
                self.bytes -= len(self._items.popitem(last=False)[1])


def install(dash_app: Dash, mode: str = "all") -> StaticCache | None:
    """Compress the Dash front end's answers (module docstring; ``mode``: the setting
    ``NPS_TV_COMPRESS``, all, files or off). Register before the other ``after_request``
    hooks: Flask runs them in reverse, so this one sees the final body."""
    if mode == "off":
        return None
    server = dash_app.server
    prefix = dash_app.config.routes_pathname_prefix
    static = tuple(prefix + path for path in STATIC)
    dynamic = DYNAMIC if mode == "all" else FILES_ONLY
    front = static + tuple(prefix + path for path in dynamic)
    cache = StaticCache()

    def cache_key(_req: Request) -> str:
        return g.get(KEY, NOT_KEPT)

    server.config.update(
        COMPRESS_REGISTER=False,  # only the front end's paths (below)
        COMPRESS_STREAMS=False,  # streamed answers (the CSV exports) go as they are
        COMPRESS_MIN_SIZE=MIN_BYTES,
        COMPRESS_ALGORITHM=list(ALGORITHMS),
        COMPRESS_CACHE_KEY=cache_key,
        COMPRESS_CACHE_BACKEND=lambda: cache,
    )
    compress = Compress(server)

    locks: dict[str, threading.Lock] = {}  # per static content: compressed by one request
    locks_guard = threading.Lock()

    @server.after_request
    def compress_front_end(response: Response) -> Response:
        if not request.path.startswith(front):
            return response
        if response.status_code != 200 or g.get(AS_IS) or not acceptable(request):
            # A 206's range names bytes of the file as it is; the wall's poll is final.
            response.vary.add("Accept-Encoding")
            return response
        if request.method in ("GET", "HEAD") and request.path.startswith(static):
            if response.is_streamed:
                # ``/assets/`` files are sent as files (streamed), which Flask-Compress
                # leaves alone; they are small: read them, to be compressed and kept too.
                response.direct_passthrough = False
                response.make_sequence()
            # Kept by content, not by URL: Dash serves a bundle under any version in its
            # path, and a query changes nothing, so a URL key would let anyone make the
            # server compress the largest bundle again and again (~100 ms each). A HEAD
            # runs the GET's view: its body is compressed (for the headers), so kept too.
            digest = g.setdefault(
                KEY, hashlib.blake2b(response.get_data(), digest_size=16).hexdigest())
            with locks_guard:
                lock = locks.setdefault(digest, threading.Lock())
            with lock:  # the requests that miss together wait for the first one's bytes
                return compress.after_request(response)
        return compress.after_request(response)

    return cache


def acceptable(req: Request) -> bool:
    """Whether the algorithm Flask-Compress picks for ``req`` is one it takes (a quality
    above 0). Flask-Compress 1.25 takes a quality of 0 for one like another: for
    "gzip;q=0, *" it picks gzip, the one algorithm refused."""
    chosen = _choose_algorithm(ALGORITHMS, req.headers.get("Accept-Encoding", ""))
    return chosen is not None and req.accept_encodings[chosen] > 0


def accepts_gzip(req: Request) -> bool:
    """Whether the request's ``Accept-Encoding`` takes gzip (a quality above 0)."""
    return req.accept_encodings["gzip"] > 0


def answer_as_is() -> None:
    """Mark this request's answer final: ``install``'s hook leaves it as it is."""
    g.setdefault(AS_IS, True)


class StartCache:
    """``gzip_start``'s results by the start's bytes, least recently used out past
    ``max_bytes`` (each counted as its start and its compressed form); one compression at a
    time, so the screens that ask together for a new start wait for the first one's."""

    def __init__(self, max_bytes: int = START_CACHE_BYTES):
        self.max_bytes = max_bytes
        self.bytes = self.hits = self.misses = 0
        self._items: OrderedDict[bytes, tuple[bytes, int, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._building = threading.Lock()

    def get(self, start: bytes, make: Callable[[bytes], tuple[bytes, int, int]]
            ) -> tuple[bytes, int, int]:
        with self._lock:
            found = self._items.get(start)
            if found is not None:
                self._items.move_to_end(start)
                self.hits += 1
                return found
        with self._building:
            with self._lock:
                found = self._items.get(start)
                if found is not None:  # made by the thread this one waited for
                    self.hits += 1
                    return found
            found = make(start)
            with self._lock:
                self.misses += 1
                if start not in self._items:
                    self._items[start] = found
                    self.bytes += len(start) + len(found[0])
                while self.bytes > self.max_bytes and self._items:
                    key, value = self._items.popitem(last=False)
                    self.bytes -= len(key) + len(value[0])
            return found

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes = self.hits = self.misses = 0


STARTS = StartCache()


def clear_starts() -> None:
    """Forget every kept gzip start (tests)."""
    STARTS.clear()


def start_stats() -> dict[str, int]:
    """The kept gzip starts' hits, misses (compressions) and bytes."""
    return {"hits": STARTS.hits, "misses": STARTS.misses, "bytes": STARTS.bytes}


def gzip_start(start: bytes) -> tuple[bytes, int, int]:
    """(a gzip member's header and ``start`` deflated up to a sync flush, its CRC-32, its
    length): the shared part of ``gzip_join``'s answers. Kept in ``STARTS`` by the bytes'
    value (a bytes object computes its hash once): the same start from the book is found."""
    return STARTS.get(start, _gzip_start)


def _gzip_start(start: bytes) -> tuple[bytes, int, int]:
    deflate = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    data = deflate.compress(start) + deflate.flush(zlib.Z_SYNC_FLUSH)
    return GZIP_HEADER + data, zlib.crc32(start), len(start)


def gzip_join(start: bytes, own: bytes) -> bytes:
    """``start + own`` as one gzip member, ``start`` compressed once (``gzip_start``) and
    ``own`` (a screen's state and status, a few hundred bytes) in stored blocks after the
    start's sync flush, the last one final; the trailer's CRC continues the start's.

    Stored, not deflated: a new compressor per answer allocated and cleared ~256 KB (glibc
    maps that much afresh each time), the largest cost of a fleet's first polls in py-spy,
    to save ~200 bytes."""
    head, crc, size = gzip_start(start)
    blocks = [own[i:i + STORED_MAX] for i in range(0, len(own), STORED_MAX)] or [b""]
    tail = b"".join(
        (b"\x01" if i == len(blocks) - 1 else b"\x00")  # BFINAL, BTYPE 00 (stored)
        + struct.pack("<HH", len(block), len(block) ^ 0xFFFF) + block
        for i, block in enumerate(blocks))
    trailer = struct.pack("<II", zlib.crc32(own, crc), (size + len(own)) & 0xFFFFFFFF)
    return head + tail + trailer
