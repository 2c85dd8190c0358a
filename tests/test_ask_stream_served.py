"""Tick streams on a real ``nps-tv serve`` (gunicorn, ``WallWorker``) and behind the shipped
nginx config: streams hold no thread, a new response reaches every stream within the poll
interval plus a second, and the proxy passes events at once (issue 13)."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.ask_stream import STREAM_PATH
from tests.conftest import INGEST_TOKEN, free_port
from tests.servers import start_nginx, start_serve, stop
from tests.test_front_door import render_nginx_conf

POLL_SECONDS = 1.0
THREADS = 2 * 8  # nps-tv serve's defaults: 2 workers x 8 threads
STREAMS = 3 * THREADS


def start_serving(tmp: Path) -> tuple[subprocess.Popen, int]:
    """``nps-tv serve`` (open, 1 s poll, streams on) with an ingest token, answering; and its
    port."""
    return start_serve(tmp, ACCESS="open", INGEST_TOKEN=INGEST_TOKEN,
                       POLL_SECONDS=str(POLL_SECONDS), BUILD_ID="stream-test",
                       ASK_STREAM="true")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    proc, port = start_serving(tmp_path_factory.mktemp("streams"))
    try:
        yield port
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def proxied_streams(served: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The shipped nginx config in front of ``served``; yields nginx's port."""
    prefix = tmp_path_factory.mktemp("nginx-streams")
    port = free_port()
    proc = start_nginx(prefix, render_nginx_conf(prefix, port, served), port)
    try:
        yield port
    finally:
        stop(proc)


class Stream:
    """One raw stream connection: its head, then its events as they come."""

    def __init__(self, port: int, query: str = "dwell=10"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(f"GET {STREAM_PATH}?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Accept: text/event-stream\r\n\r\n".encode())
        self.buffer, self.chunked = b"", False
        while b"\r\n\r\n" not in self.buffer:
            self.read()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        self.status = int(head.split()[1])
        self.headers = {line.split(b":", 1)[0].strip().lower().decode():
                        line.split(b":", 1)[1].strip().decode()
                        for line in head.split(b"\r\n")[1:] if b":" in line}
        # nginx passes the stream on in chunks (gunicorn sends it unframed, closed at its end)
        self.chunked = self.headers.get("transfer-encoding") == "chunked"
        self.raw, self.buffer = (self.buffer, b"") if self.chunked else (b"", self.buffer)
        self.dechunk()

    def read(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("the stream ended")
        if self.chunked:
            self.raw += data
            self.dechunk()
        else:
            self.buffer += data

    def dechunk(self) -> None:
        while b"\r\n" in self.raw:
            size_line, rest = self.raw.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            if len(rest) < size + 2:
                return
            self.buffer += rest[:size]
            self.raw = rest[size + 2:]

    def next_event(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            while b"\n\n" in self.buffer:
                block, self.buffer = self.buffer.split(b"\n\n", 1)
                if block.startswith(b"data: "):
                    tick, _, answer = block[len(b"data: "):].partition(b"\ndata: ")
                    self.answer = json.loads(answer) if answer else None  # the poll's
                    return json.loads(tick)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no event in time")
            self.sock.settimeout(left)
            self.read()

    def close(self) -> None:
        self.sock.close()


def timed_get(port: int, path: str) -> tuple[int, float]:
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    finally:
        conn.close()


def post_response(port: int, n: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/api/v1/responses", body=json.dumps(
            {"external_id": f"stream-{n}-{time.time_ns()}", "score": 3,
             "comment": "Told at once"}),
            headers={"Authorization": f"Bearer {INGEST_TOKEN}",
                     "Content-Type": "application/json"})
        assert conn.getresponse().status in (200, 201)
    finally:
        conn.close()


def test_streams_hold_no_thread_and_all_hear_a_new_response_within_poll_plus_a_second(served):
    streams = [Stream(served) for _ in range(STREAMS)]  # three times the server's threads
    try:
        first = [s.next_event(10) for s in streams]
        assert all(s.status == 200 for s in streams)
        assert streams[0].headers["content-type"].startswith("text/event-stream")
        assert streams[0].headers["connection"] == "close" and not streams[0].chunked
        assert "content-security-policy" in streams[0].headers
        assert len({e["stamp"] for e in first}) == 1
        # Every thread would be taken if streams held one: the server answers at once.
        for path in ("/health", "/api/v1/tick?dwell=10"):
            status, took = timed_get(served, path)
            assert status == 200 and took < 2.0, (path, took)
        old = first[0]["stamp"]
        post_response(served, 1)
        # The budget: a new response visible within the poll interval + 1 s (and this test's
        # second of slack for a loaded machine).
        deadline = time.monotonic() + POLL_SECONDS + 2.0
        for s in streams:
            while (tick := s.next_event(deadline - time.monotonic()))["stamp"] == old:
                pass  # a heartbeat or a poll with nothing new
            # ... with the poll's answer for the parts the screen had (app/poll_bytes.py)
            assert tick["push"]["from"] and s.answer["multi"] is True
            assert s.answer["response"]["tv-state"]["data"]["hashes"] != tick["push"]["from"]
    finally:
        for s in streams:
            s.close()
    # Streams whose pages left are dropped; the server goes on answering.
    time.sleep(1.5)
    assert timed_get(served, "/health")[0] == 200


def test_a_stream_through_nginx_arrives_unbuffered(proxied_streams):
    stream = Stream(proxied_streams)
    try:
        assert stream.status == 200
        first = stream.next_event(5)  # buffered by the proxy, it would not come at all
        post_response(proxied_streams, 2)
        deadline = time.monotonic() + POLL_SECONDS + 2.0
        while (tick := stream.next_event(deadline - time.monotonic()))["stamp"] == first["stamp"]:
            pass
        assert tick["push"] and stream.answer["response"]["tv-state"]  # the answer came whole
    finally:
        stream.close()


def test_a_stopping_server_ends_its_streams_rather_than_waiting_for_them(tmp_path):
    proc, port = start_serving(tmp_path)
    try:
        streams = [Stream(port) for _ in range(4)]
        for stream in streams:
            stream.next_event(10)
        proc.terminate()
        started = time.monotonic()
        for stream in streams:  # each page sees its stream end, and reconnects elsewhere
            with pytest.raises(EOFError):
                while True:
                    stream.next_event(8)
        proc.wait(timeout=15)
        # gunicorn would otherwise wait its graceful timeout (10 s) for the open connections
        assert time.monotonic() - started < 8
    finally:
        stop(proc)
