"""The fault tests' tools: a cuttable TCP proxy, a served app whose store can be broken,
and the traffic of a wall, a /health monitor and posting clients."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, event, select, text

from app import tv
from app.services import get_services
from app.store import Store
from app.store.database import RESPONSES
from tests.conftest import POSTGRES_URL, wall_poll_body

TOKEN = "ingest-faults-0123456789"
ADMIN = "admin-faults-0123456789"
PORTS = range(9200, 9300)  # this worktree's ports

def bind_port(sock: socket.socket, port: int | None = None) -> int:
    """Bind ``sock`` on 127.0.0.1 to ``port`` or the first free one of PORTS."""
    for candidate in [port] if port else PORTS:
        try:
            sock.bind(("127.0.0.1", candidate))
            return candidate
        except OSError:
            continue
    raise RuntimeError("no free port in 9200-9299")


class TcpProxy:
    """127.0.0.1:<port> → PostgreSQL, which the test can cut (connections refused) and restore."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5432)):
        self.target = target
        self.port = 0
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        """Listen (again, on the same port) and forward every new connection."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.port = bind_port(listener, self.port or None)
        listener.listen(64)
        listener.settimeout(0.1)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Close the listener and every forwarded connection, as a dead network would."""
        listener, self._listener = self._listener, None
        listener.close()
        with self._lock:
            for sock in self._sockets:
                _close(sock)
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(src, dst), daemon=True).start()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    _close(src)
    _close(dst)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


@contextmanager
def hold_lock(db_url: str, table: str = "responses") -> Iterator[None]:
    """Another connection holds ``table`` (PostgreSQL) or the whole file (SQLite)."""
    if db_url.startswith("sqlite:///"):
        conn = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    engine = create_engine(db_url)
    with engine.connect() as conn:
        conn.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
        try:
            yield
        finally:
            conn.rollback()
    engine.dispose()


@dataclass
class Live:
    """A served app on the store under test, and how to break that store."""

    url: str
    dash_app: object
    db_url: str
    proxy: TcpProxy | None
    data_dir: Path

    @property
    def store(self) -> Store:
        return get_services(self.dash_app).store

    @contextmanager
    def unreachable(self) -> Iterator[None]:
        """PostgreSQL: the network cut. SQLite: the file's folder gone (a lost mount)."""
        if self.proxy is not None:
            self.proxy.cut()
            try:
                yield
            finally:
                self.proxy.restore()
            return
        away = self.data_dir.with_name("gone")
        self.data_dir.rename(away)
        self.store.engine.dispose()  # open files would survive a rename; new ones fail
        try:
            yield
        finally:
            away.rename(self.data_dir)

    @contextmanager
    def refusing_writes(self, kind: str) -> Iterator[None]:
        """Every new connection read-only, or (SQLite) the file full at its current size."""
        def fault(dbapi_conn, _record) -> None:
            cursor = dbapi_conn.cursor()
            if self.store.dialect == "postgresql":
                cursor.execute("SET default_transaction_read_only = on")  # this session only
                dbapi_conn.commit()
            elif kind == "full":
                pages = cursor.execute("PRAGMA page_count").fetchone()[0]
                cursor.execute(f"PRAGMA max_page_count = {pages}")
            else:
                cursor.execute("PRAGMA query_only = ON")
            cursor.close()

        engine = self.store.engine
        event.listen(engine, "connect", fault)
        engine.dispose()
        try:
            yield
        finally:
            event.remove(engine, "connect", fault)
            engine.dispose()

    def locked(self, table: str = "responses"):
        """Another connection holds ``table`` (PostgreSQL) or the whole file (SQLite)."""
        return hold_lock(self.db_url if self.proxy is None else POSTGRES_URL, table)



def free_port() -> int:
    with socket.socket() as probe:
        return bind_port(probe)



# -- clients -------------------------------------------------------------------------------------

def request(url: str, body: bytes | None = None, headers: dict | None = None,
            method: str | None = None, timeout: float = 60) -> tuple[int, dict, bytes, float]:
    """(status, headers, body, seconds) for any status."""
    req = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as reply:
            return reply.status, dict(reply.headers), reply.read(), time.perf_counter() - started
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read(), time.perf_counter() - started


def post_batch(base: str, key: str, markers: list[str]) -> tuple[int, dict, bytes, float]:
    """POST responses without external ids, each comment a marker, under an Idempotency-Key."""
    items = [{"score": 9, "comment": f"fine {m}"} for m in markers]
    return request(f"{base}/api/v1/responses", json.dumps(items).encode(),
                   {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}",
                    "Idempotency-Key": key})


def wall_body(state: dict | None) -> bytes:
    """The body a wall's poll sends to /_dash-update-component."""
    return json.dumps(wall_poll_body({"query": {}}, state)).encode()


@dataclass
class Traffic:
    """A wall, a /health monitor and posting clients, each on its own thread, all recorded."""

    base: str
    clients: int = 3
    batch: int = 5
    wall: list[tuple[int, float, str | None]] = field(default_factory=list)
    wall_times: list[tuple[float, float]] = field(default_factory=list)
    health: list[tuple[float, int, dict, float]] = field(default_factory=list)
    posts: list[tuple[str, list[str], int, dict, bytes]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        self._threads = [threading.Thread(target=self._wall, daemon=True),
                         threading.Thread(target=self._health, daemon=True),
                         *(threading.Thread(target=self._client, args=(n,), daemon=True)
                           for n in range(self.clients))]
        for thread in self._threads:
            thread.start()

    def _wall(self) -> None:
        state = None
        while not self.stop.wait(0.25):
            at = time.monotonic()
            status, _, body, seconds = request(f"{self.base}/_dash-update-component",
                                               wall_body(state),
                                               {"Content-Type": "application/json"})
            error = None
            if status == 200:
                sent = json.loads(body)["response"]
                state = sent.get(tv.IDS.state, {}).get("data", state)
                error = sent[tv.IDS.status]["data"]["error"]
            self.wall.append((status, seconds, error))
            self.wall_times.append((at, seconds))

    def _health(self) -> None:
        while not self.stop.wait(0.25):
            status, _, body, seconds = request(f"{self.base}/health")
            self.health.append((time.monotonic(), status, json.loads(body), seconds))

    def _client(self, n: int) -> None:
        sent = 0
        while not self.stop.wait(0.2):
            key, markers = str(uuid.uuid4()), [f"c{n}-{sent}-{i}" for i in range(self.batch)]
            sent += 1
            status, headers, body, _ = post_batch(self.base, key, markers)
            self.posts.append((key, markers, status, headers, body))

    def finish(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=90)

    def acked(self) -> set[str]:
        return {m for _, markers, status, _, _ in self.posts if status < 300 for m in markers}

    def refused(self) -> list[tuple[str, list[str], int, dict, bytes]]:
        return [post for post in self.posts if post[2] >= 300]


def stored_markers(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        comments = conn.execute(select(RESPONSES.c.comment)).scalars().all()
    return [c.removeprefix("fine ") for c in comments if c and c.startswith("fine ")]


def wait_for(check: Callable[[], bool], seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False

def figures(traffic: Traffic) -> str:
    walls = sorted(s for _, s, _ in traffic.wall)
    healths = sorted(h[3] for h in traffic.health)
    return (f"wall max {walls[-1] * 1000:.0f} ms p50 {walls[len(walls) // 2] * 1000:.0f} ms "
            f"({len(walls)}), health max {healths[-1] * 1000:.0f} ms ({len(healths)}), "
            f"posts {len(traffic.posts)}, refused {len(traffic.refused())}")
