"""Stalled clients cannot freeze the server: a real ``nps-tv serve`` (gunicorn) on its own and
behind a real nginx running the shipped docs/deploy/nginx.conf."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.arrival import Refused, Scan
from app.config import Settings
from app.server import gunicorn_options
from app.wsgi import (
    HEAD_TIMEOUT,
    KEEPALIVE_SECONDS,
    SEND_TIMEOUT,
    WORKER_CONNECTIONS,
    RedactingLogger,
    WallConn,
    WallWorker,
    request_complete,
)
from tests.conftest import free_port, write_nginx_main
from tests.servers import ROOT, get_health, start_nginx, start_serve, stop

NGINX_CONF = ROOT / "docs" / "deploy" / "nginx.conf"
STALLED = 64
INGEST = "front-door-ingest-token-0123456789abcdef"
STALL_KINDS = {
    "idle": b"",  # connects and never sends a byte
    "partial-line": b"GET /hea",
    "partial-headers": b"GET /health HTTP/1.1\r\nHost: wall\r\nUser-Agent: slow",
    "partial-body": (b"POST /api/v1/responses HTTP/1.1\r\nHost: wall\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"score\": "),
    # a chunked body that stops (any route: a GET may say it sends one too)
    "chunked-body": (b"POST /api/v1/webhooks/delighted?token=x HTTP/1.1\r\nHost: wall\r\n"
                     b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"9\r\n{\"score\":"),
    "chunked-none": b"GET /health HTTP/1.1\r\nHost: wall\r\nTransfer-Encoding: chunked\r\n\r\n",
}










def open_stalled(port: int, kind: str, count: int = STALLED) -> list[socket.socket]:
    """``count`` connections that send the start of a request (or nothing) and then stall."""
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if STALL_KINDS[kind]:
            sock.sendall(STALL_KINDS[kind])
        socks.append(sock)
    return socks


def close_all(socks: list[socket.socket]) -> None:
    for sock in socks:
        sock.close()


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """``nps-tv serve`` (2 gunicorn workers x 8 threads, the defaults) as NPS TV runs behind the
    shipped proxy config; yields its port. One per module: starting one takes seconds."""
    proc, port = start_serve(tmp_path_factory.mktemp("serve"), PROXY_HOPS="1",
                             BUILD_ID="front-door-test", INGEST_TOKEN=INGEST)
    try:
        yield port
    finally:
        stop(proc)




def render_nginx_conf(prefix: Path, listen: int, upstream: int) -> Path:
    """The shipped site config with test ports and log path, inside a minimal main config."""
    site = NGINX_CONF.read_text()
    for old, new in (("listen 80;", f"listen 127.0.0.1:{listen};"),
                     ("server 127.0.0.1:8050;", f"server 127.0.0.1:{upstream};"),
                     ("/var/log/nginx/nps-tv.access.log", str(prefix / "access.log"))):
        assert old in site, f"{NGINX_CONF} no longer contains {old!r}: update this test"
        site = site.replace(old, new)
    (prefix / "nps-tv.conf").write_text(site)
    return write_nginx_main(prefix, prefix / "nps-tv.conf")


@pytest.fixture(scope="module")
def proxied(serve: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real nginx with the shipped config in front of ``serve``; yields nginx's port."""
    prefix = tmp_path_factory.mktemp("nginx")
    port = free_port()
    proc = start_nginx(prefix, render_nginx_conf(prefix, port, serve), port)
    try:
        yield port
    finally:
        stop(proc)


def assert_health_answers_while_stalled(port: int, kind: str) -> list[float]:
    socks = open_stalled(port, kind)
    try:
        results = [get_health(port) for _ in range(3)]
    finally:
        close_all(socks)
    print(f"/health with {STALLED} stalled ({kind}) on port {port}: "
          + ", ".join(f"{seconds * 1000:.1f} ms" for _, seconds in results))
    assert [status for status, _ in results] == [200, 200, 200]
    # The requirement: /health keeps answering within 1 s.
    assert max(seconds for _, seconds in results) < 1.0, results
    return [seconds for _, seconds in results]


@pytest.mark.parametrize("kind", list(STALL_KINDS))
def test_health_answers_within_a_second_behind_nginx_with_64_stalled_connections(proxied, kind):
    assert_health_answers_while_stalled(proxied, kind)


@pytest.mark.parametrize("kind", list(STALL_KINDS))
def test_health_answers_within_a_second_on_gunicorn_alone_with_64_stalled_connections(
        serve, kind):
    assert_health_answers_while_stalled(serve, kind)


def read_answer(sock: socket.socket) -> tuple[int, bytes]:
    """One HTTP/1.1 answer with a Content-Length from ``sock``: (status, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        body += chunk
    return int(head.split()[1]), body[:length]


def test_a_kept_alive_connection_is_answered_request_after_request(serve):
    """Each next request on a kept-alive connection is read as soon as it is readable
    (WallWorker.on_client_socket_readable). Not pipelined: gunicorn 27.0.1's gthread itself
    closes the connection after the first of two requests sent in one go, now and then (23
    of 300 tries on a bare WSGI app); browsers do not pipeline."""
    request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", serve), timeout=10) as sock:
        for _ in range(5):
            sock.sendall(request)
            assert read_answer(sock)[0] == 200
            time.sleep(0.05)  # idle between asks, as a wall's connection is


def test_a_kept_alive_connection_that_stalls_mid_request_is_dropped(serve):
    """The next request on a kept-alive connection has the same deadline as a first one."""
    with socket.create_connection(("127.0.0.1", serve), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert read_answer(sock)[0] == 200
        sock.sendall(STALL_KINDS["partial-headers"])
        sock.settimeout(HEAD_TIMEOUT + 10)
        started = time.monotonic()
        assert sock.recv(1024) == b""  # closed by the server, no answer
        assert time.monotonic() - started < HEAD_TIMEOUT + 5


def test_a_connection_takes_its_keep_alive_from_the_worker():
    with socket.socket() as sock:
        conn = WallConn(None, sock, ("127.0.0.1", 1), ("127.0.0.1", 2), keepalive=3.0)
        before = time.monotonic()
        conn.set_timeout()
        assert before + 3.0 <= conn.timeout <= time.monotonic() + 3.0


def test_gunicorn_drops_a_request_that_does_not_arrive_in_time(serve):
    socks = open_stalled(serve, "partial-headers", count=4)
    try:
        deadline = time.monotonic() + HEAD_TIMEOUT + 10
        open_ = list(socks)
        while open_ and time.monotonic() < deadline:
            for sock in list(open_):
                sock.settimeout(0.2)
                try:
                    if sock.recv(1024) == b"":
                        open_.remove(sock)
                except TimeoutError:
                    pass
        assert open_ == [], f"{len(open_)} stalled connections still open"
    finally:
        close_all(socks)


# The largest answer anyone may ask for: plotly's bundle (4.8 MB) without gzip, more than the
# socket buffers take, so a thread writing it to a client that reads nothing waits.
BIG_ANSWER = b"GET /_dash-component-suites/plotly/package_data/plotly.min.js HTTP/1.1\r\n"
BIG_ANSWER_BYTES = 4_000_000  # at least; the bundle's whole answer is longer


def bytes_until_closed(sock: socket.socket) -> int:
    """Read ``sock`` until the server closes it, or it stays silent for 3 s; bytes read."""
    sock.settimeout(3)
    total = 0
    try:
        while chunk := sock.recv(1 << 20):
            total += len(chunk)
    except (TimeoutError, ConnectionResetError):
        pass
    return total


def ask_big_and_read_nothing(port: int, count: int, socks: list[socket.socket]) -> None:
    """``count`` clients (added to ``socks``) that ask for the bundle and never read."""
    for _ in range(count):
        sock = socket.socket()
        socks.append(sock)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.sendall(BIG_ANSWER + f"Host: 127.0.0.1:{port}\r\n\r\n".encode())


def test_clients_that_stop_reading_are_dropped_and_free_their_threads(tmp_path):
    """Clients ask for the plotly bundle and read nothing. What their sockets do not take
    waits in the worker's event loop (``app.departure``); once it has moved nothing for
    SEND_TIMEOUT, neither by the loop's sends nor out of the kernel's queue, the client is
    dropped with one line and gets a cut answer. (Before, each thread wrote with blocking
    sends and no deadline, and 16 such clients froze /health, the wall and the webhooks.)"""
    proc, port = start_serve(tmp_path, BUILD_ID="slow-reader-test")
    socks: list[socket.socket] = []
    try:
        ask_big_and_read_nothing(port, 8, socks)
        log = tmp_path / "serve.log"
        deadline = time.monotonic() + 12 * SEND_TIMEOUT
        while log.read_text().count("stalled for") < len(socks):
            assert time.monotonic() < deadline, (
                "clients that stopped reading still hold their threads:\n" + log.read_text())
            time.sleep(0.5)
        received = [bytes_until_closed(sock) for sock in socks]
        assert all(0 < n < BIG_ANSWER_BYTES for n in received), received
        assert get_health(port)[0] == 200
    finally:
        close_all(socks)
        stop(proc)


def test_clients_that_read_nothing_hold_no_thread_while_their_answers_wait(tmp_path):
    """Forty clients ask for the plotly bundle and read nothing: more than the 16 threads of
    both workers. A thread wrote its answer with blocking sends, so sixteen such clients held
    every thread until their sends gave up (20-45 s each time), and /health waited. Now what
    a client has not taken waits in the worker's event loop (``app.departure``), and /health
    answers at once while every one of those answers is still held."""
    proc, port = start_serve(tmp_path, BUILD_ID="departure-test")
    socks: list[socket.socket] = []
    try:
        ask_big_and_read_nothing(port, 40, socks)
        time.sleep(1.0)  # every request has arrived and been answered into the loop
        timings = [get_health(port) for _ in range(10)]
        print(f"/health with 40 clients not reading 4.8 MB answers: {timings}")
        assert all(status == 200 for status, _ in timings), timings
        assert max(seconds for _, seconds in timings) < 1.0, timings
        assert "stalled for" not in (tmp_path / "serve.log").read_text()  # none dropped yet
    finally:
        close_all(socks)
        stop(proc)


def test_clients_that_ask_to_close_and_keep_their_socket_open_do_not_stall_the_worker(serve):
    """Ten clients send ``Connection: close`` and never close their end. gthread closed each
    such connection with a read that waited up to 2 s on the worker's event loop (its
    close_graceful), so /health waited 2 s for each; the loop now lingers without waiting."""
    socks = []
    try:
        for _ in range(10):
            sock = socket.create_connection(("127.0.0.1", serve), timeout=5)
            socks.append(sock)
            sock.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{serve}\r\n"
                         "Connection: close\r\n\r\n".encode())
        time.sleep(0.3)
        timings = [get_health(serve) for _ in range(5)]
        assert all(status == 200 for status, _ in timings), timings
        assert max(seconds for _, seconds in timings) < 1.0, timings
        assert all(sock.recv(65536).startswith(b"HTTP/1.1 200") for sock in socks)
    finally:
        close_all(socks)


def test_a_slowly_read_answer_arrives_whole_and_the_connection_stays_alive(serve):
    """A client that reads a large answer slowly gets every byte, in order, and its kept-alive
    connection then answers its next request: the loop wrote what the thread could not send
    at once, then went on as gunicorn does."""
    whole = http.client.HTTPConnection("127.0.0.1", serve, timeout=10)
    whole.request("GET", BIG_ANSWER.split()[1].decode())
    expected = whole.getresponse().read()
    whole.close()
    assert len(expected) > BIG_ANSWER_BYTES
    sock = socket.create_connection(("127.0.0.1", serve), timeout=10)
    # A small window: the socket's buffers take some 4 MB of the answer, the loop the rest.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    try:
        sock.sendall(BIG_ANSWER + f"Host: 127.0.0.1:{serve}\r\n\r\n".encode())
        time.sleep(1.5)  # the thread is done long before the client reads
        received = bytearray()
        while b"\r\n\r\n" not in received:
            received += sock.recv(65536)
        head, _, body = bytes(received).partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        body = bytearray(body)
        while len(body) < length and (chunk := sock.recv(256 * 1024)):
            body += chunk
        assert bytes(body) == expected
        sock.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{serve}\r\n\r\n".encode())
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    finally:
        sock.close()


def test_requests_through_nginx_are_served_whole(proxied):
    conn = http.client.HTTPConnection("127.0.0.1", proxied, timeout=10)
    try:
        conn.request("POST", "/_dash-update-component", body=b"x" * 300_000,
                     headers={"Content-Type": "application/json"})
        too_large = conn.getresponse()
        body = too_large.read()
        conn.request("GET", "/health")  # the same kept-alive connection
        health = conn.getresponse()
        health.read()
    finally:
        conn.close()
    assert too_large.status == 413 and b"the limit is 200000 bytes" in body
    assert health.status == 200


def test_a_chunked_body_sent_in_pieces_is_collected_and_answered_whole(serve):
    """The event loop collects a chunked body across reads to its last chunk, then the route
    reads it whole: a response with a bad score is judged by the route (a 400 naming the
    field), not cut short or left waiting."""
    body = b'{"score": 11, "external_id": "chunked-1"}'
    pieces = [b"POST /api/v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Authorization: Bearer " + INGEST.encode() + b"\r\n"
              b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
              b"%x\r\n%s\r\n" % (8, body[:8]), b"%x\r\n%s\r\n" % (len(body) - 8, body[8:]),
              b"0\r\n\r\n"]
    with socket.create_connection(("127.0.0.1", serve), timeout=10) as sock:
        for piece in pieces:
            sock.sendall(piece)
            time.sleep(0.2)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b'"path":"score"' in answer.replace(b" ", b""), answer[-300:]


def test_a_chunked_body_is_scanned_once_as_it_arrives():
    """Each read parsed the chunks from the first byte: a body of one-byte chunks cost the
    event loop time growing with the square of its size (43 s of CPU for 1 MB). The scan now
    goes on from where it stopped, and a body of more chunks than any client sends is refused."""
    head = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    whole = head + b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    scan = Scan()
    seen = [request_complete(whole[:n], 1000, scan) for n in range(len(head), len(whole) + 1)]
    assert seen[-1] is True and not any(seen[:-1])
    assert scan.body == 11 and scan.chunks == 2
    data, scan, started = bytearray(head), Scan(), time.process_time()
    with pytest.raises(Refused, match="more than 16,384 chunks"):
        for _ in range(100):  # one-byte chunks, 64 KB a read
            data += b"1\r\nx\r\n" * 10_923
            request_complete(bytes(data), 2_000_000, scan)
    assert time.process_time() - started < 1.0


def test_too_many_chunks_are_answered_400_by_the_worker(serve):
    with socket.create_connection(("127.0.0.1", serve), timeout=10) as sock:
        sock.sendall(b"POST /api/v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n" + b"1\r\nx\r\n" * 17_000)
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400") and b"more than 16,384 chunks" in answer
    assert get_health(serve)[0] == 200


@pytest.mark.parametrize(("data", "complete"), [
    (b"", False),
    (b"GET / HTTP/1.1\r\nHost: x\r\n", False),
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True),
    (b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab", False),
    (b"POST / HTTP/1.1\r\ncontent-length:4\r\n\r\nabcd", True),
    (b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", True),  # over the limit: the app
    # chunked: collected to its last chunk (a client stalling inside held a thread for ever)
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", False),
    (b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n4\r\nabcd\r\n", False),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4;x=1\r\nabcd\r\n0\r\n\r\n", True),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n", False),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffff\r\n" + b"a" * 1001, True),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", True),  # malformed: the
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd", True),  # parser says so
    (b"GET /" + b"a" * 70_000, True),  # too long a head: gunicorn's parser refuses it
])
def test_request_complete_waits_for_head_and_declared_body(data, complete):
    assert request_complete(data, body_limit=1000) is complete


def test_procfile_runs_gunicorn_with_the_same_front_door_settings_as_serve():
    import shlex

    from gunicorn.config import Config

    line = (ROOT / "Procfile").read_text().strip().removeprefix("web: ")
    argv = shlex.split(line.replace("${NPS_TV_WORKERS:-2}", "2")
                       .replace("${NPS_TV_THREADS:-8}", "8").replace("$PORT", "9400"))
    assert argv[0] == "gunicorn"
    cfg = Config()
    parsed = cfg.parser().parse_args(argv[1:])  # the installed gunicorn knows every flag
    for key, value in vars(parsed).items():
        if key != "args" and value is not None:
            cfg.set(key, value)
    serve = gunicorn_options(Settings())
    assert issubclass(cfg.worker_class, WallWorker)
    assert issubclass(serve["worker_class"], WallWorker)
    assert cfg.keepalive == serve["keepalive"] == KEEPALIVE_SECONDS
    assert cfg.control_socket_disable is serve["control_socket_disable"] is True
    assert cfg.timeout == serve["timeout"]
    assert cfg.worker_connections == serve["worker_connections"] == WORKER_CONNECTIONS
    assert cfg.logger_class is RedactingLogger and serve["logger_class"] is RedactingLogger
    assert cfg.env == {"NPS_TV_HOST": "0.0.0.0"}  # so the default access mode is links
