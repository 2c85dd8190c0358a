"""Many wall screens against one real server: what N screens cost, replaying what a real screen
sends (issue 13).

    python benchmarks/bench_viewers.py                          # SQLite, N = 100, 400, 1000
    python benchmarks/bench_viewers.py --screens 100 --seconds 20
    python benchmarks/bench_viewers.py --postgres postgresql+psycopg://postgres@127.0.0.1/bench

1. **A store**: the demo's history (``build_demo_history``) in a fresh SQLite file, or in the
   PostgreSQL database given with ``--postgres`` (emptied first!).
2. **A real server**: ``nps-tv serve`` (gunicorn, ``--workers``, the Procfile's worker class) on
   127.0.0.1 and a free port.
3. **The request sequence, captured, not guessed**: headless Chromium opens ``--path`` (the
   rotating wall by default) for ``--capture-seconds`` while a writer posts one response a
   second; every request the page makes is read from the DevTools network log (its polls all
   go to the server while captured: a told page answers most from its pushes). Requests that
   repeat are the screen's steady asks (their period is the lower quartile of the gaps between
   repeats, as a busy machine stalls the capturing browser's timers); the rest are the cold
   page load, counted and printed, not replayed.
4. **N simulated screens** replay the steady asks on their own keep-alive connection each
   (asyncio clients in ``--clients`` processes: one Python process needs 0.4-0.6 ms of CPU per
   request, more than a core for 1,000 screens, and its late event loop was read as server
   latency), at the captured periods from random phases, carrying each
   Dash answer's outputs into the next request's inputs and state as the renderer does (so a
   screen that has the newest data is told so), and ``If-None-Match`` for any ``ETag`` seen.
   A Dash poll whose inputs include the page's ask store (the wall since issue 13) is sent as
   the page sends it: when the screen's ``GET /api/v1/tick`` answers a new stamp, or its tick
   stream (``GET /api/v1/tick/stream``, server-sent events, when the page opened one) sends
   one, a random part of the page's ``data-ask-ms`` later, or when its safety net is due
   (30-45 s after its last poll or applied push, as ``assets/nps_ask.js`` times it). A
   stream is held on a connection of its own; its events are counted, not timed. A changed
   tick that carries the poll's answer is applied without a request when the screen's state
   has the parts it starts from, as the page's ``npsAsk.serve`` does (else it polls at once).
   A writer posts one response per second through the REST API meanwhile. The screens run
   ``--warmup`` seconds (10) before the measured span: they open and get their first answer
   together, which a fleet does once, not on each change. A request on a kept-alive
   connection the server closed before answering a byte is sent again on a new one, as a
   browser does, and counted as a reconnect, not an error.

Printed per N: the client's own CPU per request and how late its event loop ran (a p95 over
``CLIENT_LAG_LIMIT_MS`` is flagged: the latencies then include the client's delay),
requests/s, p50/p95/p99 latency (ms), errors (non-2xx/304, timeouts, refused), asks skipped
(the previous ask of the same kind still pending when the next was due, as Dash skips an
interval), CPU (% of one core) and RSS per worker, and bytes per screen per change
(bytes received per screen over the span divided by the responses written in it), in all and
per kind of request (the ticks, the Dash polls with their patches, /health); and how soon a
new response was visible: the seconds from each write's POST to each screen's first answer
whose data mark (the database clock its snapshot was read at) is later than the write's
answer, and the (write, screen) pairs that never got there (not printed with --distinct: a
filtered screen does not show every write); and for pushed answers (a told screen sends no
request for them, so they are not among the requests' latencies) p50/p95/p99 of the time from
their data mark (the database clock when the poll that read the change began) to the moment
the screen's connection read the event's last byte: the whole way of a change through the
server (read, fold, views, parts, diff, the push), which a poll interval's wait does not blur.

Only 127.0.0.1 is ever contacted; every loop is bounded by ``--seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402

from app.ask import ASK_PATH as TICK_PATH  # noqa: E402
from app.ask_stream import STREAM_PATH  # noqa: E402
from app.config import Settings  # noqa: E402
from app.demo.history import PLANS, PRODUCTS, REGIONS, build_demo_history  # noqa: E402
from app.store import open_store  # noqa: E402

try:  # the client must not be what limits the rate: 1,000 screens, ~2,000 requests a second
    import orjson

    fast_loads, fast_dumps = orjson.loads, orjson.dumps
except ImportError:  # pragma: no cover - the standard library does the same, slower
    fast_loads = json.loads

    def fast_dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode()

TOKEN = "bench-viewers-token-0123456789"
ACCEPT_ENCODING = "gzip, deflate, br, zstd"  # what Chromium sends with every request
HOST = "127.0.0.1"
REQUEST_TIMEOUT = 10.0
# An event loop that runs a 10 ms timer later than this at p95 is itself delaying answers.
CLIENT_LAG_LIMIT_MS = 10.0
# Writes answered this close to the screens' end are not counted in how soon responses were
# visible: the server's default poll (3 s), a screen's ask (1 s) and its poll may all come after.
VISIBLE_GRACE = 5.0
SAFETY_NET_SECONDS = 30.0  # app.live_status.SAFETY_NET_SECONDS: an asking page's timed poll
SAFETY_SPREAD = 0.5  # assets/nps_ask.js: it waits up to this part of its interval more


def safety_due() -> float:
    """When a page that polls now polls again with nothing new (assets/nps_ask.js)."""
    return time.monotonic() + SAFETY_NET_SECONDS * (1 + SAFETY_SPREAD * random.random())


# -- the store and the server ---------------------------------------------------------------

def prepare_store(url: str, days: int) -> int:
    """Fill ``url`` with the demo's history; the number of responses it holds."""
    settings = Settings.from_env().replace(database_url=url)
    store = open_store(settings, url)
    if url.startswith("postgresql"):
        with store.engine.begin() as conn:
            for table in ("responses", "events"):
                conn.exec_driver_sql(f"DELETE FROM {table}")
    if store.count_responses() == 0:
        build_demo_history(store, days=days, seed=7)
    count = store.count_responses()
    store.dispose()
    return count


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_server(url: str, port: int, workers: int, data_dir: str) -> subprocess.Popen:
    """``nps-tv serve`` on ``url``; returns once ``/health`` answers."""
    env = {**os.environ, "NPS_TV_DATABASE_URL": url, "NPS_TV_INGEST_TOKEN": TOKEN,
           "NPS_TV_ACCESS": "open", "NPS_TV_HOST": HOST, "NPS_TV_PORT": str(port),
           "NPS_TV_WORKERS": str(workers), "NPS_TV_DATA_DIR": data_dir,
           "PYTHONPATH": os.pathsep.join(filter(None, (
               str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH"))))}
    # The server's log goes to a file: a pipe nobody reads fills at 64 KB, and then every
    # thread that logs (gunicorn's too) blocks on it, which looked like a server that stalls.
    log = open(Path(data_dir) / "server.log", "wb")  # noqa: SIM115 - closed with the server
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=log)
    proc.log_path = log.name
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {server_log(proc)[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=2):
                return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("server did not answer /health within 90 s")


def server_log(proc: subprocess.Popen) -> str:
    return Path(proc.log_path).read_text(errors="replace")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


class Writer(threading.Thread):
    """Posts one demo response a second through ``POST /api/v1/responses`` until stopped."""

    def __init__(self, port: int, every: float = 1.0):
        super().__init__(daemon=True)
        self.port, self.every = port, every
        self.stop = threading.Event()
        self.times: list[float] = []
        # (wall time the POST was sent, wall time it was answered): the response is committed
        # before the answer, so a snapshot read from a later database clock holds it.
        self.posted: list[tuple[float, float]] = []
        self.errors = 0
        self.rng = random.Random(11)
        self.tag = f"{os.getpid()}-{time.time_ns()}"

    def body(self, n: int) -> bytes:
        score = self.rng.choice([0, 3, 6, 7, 8, 9, 9, 10, 10, 10])
        return json.dumps({
            # Unique per writer: a repeated id would be an idempotent no-op, not a change.
            "external_id": f"bench-viewers-{self.tag}-{n}", "score": score,
            "comment": self.rng.choice(["Support answered fast", "Too expensive for us",
                                        "The dashboard is slow", "Love the reports", ""]),
            "segments": {"region": self.rng.choice(["EMEA", "APAC", "North America"])}}
        ).encode()

    def run(self) -> None:
        n = 0
        while not self.stop.wait(self.every):
            n += 1
            request = urllib.request.Request(
                f"http://{HOST}:{self.port}/api/v1/responses", data=self.body(n), method="POST",
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
            sent = time.time()
            try:
                with urllib.request.urlopen(request, timeout=10) as reply:
                    reply.read()
                self.times.append(time.monotonic())
                self.posted.append((sent, time.time()))
            except OSError:
                self.errors += 1


# -- capturing what a real screen sends -----------------------------------------------------

@dataclass
class Ask:
    """One kind of request a screen repeats: its template and its period."""

    kind: str
    method: str
    path: str
    body: dict | None
    period: float
    count: int
    # A Dash poll whose inputs include the page's ask store (app/ask.py): the page sends it
    # when its tick's stamp changes (and at its safety-net interval), not on a timer.
    triggered: bool = False
    median: float = 0.0  # the median gap seen (the period is the lower quartile)
    # The page's tick stream (app/ask_stream.py): opened once, its events trigger the polls,
    # each a random part of ``spread`` seconds later (the page's data-ask-ms), as the page does.
    stream: bool = False
    spread: float = 0.0


def capture(port: int, path: str, seconds: float, width: int = 1920, height: int = 1080,
            ) -> tuple[list[Ask], list[dict]]:
    """Open ``path`` in headless Chromium; (the steady asks, the cold-load requests)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                f"--window-size={width},{height}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.get(f"http://{HOST}:{port}{path}")
        # A told page answers its polls from what its stream pushed and polls the server
        # only for the changes it could not take, and for its safety net after 30-45 s
        # without a change: too seldom to learn the poll from. While captured, each of its
        # polls goes to the server, so the poll is seen once a change.
        driver.execute_script("if (window.npsAsk) { window.npsAsk.serve = function () {"
                              " return null; }; }")
        started = time.monotonic()
        seen: list[dict] = []
        sizes: dict[str, int] = {}
        # On a loaded machine the capturing browser can stall for seconds: capture on (up to
        # four times as long) until some request has repeated often enough to time it.
        while time.monotonic() - started < 4 * seconds:
            time.sleep(5)
            seen += read_network_log(driver, sizes)
            counts = defaultdict(int)
            for request in seen:
                counts[kind_of(request)] += 1
            if time.monotonic() - started >= seconds and max(counts.values(), default=0) >= 8:
                break
        spread = driver.execute_script(
            "var r = document.getElementById('tv-root');"
            " return r ? parseInt(r.getAttribute('data-ask-ms') || '0', 10) : 0;") or 0
    finally:
        driver.quit()
    for request in seen:
        request["bytes"] = sizes.get(request["id"], 0)
    return split_with_stream(seen, spread / 1000)


def split_with_stream(seen: list[dict], spread: float) -> tuple[list[Ask], list[dict]]:
    """``split_asks``, and the page's tick stream as one more ask (``spread``: seconds)."""
    asks, cold = split_asks([r for r in seen if not is_stream(r)])
    streams = [r for r in seen if is_stream(r)]
    if streams:  # one stream a page (a second is a reconnect): replayed as one
        asks.append(Ask(kind_of(streams[0]), "GET", streams[-1]["path"], None, 0.0,
                        len(streams), stream=True, spread=spread))
    return asks, cold


def is_stream(request: dict) -> bool:
    """The page's tick stream (server-sent events)."""
    return request["method"] == "GET" and request["path"].startswith(STREAM_PATH)


def read_network_log(driver, sizes: dict[str, int] | None = None) -> list[dict]:
    """Every request of the page: method, path, body (parsed JSON when it is), time, its
    id; and into ``sizes`` the bytes each finished request took on the wire, by id."""
    seen = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.loadingFinished" and sizes is not None:
            params = message["params"]
            sizes[params["requestId"]] = int(params.get("encodedDataLength", 0))
        if message.get("method") != "Network.requestWillBeSent":
            continue
        request = message["params"]["request"]
        url = request["url"]
        if not url.startswith(f"http://{HOST}:"):
            continue
        body = request.get("postData")
        if body is None and request.get("hasPostData"):
            try:
                body = driver.execute_cdp_cmd("Network.getRequestPostData",
                                              {"requestId": message["params"]["requestId"]}
                                              )["postData"]
            except Exception:  # noqa: BLE001 - gone from the browser's buffer: unknown body
                body = None
        path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
        seen.append({"method": request["method"], "path": path,
                     "body": json.loads(body) if body else None,
                     "time": message["params"]["timestamp"],
                     "id": message["params"]["requestId"]})
    return seen


def kind_of(request: dict) -> str:
    """Requests of one kind repeat: the path, and for a Dash callback its outputs."""
    body = request["body"]
    if isinstance(body, dict) and "output" in body:
        return f"{request['method']} {request['path']} {body['output'][:80]}"
    return f"{request['method']} {request['path'].split('?')[0]}"


def split_asks(seen: list[dict]) -> tuple[list[Ask], list[dict]]:
    """Kinds seen at least three times are steady asks; everything else is the cold load."""
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for request in seen:
        by_kind[kind_of(request)].append(request)
    asks, cold = [], []
    for kind, requests in by_kind.items():
        if len(requests) < 3:
            cold.extend(requests)
            continue
        cold.append(requests[0])  # the first of each is part of the page load too
        gaps = [b["time"] - a["time"] for a, b in zip(requests, requests[1:], strict=False)]
        last = requests[-1]
        # The lower quartile of the gaps, not their median: on a busy machine the capturing
        # browser's main thread stalls (seconds, at load 10 on 2 cores) and its timers fire
        # late; the quartile is what the page's timer asks for when it gets to run.
        period = statistics.quantiles(gaps, n=4)[0] if len(gaps) >= 2 else gaps[0]
        asks.append(Ask(kind, last["method"], last["path"], last["body"],
                        max(period, 0.05), len(requests), triggered=is_triggered(last["body"]),
                        median=statistics.median(gaps)))
    return asks, cold


def is_triggered(body: Any) -> bool:
    """A Dash callback one of whose inputs is an ask store (``<page>-ask``.data)."""
    inputs = body.get("inputs") if isinstance(body, dict) else None
    return any(isinstance(item, dict) and str(item.get("id", "")).endswith("-ask")
               and item.get("property") == "data" for item in inputs or [])


# -- the simulated screens ------------------------------------------------------------------

@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    skipped: int = 0
    reconnects: int = 0  # connections reopened after the server closed an idle one
    bytes_in: int = 0
    bytes_by_kind: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    count_by_kind: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    latencies_by_kind: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # How late the client's own event loop ran a 10 ms timer (s): when the client is what
    # limits the rate (its loop busy, or its process starved of CPU), latencies include this.
    lags: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0  # the client processes' CPU
    # Per screen: (wall time, data mark's database clock in µs) of each answer that brought
    # new data: from these and the writer's times, how soon a response was visible.
    seen: list[list[tuple[float, int]]] = field(default_factory=list)
    ended: float = 0.0  # wall time the screens stopped (the earliest of the client processes)
    began: float = 0.0  # wall time the measured span began (after the warm-up; the latest)
    # Pushed answers (a changed tick's second line): applied without a request, as the page's
    # npsAsk.serve does when its state has the parts they start from, or not (it polls).
    served: int = 0
    missed: int = 0
    # Seconds from a pushed answer's data mark (the database clock when its poll began to
    # read) to its last byte reaching the screen: the whole way of a change through the
    # server (read, fold, views, parts, diff, the push) to a told screen, which asks nothing.
    pushed: list[float] = field(default_factory=list)
    # The warm-up's requests (every screen's first poll, together): (count, p50, p95 in s,
    # errors), printed apart from the measured span's.
    warm: list[tuple[int, float, float, int]] = field(default_factory=list)

    def restart(self) -> None:
        """The warm-up is over: count from now (the screens keep their state and sightings)."""
        took = sorted(self.latencies) or [float("nan")]
        self.warm.append((len(self.latencies), took[len(took) // 2],
                          took[min(len(took) - 1, int(0.95 * len(took)))], self.errors))
        for name in ("latencies", "lags", "pushed"):
            getattr(self, name).clear()
        for name in ("statuses", "error_kinds", "bytes_by_kind", "count_by_kind",
                     "latencies_by_kind"):
            getattr(self, name).clear()
        self.errors = self.skipped = self.reconnects = self.bytes_in = 0
        self.served = self.missed = 0
        self.began = time.time()

    def merge(self, other: Tally) -> None:
        """Add another client process's tally to this one."""
        self.latencies += other.latencies
        self.errors += other.errors
        self.skipped += other.skipped
        self.served += other.served
        self.missed += other.missed
        self.reconnects += other.reconnects
        self.bytes_in += other.bytes_in
        self.lags += other.lags
        self.pushed += other.pushed
        self.cpu_seconds += other.cpu_seconds
        self.seen += other.seen
        self.warm += other.warm
        self.ended = min(t for t in (self.ended, other.ended) if t) if other.ended else self.ended
        self.began = max(self.began, other.began)
        for mine, theirs in ((self.statuses, other.statuses),
                             (self.error_kinds, other.error_kinds),
                             (self.bytes_by_kind, other.bytes_by_kind),
                             (self.count_by_kind, other.count_by_kind),
                             (self.latencies_by_kind, other.latencies_by_kind)):
            for key, value in theirs.items():
                mine[key] += value


def distinct_queries(count: int) -> list[dict[str, str]]:
    """``count`` different screens' data filters: a window and a segment filter each (one or two
    values of the demo's product, region or plan), as managers' bookmarks differ."""
    filters: list[dict[str, str]] = [{}]
    for field_name, values in (("product", PRODUCTS), ("region", REGIONS), ("plan", PLANS)):
        filters += [{field_name: v} for v in values]
        filters += [{field_name: f"{a},{b}"} for i, a in enumerate(values) for b in values[i + 1:]]
    windows = ("30d", "7d", "90d", "14d", "60d", "all")
    every = [{"window": w, **f} for f in filters for w in windows]
    if count > len(every):
        raise SystemExit(f"--distinct: at most {len(every)} different filters")
    return every[:count]


def decode(body: bytes, coding: str | None) -> bytes:
    """A body as the browser's fetch sees it: ``Content-Encoding`` undone."""
    if not coding or not body:
        return body
    if coding == "gzip":
        return zlib.decompress(body, 31)
    if coding == "deflate":
        return zlib.decompress(body)
    if coding == "br":
        import brotli
        return brotli.decompress(body)
    if coding == "zstd":
        from backports import zstd
        return zstd.decompress(body)
    raise ValueError(f"unknown Content-Encoding {coding!r}")


class Screen:
    """One screen: one keep-alive connection, its own copy of each ask's Dash values, and
    (``query``) its own data filter in place of the captured screen's."""

    def __init__(self, port: int, asks: list[Ask], tally: Tally,
                 query: dict[str, str] | None = None):
        self.port, self.asks, self.tally = port, asks, tally
        self.query = query
        self.values: dict[tuple[str, str], Any] = {}
        self.etags: dict[str, str] = {}
        self.lock = asyncio.Lock()
        self.changed = asyncio.Event()  # the tick's stamp changed: run the triggered polls
        self.safety_at = 0.0  # when the safety net polls (a poll or an applied push moves it)
        self.stamp: str | None = None
        self.streaming = False  # its tick stream is open (the page sends X-NPS-TV-Streamed)
        # ... or about to be: the page says so from its first poll (assets/nps_ask.js,
        # ``streamed``), until its stream fails.
        self.will_stream = any(ask.stream for ask in asks)
        self.seen: list[tuple[float, int]] = []
        tally.seen.append(self.seen)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.answered_since_connect = 0

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        self.answered_since_connect = 0

    async def exchange(self, ask: Ask) -> tuple[int, dict[str, str], bytes, int]:
        """One request on the screen's connection, and its reply."""
        self.writer.write(self.request_bytes(ask))
        # asyncio.timeout, not wait_for: wait_for wraps the read in a Task of its own per
        # request, a large part of the client's CPU at 2,000 requests a second.
        async with asyncio.timeout(REQUEST_TIMEOUT):
            reply = await self.read_reply()
        self.answered_since_connect += 1
        return reply

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def path(self, ask: Ask) -> str:
        """The ask's path for this screen: the tick and its stream name the screen's URL
        parameters (``assets/nps_ask.js``), so a screen with its own filter asks with it
        (before stop 26 every distinct screen's stream was the captured screen's: its pushes
        never matched and every screen polled)."""
        if self.query is None or not ask.path.startswith(TICK_PATH):
            return ask.path
        url = urlsplit(ask.path)
        query = {**dict(parse_qsl(url.query, keep_blank_values=True)), **self.query}
        return urlunsplit(url._replace(query=urlencode(query)))

    def request_bytes(self, ask: Ask) -> bytes:
        headers = [f"{ask.method} {self.path(ask)} HTTP/1.1", f"Host: {HOST}:{self.port}",
                   "Connection: keep-alive", "Accept: application/json",
                   f"Accept-Encoding: {ACCEPT_ENCODING}"]
        payload = b""
        if ask.body is not None:
            payload = fast_dumps(self.fill(ask.body))
            headers += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
            if self.stamp is not None:  # the stamp its tick told, as assets/nps_tv.js sends
                headers.append(f"X-NPS-TV-Stamp: {self.stamp}")
            if self.streaming or self.will_stream:  # and that its stream is open or coming
                headers.append("X-NPS-TV-Streamed: 1")
        if (etag := self.etags.get(ask.path)) is not None:
            headers.append(f"If-None-Match: {etag}")
        return ("\r\n".join(headers) + "\r\n\r\n").encode() + payload

    def fill(self, body: dict) -> dict:
        """The template with this screen's current input and state values."""
        body = dict(body)
        for key in ("inputs", "state"):
            if isinstance(body.get(key), list):
                body[key] = [self.filled(item) for item in body[key]]
        return body

    def filled(self, item: Any) -> Any:
        if isinstance(item, list):
            return [self.filled(i) for i in item]
        if not isinstance(item, dict) or "id" not in item:
            return item
        value = item.get("value")
        if self.query is not None and isinstance(value, dict) and "query" in value:
            item = {**item, "value": {**value, "query": {**value["query"], **self.query}}}
        key = (json.dumps(item["id"], sort_keys=True), item.get("property", ""))
        if item.get("property") == "n_intervals":
            value = self.values.get(key, item.get("value") or 0) + 1
            self.values[key] = value
            return {**item, "value": value}
        return {**item, "value": self.values[key]} if key in self.values else item

    def learn(self, answer: bytes) -> None:
        """Carry a Dash answer's outputs into later requests, as the renderer would."""
        try:
            data = fast_loads(answer)
        except ValueError:
            return
        for component, props in (data.get("response") or {}).items():
            try:
                ident = json.dumps(json.loads(component), sort_keys=True)
            except ValueError:
                ident = json.dumps(component)
            for prop, value in props.items():
                self.values[(ident, prop)] = value
                if prop == "data" and isinstance(value, dict) and "mark" in value:
                    self.seen.append((time.time(), int(value["mark"][0])))

    async def send(self, ask: Ask) -> None:
        async with self.lock:
            if self.reader is None or self.reader.at_eof():
                # The server closed the kept-alive connection while it was idle (its
                # keep-alive is 5 s; a told screen's poll connection waits longer): a browser
                # opens another one, and so does the screen, before it is timed.
                self.close()
                await self.connect()
                self.tally.reconnects += 1
            started = time.perf_counter()
            try:
                try:
                    status, headers, body, size = await self.exchange(ask)
                except (ConnectionResetError, asyncio.IncompleteReadError) as exc:
                    if self.answered_since_connect == 0 and not getattr(exc, "partial", b""):
                        raise
                    # The server closed the kept-alive connection as the request went out,
                    # before answering a byte: a browser sends it again on a new connection.
                    self.close()
                    await self.connect()
                    self.tally.reconnects += 1
                    status, headers, body, size = await self.exchange(ask)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                self.tally.errors += 1
                self.tally.error_kinds[type(exc).__name__] += 1
                self.close()
                await self.connect()
                return
            self.tally.latencies.append(time.perf_counter() - started)
            self.tally.latencies_by_kind[ask.kind].append(self.tally.latencies[-1])
            self.tally.statuses[status] += 1
            self.tally.bytes_by_kind[ask.kind] += size
            self.tally.count_by_kind[ask.kind] += 1
            if status >= 400:
                self.tally.errors += 1
            if "etag" in headers:
                self.etags[ask.path] = headers["etag"]
            if status == 200 and ask.body is not None:
                self.learn(body)
            elif status == 200 and ask.path.startswith(TICK_PATH):
                self.heard(body)

    def heard(self, answer: bytes, loop: asyncio.AbstractEventLoop | None = None,
              spread: float = 0.0) -> None:
        """A tick's answer: a new stamp runs the triggered polls, as assets/nps_ask.js does
        (a pushed one, after a random part of ``spread`` seconds unless it is the first)."""
        try:
            stamp = fast_loads(answer).get("stamp")
        except (ValueError, AttributeError):
            return
        if stamp != self.stamp:
            first = self.stamp is None
            self.stamp = stamp
            for ask in self.asks:
                if ask.triggered:
                    self.values[(json.dumps(ask_store_id(ask)), "data")] = stamp
            if loop is None or first or not spread:
                self.changed.set()
            else:
                loop.call_later(random.random() * spread, self.changed.set)

    def serve(self, tick: bytes, answer: bytes, loop: asyncio.AbstractEventLoop | None = None,
              spread: float = 0.0, at: float | None = None) -> bool:
        """A changed tick with the poll's answer: applied as the page's ``npsAsk.serve``
        does, when this screen's state has the data key and part fingerprints it starts
        from and no newer data (no request); else the screen polls within a random part of
        ``spread`` seconds, as the page does. False: no push in it. ``at``: when it came (by
        default now), timed from its poll's read."""
        try:
            body = fast_loads(tick)
            pushed = body["push"]
        except (ValueError, KeyError, TypeError):
            return False
        state = self.values.get((json.dumps(STATE_ID), "data"))
        if not isinstance(state, dict) or state.get("key") != pushed.get("key") or (
                not pushed.get("from") or state.get("hashes") != pushed.get("from")) or (
                list(state.get("mark") or [0, 0]) > list(pushed.get("mark") or [0, 0])):
            self.tally.missed += 1
            self.heard(tick, loop, spread)
            return True
        self.stamp = body.get("stamp")
        for ask in self.asks:
            if ask.triggered:
                self.values[(json.dumps(ask_store_id(ask)), "data")] = self.stamp
        self.learn(answer)
        self.safety_at = safety_due()  # the page's poll ran, answered from the push
        self.tally.served += 1
        mark = pushed.get("mark")
        if isinstance(mark, list) and mark and isinstance(mark[0], int):
            self.tally.pushed.append((at or time.time()) - mark[0] / 1_000_000)
        return True

    async def read_reply(self) -> tuple[int, dict[str, str], bytes, int]:
        head = await self.reader.readuntil(b"\r\n\r\n")
        self.tally.bytes_in += len(head)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                body += chunk[:-2]
                if size == 0:
                    break
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        self.tally.bytes_in += len(body)
        size = len(head) + len(body)  # as sent; the body as the browser's fetch sees it:
        return status, headers, decode(body, headers.get("content-encoding")), size

    async def run_ask(self, ask: Ask, until: float) -> None:
        if ask.triggered:
            await self.run_triggered(ask, until)
            return
        if ask.stream:
            await self.run_stream(ask, until)
            return
        await asyncio.sleep(random.random() * ask.period)
        pending: asyncio.Task | None = None
        while time.monotonic() < until:
            if pending is not None and not pending.done():
                self.tally.skipped += 1  # still waiting for the last one: Dash skips this
            else:
                pending = asyncio.ensure_future(self.send(ask))
            await asyncio.sleep(ask.period)
        if pending is not None:
            await asyncio.wait([pending], timeout=REQUEST_TIMEOUT)

    async def run_triggered(self, ask: Ask, until: float) -> None:
        """Send ``ask`` whenever the tick's stamp changed, or when the safety net is due:
        ``SAFETY_NET_SECONDS`` and a random part of half that again after the page's last
        poll, asked or answered from a push (``safety_due``)."""
        self.changed.clear()
        self.safety_at = safety_due()
        while time.monotonic() < until:
            try:
                await asyncio.wait_for(self.changed.wait(),
                                       max(0.0, min(self.safety_at, until) - time.monotonic()))
            except TimeoutError:
                if time.monotonic() >= until:
                    break
                if time.monotonic() < self.safety_at:  # a push was applied meanwhile
                    continue
            self.changed.clear()
            self.safety_at = safety_due()
            await self.send(ask)


    async def run_stream(self, ask: Ask, until: float) -> None:
        """The page's tick stream on a connection of its own: each event is heard as the
        page hears it (a changed stamp runs the triggered polls, a random part of the page's
        ask interval later); its bytes count as the stream's."""
        await asyncio.sleep(random.random() * 0.5)  # pages do not all open at one instant
        try:
            reader, writer = await open_timed(HOST, self.port)
            writer.write(f"GET {self.path(ask)} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
                         "Accept: text/event-stream\r\n\r\n".encode())
            async with asyncio.timeout(REQUEST_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            if int(head.split()[1]) != 200:
                raise ValueError(f"stream answered {head.split()[1].decode()}")
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            self.tally.errors += 1
            self.tally.error_kinds[f"stream {type(exc).__name__}"] += 1
            self.will_stream = False
            return
        self.tally.bytes_in += len(head)
        self.tally.bytes_by_kind[ask.kind] += len(head)
        loop = asyncio.get_running_loop()
        consumed = len(head)
        self.streaming = True
        try:
            while (left := until - time.monotonic()) > 0:
                try:
                    async with asyncio.timeout(left):
                        block = await reader.readuntil(b"\n\n")
                except TimeoutError:
                    break
                consumed += len(block)
                # When its last byte came, not when this coroutine got to it: this process
                # plays hundreds of screens, a real one only its own, so each handles a
                # pushed answer a random part of APPLY_SPREAD later (reading goes on
                # meanwhile), and one change's answers are not handled in one queue that the
                # arrival times of the last screens would include.
                at = reader.arrived(consumed)
                if b"\ndata: " in block:
                    await asyncio.sleep(random.random() * APPLY_SPREAD)
                self.tally.bytes_in += len(block)
                self.tally.bytes_by_kind[ask.kind] += len(block)
                if block.startswith(b"data: "):
                    self.tally.count_by_kind[ask.kind] += 1
                    tick, _, answer = block[len(b"data: "):].partition(b"\ndata: ")
                    if not (answer and self.serve(tick, answer.rstrip(b"\n"), loop,
                                                  ask.spread, at)):
                        self.heard(tick, loop, ask.spread)
        except (OSError, asyncio.IncompleteReadError) as exc:
            self.tally.errors += 1
            self.tally.error_kinds[f"stream {type(exc).__name__}"] += 1
        finally:
            self.streaming = self.will_stream = False
            writer.close()


STATE_ID = "tv-state"  # the wall's client state (app/tv.py IDS.state)
APPLY_SPREAD = 0.25  # seconds over which the screens of one process handle one change's events
# The most a stream's reader holds before an event's end: a pushed answer may be as large as
# the server pushes (app/ask_stream.py MAX_PUSH_BYTES, 256 KB; every part whole is ~80 KB),
# past asyncio's 64 KB default, which raised LimitOverrunError out of the screen's task.
STREAM_READ_LIMIT = 2 * 2**20


class TimedReader(asyncio.StreamReader):
    """A stream reader that notes when each chunk came (as the event loop read it)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fed: list[tuple[float, int]] = []  # (wall time, bytes fed by then)
        self.total = 0

    def feed_data(self, data: bytes) -> None:
        self.total += len(data)
        self.fed.append((time.time(), self.total))
        super().feed_data(data)

    def arrived(self, upto: int) -> float:
        """When the ``upto``-th byte came (now, if it is not known)."""
        while self.fed and self.fed[0][1] < upto:
            self.fed.pop(0)
        return self.fed[0][0] if self.fed else time.time()


async def open_timed(host: str, port: int) -> tuple[TimedReader, asyncio.StreamWriter]:
    """``asyncio.open_connection`` with a ``TimedReader``."""
    loop = asyncio.get_running_loop()
    reader = TimedReader(limit=STREAM_READ_LIMIT, loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    transport, _ = await loop.create_connection(lambda: protocol, host, port)
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


def ask_store_id(ask: Ask) -> str:
    """The id of the ask store among a triggered poll's inputs."""
    for item in (ask.body or {}).get("inputs", []):
        if isinstance(item, dict) and str(item.get("id", "")).endswith("-ask"):
            return item["id"]
    return ""


async def run_screens(port: int, asks: list[Ask], n: int, seconds: float,
                      distinct: int = 0, first: int = 0, warmup: float = 0.0) -> Tally:
    """Screens ``first`` to ``first + n - 1`` of the run, in this process's event loop,
    counted after ``warmup`` seconds (when every screen has opened and had its first
    answer: what a fleet started together does once, not on each change)."""
    tally = Tally()
    queries = distinct_queries(distinct) if distinct else [None]
    screens = [Screen(port, asks, tally, queries[(first + i) % len(queries)])
               for i in range(n)]
    for i in range(0, n, 50):  # connect in small steps, as screens come up one by one
        await asyncio.gather(*(s.connect() for s in screens[i:i + 50]))
    until = time.monotonic() + warmup + seconds
    tally.ended = time.time() + warmup + seconds  # they stop asking then (answers may trail)
    tally.began = time.time()
    if warmup:
        asyncio.get_running_loop().call_later(warmup, tally.restart)
    await asyncio.gather(watch_loop(tally, until),
                         *(s.run_ask(a, until) for s in screens for a in asks))
    for screen in screens:
        screen.close()
    return tally


async def watch_loop(tally: Tally, until: float, every: float = 0.01) -> None:
    """Record how late this event loop wakes from ``every`` seconds' sleep."""
    while time.monotonic() < until:
        started = time.perf_counter()
        await asyncio.sleep(every)
        tally.lags.append(max(time.perf_counter() - started - every, 0.0))


def client_process(port: int, asks: list[Ask], n: int, seconds: float, distinct: int,
                   first: int, warmup: float = 0.0) -> Tally:
    """One client process: its share of the screens, and its own CPU time (after the
    warm-up)."""
    loop_cpu: list[float] = []

    async def run() -> Tally:
        asyncio.get_running_loop().call_later(warmup, lambda: loop_cpu.append(
            time.process_time()))
        return await run_screens(port, asks, n, seconds, distinct, first, warmup)
    started = time.process_time()
    tally = asyncio.run(run())
    tally.cpu_seconds = time.process_time() - (loop_cpu[0] if loop_cpu else started)
    return tally


def run_clients(pool, port: int, asks: list[Ask], n: int, seconds: float, distinct: int,
                clients: int, warmup: float = 0.0) -> Tally:
    """The N screens split over ``clients`` processes (one Python process cannot pace 1,000
    screens: at about 0.4-0.6 ms of its CPU per request it needs more than a core)."""
    shares = [n // clients + (1 if i < n % clients else 0) for i in range(clients)]
    starts = [sum(shares[:i]) for i in range(clients)]
    jobs = [(port, asks, share, seconds, distinct, start, warmup)
            for share, start in zip(shares, starts, strict=True) if share]
    tally = Tally()
    for part in pool.starmap(client_process, jobs):
        tally.merge(part)
    return tally


# -- one measured run -----------------------------------------------------------------------

def workers_of(proc: subprocess.Popen) -> list[psutil.Process]:
    return [p for p in psutil.Process(proc.pid).children(recursive=True)]


def visibility(posted: list[tuple[float, float]], seen: list[list[tuple[float, int]]],
               end: float) -> tuple[list[float], int]:
    """Seconds from each write's POST to each screen's first answer holding it (a data mark
    read after the write was answered), and how many (write, screen) pairs never got there.
    Writes answered within ``VISIBLE_GRACE`` of the end are left out."""
    took, missed = [], 0
    for sent, answered in posted:
        if answered > end - VISIBLE_GRACE:
            continue
        after = answered * 1_000_000
        for answers in seen:
            first = next((at for at, mark in answers if mark >= after), None)
            if first is None:
                missed += 1
            else:
                took.append(first - sent)
    return took, missed


def measure(port: int, proc: subprocess.Popen, asks: list[Ask], n: int,
            seconds: float, distinct: int = 0, pool=None, clients: int = 1,
            warmup: float = 0.0) -> dict[str, Any]:
    workers = workers_of(proc)
    before: dict[int, float] = {}
    marks: list[float] = []

    def begin() -> None:  # the measured span: after the warm-up
        marks.append(time.monotonic())
        before.update({w.pid: sum(w.cpu_times()[:2]) for w in workers})
    timer = threading.Timer(warmup, begin)
    writer = Writer(port)
    writer.start()
    timer.start()
    if pool is None:
        tally = client_process(port, asks, n, seconds, distinct, 0, warmup)
    else:
        tally = run_clients(pool, port, asks, n, seconds, distinct, clients, warmup)
    timer.join()
    span = time.monotonic() - marks[0]
    posted = [(sent, answered) for sent, answered in writer.posted if sent >= tally.began]
    visible, missed = visibility(posted, tally.seen, tally.ended or time.time())
    writer.stop.set()
    writer.join(15)
    spent = [sum(w.cpu_times()[:2]) - before.get(w.pid, 0.0) for w in workers]
    cpu = [s / span * 100 for s in spent]
    client_cpu = tally.cpu_seconds / span * 100
    lags = sorted(tally.lags) or [float("nan")]
    rss = [w.memory_info().rss / 2**20 for w in workers]
    lat = sorted(tally.latencies) or [float("nan")]

    def pct(q: float, values: list[float] | None = None) -> float:
        values = lat if values is None else sorted(values) or [float("nan")]
        return values[min(len(values) - 1, int(q * len(values)))] * 1000

    changes = max(len(posted), 1)
    return {"screens": n, "distinct": distinct, "seconds": round(span, 1),
            "requests": len(tally.latencies),
            "rps": len(tally.latencies) / span, "p50": pct(0.50), "p95": pct(0.95),
            "p99": pct(0.99), "errors": tally.errors, "skipped": tally.skipped,
            "reconnects": tally.reconnects, "served": tally.served, "missed": tally.missed,
            "pushed_p50": pct(0.5, tally.pushed), "pushed_p95": pct(0.95, tally.pushed),
            "pushed_p99": pct(0.99, tally.pushed),
            "warm_requests": sum(w[0] for w in tally.warm),
            "warm_p95": max((w[2] for w in tally.warm), default=float("nan")) * 1000,
            "warm_errors": sum(w[3] for w in tally.warm),
            "error_kinds": {**tally.error_kinds, **{str(k): v for k, v in tally.statuses.items()
                                                     if k >= 400}},
            "statuses": dict(tally.statuses), "writes": len(posted),
            "write_errors": writer.errors, "warmup": warmup,
            "cpu_per_worker": [round(c) for c in cpu],
            "rss_mb_per_worker": [round(r) for r in rss],
            # The workers' CPU (poll job and writes included) per answered request: what the
            # machine's load changes least.
            "cpu_ms_per_request": 1000 * sum(spent) / max(len(tally.latencies), 1),
            # ...and per screen and second: what compares a scheme that asks with one that
            # is told (a stream's events are no requests).
            "cpu_ms_per_screen_second": 1000 * sum(spent) / n / span,
            "bytes_per_screen_per_change": tally.bytes_in / n / changes,
            "client_cpu": round(client_cpu), "load_average": os.getloadavg()[0],
            "visible_p50": pct(0.5, visible) / 1000, "visible_p95": pct(0.95, visible) / 1000,
            "visible_max": max(visible, default=float("nan")), "visible_missed": missed,
            "visible_pairs": len(visible) + missed,
            "clients": clients,
            "client_cpu_ms_per_request": 1000 * tally.cpu_seconds / max(len(tally.latencies), 1),
            "client_lag_p95": pct(0.95, lags) if tally.lags else float("nan"),
            "per_kind": {kind: {"requests": tally.count_by_kind[kind],
                                "p50": pct(0.5, tally.latencies_by_kind[kind]),
                                "p95": pct(0.95, tally.latencies_by_kind[kind]),
                                "bytes_per_screen_per_change": b / n / changes}
                         for kind, b in tally.bytes_by_kind.items()}}


def print_row(r: dict[str, Any]) -> None:
    requests = r.get("requests", 1)
    per_request = (f"{r['cpu_ms_per_request']:.2f} ms/request, " if requests
                   else "no requests: ")
    print(f"{r['screens']:>6} {r['rps']:>8.0f} {r['p50']:>7.1f} {r['p95']:>7.1f} "
          f"{r['p99']:>7.1f} {r['errors']:>6} {r['skipped']:>7} "
          f"{r['bytes_per_screen_per_change'] / 1024:>9.1f} "
          f"{'/'.join(map(str, r['cpu_per_worker'])):>12} "
          f"{'/'.join(map(str, r['rss_mb_per_worker'])):>12}  {r['writes']}"
          f"   (server CPU {per_request}"
          f"{r['cpu_ms_per_screen_second']:.2f} ms/screen/s, client CPU "
          f"{r['client_cpu']}%, load {r['load_average']:.1f})", flush=True)
    client = (f"{r['client_cpu_ms_per_request']:.2f} ms of CPU per request" if requests
              else "no requests")
    print(f"{'':>8}client: {r['clients']} process(es), {client}, "
          f"event loop late by {r['client_lag_p95']:.1f} ms at p95"
          + ("  <- CLIENT-LIMITED: the latencies include the client's own delay"
             if r["client_lag_p95"] > CLIENT_LAG_LIMIT_MS else ""), flush=True)
    if r.get("visible_pairs") and not r.get("distinct"):
        print(f"{'':>8}a new response visible on a screen: p50 {r['visible_p50']:.2f} s, p95 "
              f"{r['visible_p95']:.2f} s, max {r['visible_max']:.2f} s after its POST; "
              f"{r['visible_missed']} of {r['visible_pairs']} (write, screen) pairs not "
              "seen by the end", flush=True)
    if r.get("warmup"):
        print(f"{'':>8}warm-up ({r['warmup']:.0f} s, not counted above): "
              f"{r['warm_requests']} requests, p95 {r['warm_p95']:.1f} ms, "
              f"{r['warm_errors']} errors", flush=True)
    if r.get("served") or r.get("missed"):
        print(f"{'':>8}pushed answers: {r['served']} applied without a request, "
              f"{r['missed']} not matching the screen's parts (it polled)", flush=True)
    if r.get("served"):
        print(f"{'':>8}a pushed answer from its poll's read to the screen (read, views, parts, "
              f"push): p50 {r['pushed_p50']:.1f} ms, p95 {r['pushed_p95']:.1f} ms, p99 "
              f"{r['pushed_p99']:.1f} ms", flush=True)
    if r["errors"]:
        print(f"{'':>8}errors: {r['error_kinds']}", flush=True)
    if r.get("reconnects"):
        print(f"{'':>8}{r['reconnects']} idle connections closed by the server were reopened "
              "before a request (as a browser does)", flush=True)
    for kind, figures in r["per_kind"].items():
        what = "events  " if kind.startswith(f"GET {STREAM_PATH}") else "requests"
        print(f"{'':>8}{figures['requests']:>8} {what}, p50 {figures['p50']:7.1f} ms, "
              f"p95 {figures['p95']:7.1f} ms, "
              f"{figures['bytes_per_screen_per_change'] / 1024:6.2f} KB/screen/change: "
              f"{kind[:70]}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--screens", type=int, nargs="+", default=[100, 400, 1000])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured span per N")
    parser.add_argument("--warmup", type=float, default=10.0,
                        help="seconds the screens run before the measured span (they open, "
                             "connect and get their first answer together once)")
    parser.add_argument("--capture-seconds", type=float, default=45.0)
    parser.add_argument("--path", default="/tv?dwell=10", help="the screen to capture")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, help="the server's port (default: a free one)")
    parser.add_argument("--days", type=int, default=180, help="demo history to store")
    parser.add_argument("--postgres", help="a PostgreSQL URL (emptied!) instead of SQLite")
    parser.add_argument("--distinct", type=int, default=0,
                        help="screens show this many different data filters (window and "
                             "segments; 0: all show the captured screen's)")
    parser.add_argument("--clients", type=int, default=0,
                        help="client processes the screens are split over (0: one per 250 "
                             "screens, at most one per core)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    clients = {n: args.clients or min(os.cpu_count() or 1, -(-n // 250)) for n in args.screens}
    with tempfile.TemporaryDirectory(prefix="nps-bench-viewers-") as tmp:
        url = args.postgres or f"sqlite:///{Path(tmp) / 'bench.db'}"
        stored = prepare_store(url, args.days)
        port = args.port or free_port()
        proc = start_server(url, port, args.workers, tmp)
        try:
            writer = Writer(port)
            writer.start()
            asks, cold = capture(port, args.path, args.capture_seconds)
            writer.stop.set()
            print(f"{'PostgreSQL' if args.postgres else 'SQLite'}, {stored} responses stored, "
                  f"{args.workers} workers, {args.distinct or 'no'} distinct filters; "
                  f"captured {args.path} for {args.capture_seconds:.0f}"
                  f" s: cold load {len(cold)} requests,"
                  f" {sum(r.get('bytes', 0) for r in cold) / 1e6:.2f} MB on the wire;"
                  " steady asks:")
            for ask in asks:
                when = ("when the tick's stamp changes" if ask.triggered
                        else f"one stream, its changes fetched within {ask.spread:.1f} s"
                        if ask.stream
                        else f"every {ask.period:.2f} s (median gap {ask.median:.2f} s)")
                print(f"  {when} ({ask.count} seen): {ask.kind}")
            if not asks:
                raise SystemExit("the page made no repeated request: nothing to replay")
            print(f"\n{'screens':>6} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
                  f"{'errors':>6} {'skipped':>7} {'KB/chg':>9} {'CPU%/worker':>12} "
                  f"{'RSS MB':>12}  writes")
            results = []
            # Started before the writer thread runs; spawned, so no lock is copied held.
            with multiprocessing.get_context("spawn").Pool(max(clients.values())) as pool:
                for n in args.screens:
                    results.append(measure(port, proc, asks, n, args.seconds, args.distinct,
                                           pool, clients[n], args.warmup))
                    print_row(results[-1])
            lines = server_log(proc).splitlines()
            print(f"server log: {len(lines)} lines; last: {lines[-3:]}")
        finally:
            stop_server(proc)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
