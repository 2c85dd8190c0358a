"""A thread's answer leaves without waiting for its client (``app.departure``): what the socket
does not take at once is held for the worker's event loop, within a budget, and the loop drops
a client only when it takes nothing at all for ``SEND_TIMEOUT``."""

from __future__ import annotations

import hashlib
import logging
import selectors
import socket
import threading
import time
from collections import deque
from types import SimpleNamespace

import pytest

from app.departure import (
    ANSWER_HELD_MAX,
    LINGER,
    PRESSURE_WAIT,
    SEND_TIMEOUT,
    SHED_AFTER,
    Budget,
    Crowded,
    Departing,
    DepartingAnswers,
    drain,
    queued,
)

ANSWER = bytes(range(256)) * 12_000  # 3 MB: more than a socket pair's buffers take


def pair() -> tuple[socket.socket, socket.socket]:
    """A server's and a client's end of a TCP connection on 127.0.0.1, small buffers."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        client.connect(listener.getsockname())
        server, _ = listener.accept()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    return server, client


def read_some(sock: socket.socket) -> bytes:
    """What has arrived on ``sock`` by now (a slow reader's one read of its buffer)."""
    time.sleep(0.05)
    sock.setblocking(False)
    got = bytearray()
    try:
        while chunk := sock.recv(1 << 20):
            got += chunk
    except BlockingIOError:
        pass
    sock.setblocking(True)
    time.sleep(0.05)  # the window update reaches the sender
    return bytes(got)


def read_all(sock: socket.socket, size: int) -> bytes:
    got = bytearray()
    while len(got) < size and (chunk := sock.recv(1 << 20)):
        got += chunk
    return bytes(got)


def test_a_send_to_a_client_that_reads_nothing_returns_at_once_and_holds_the_rest():
    server, client = pair()
    budget = Budget(64 * 2**20)
    departing = Departing(server, budget)
    started = time.monotonic()
    departing.sendall(ANSWER[:100])
    departing.sendall(ANSWER)
    assert time.monotonic() - started < 0.5  # a blocking send would wait for the client
    assert departing.bytes == budget.held == sum(len(p) for p in departing.held) > 0
    # The loop's side: what the socket takes as the client reads, in order, nothing lost.
    received = bytearray()
    server.setblocking(False)
    while departing.held:
        drain(departing.held, server)
        received += client.recv(1 << 20)
    received += read_all(client, 100 + len(ANSWER) - len(received))
    assert bytes(received) == ANSWER[:100] + ANSWER


def test_past_the_budget_the_client_is_dropped_not_waited_on():
    """Blocking sends past the budget let a few dozen sockets hold every thread again."""
    server, _client = pair()
    budget = Budget(len(ANSWER) + len(ANSWER) // 2)
    departing = Departing(server, budget)
    departing.sendall(ANSWER)  # the socket takes some, the rest is held
    assert departing.held
    started = time.monotonic()
    with pytest.raises(Crowded, match="fill the worker's"):
        departing.sendall(ANSWER)  # no room comes: dropped after PRESSURE_WAIT
    assert time.monotonic() - started < PRESSURE_WAIT + 1
    assert not departing.held and departing.bytes == 0 and budget.held == 0


def test_what_is_held_is_what_stays_in_memory():
    """A view of an answer's tail kept the whole answer alive, counted as its tail."""
    server, _client = pair()
    budget = Budget()
    departing = Departing(server, budget)
    departing.sendall(ANSWER)
    assert sum(len(piece.obj) for piece in departing.held) == budget.held < len(ANSWER)


def test_queued_tells_what_the_kernel_still_holds():
    server, client = pair()
    server.setblocking(False)
    server.send(ANSWER)
    time.sleep(0.05)
    before = queued(server)
    assert before > 0  # more than the client's buffer takes, nothing read yet
    assert read_some(client)
    assert queued(server) < before


class Loop(DepartingAnswers):
    """The worker's side without gunicorn: a poller, a log and the counters it keeps."""

    def __init__(self):
        self.poller = selectors.DefaultSelector()
        self.log = logging.getLogger("departure-test")
        self.budget, self.departing_conns, self.nr_conns = Budget(), [], 1
        self.lingering: deque = deque()


def departing_conn(loop: Loop) -> tuple[SimpleNamespace, socket.socket, list]:
    server, client = pair()
    conn = SimpleNamespace(sock=server, client=("203.0.113.9", 1), asked="GET /big")
    finished: list[bool] = []
    loop.answer_through(conn).sendall(ANSWER)
    loop.answered(conn)
    assert conn.sock is server
    assert loop.depart(conn, lambda: finished.append(True))
    time.sleep(0.1)  # what was in flight on the loopback has arrived: the queue is settled
    conn.queued = queued(server)
    return conn, client, finished


def test_the_loop_drops_a_client_that_takes_nothing(caplog):
    loop = Loop()
    conn, _client, finished = departing_conn(loop)
    conn.timeout = time.monotonic() - 1  # SEND_TIMEOUT has passed
    with caplog.at_level(logging.WARNING, "departure-test"):
        loop.murder_departing()
    assert conn.sock.fileno() == -1 and not finished and loop.departing_conns == []
    assert loop.budget.held == 0 and loop.nr_conns == 0
    assert f"dropped GET /big for 203.0.113.9: it stalled for {SEND_TIMEOUT:g} s" in caplog.text


def test_the_loop_keeps_a_client_that_reads_slowly_and_finishes_it():
    loop = Loop()
    conn, client, finished = departing_conn(loop)
    received = bytearray(read_some(client))  # a slow reader: the kernel's queue shrank,
    assert received  # the loop sent nothing
    conn.timeout = time.monotonic() - 1
    loop.murder_departing()
    assert conn.sock.fileno() != -1 and loop.departing_conns == [conn]
    assert conn.timeout > time.monotonic() + SEND_TIMEOUT - 1
    while not finished:
        for key, _ in loop.poller.select(0.1):
            key.data(key.fileobj)
        received += client.recv(1 << 20)
    received += read_all(client, len(ANSWER) - len(received))
    assert bytes(received) == ANSWER
    assert finished == [True] and conn.sock.fileno() != -1 and loop.budget.held == 0


def test_an_answer_the_socket_took_whole_is_finished_at_once():
    loop = Loop()
    server, client = pair()
    conn = SimpleNamespace(sock=server, client=None)
    loop.answer_through(conn).sendall(b"small")
    loop.answered(conn)
    assert loop.depart(conn, lambda: None) is False  # gthread finishes it as before
    assert loop.budget.held == 0 and loop.departing_conns == []
    assert client.recv(10) == b"small"


def test_a_full_budget_asks_the_loop_for_room_and_takes_what_it_frees():
    budget = Budget(100)
    assert budget.take(80)
    asked: list[bool] = []

    def on_pressure() -> None:  # the loop drops a stalled answer of 80 bytes, soon after
        asked.append(True)
        if len(asked) == 1:
            threading.Timer(0.2, budget.give, (80,)).start()

    budget.on_pressure = on_pressure
    started = time.monotonic()
    assert budget.take(50, wait=5)  # room once the loop dropped a stalled answer
    assert asked and time.monotonic() - started < 2 and budget.held == 50
    assert not budget.take(60, wait=0.3)  # no room comes: the thread writes it itself
    assert not budget.take(101, wait=5)  # never fits: at once


def test_under_pressure_the_loop_drops_answers_that_took_nothing_and_keeps_readers(caplog):
    loop = Loop()
    stalled, _quiet, _ = departing_conn(loop)
    reading, client, _ = departing_conn(loop)
    for conn in (stalled, reading):  # both made no send for longer than SHED_AFTER
        conn.timeout = time.monotonic() + SEND_TIMEOUT - SHED_AFTER - 0.1
    assert read_some(client)  # but this one's client reads: the kernel's queue shrank
    with caplog.at_level(logging.WARNING, "departure-test"):
        loop.shed()
    assert stalled.sock.fileno() == -1 and reading.sock.fileno() != -1
    assert loop.departing_conns == [reading]
    assert f"it stalled for {SHED_AFTER:g} s taking its answer, while answers held" in caplog.text


def test_an_answer_whose_socket_the_app_closed_mid_answer_is_not_departed():
    """gunicorn closes the socket when the app fails mid-answer: the loop's registering it
    raised EBADF and took the whole worker down with every stream and answer on it."""
    loop = Loop()
    server, _client = pair()
    conn = SimpleNamespace(sock=server, client=None)
    loop.answer_through(conn).sendall(ANSWER)  # held, then the app raises
    conn.sock.close()  # gunicorn's error path: util.close_graceful on it
    loop.answered(conn)
    assert loop.depart(conn, lambda: None) is False
    assert loop.budget.held == 0 and loop.departing_conns == []


def test_a_closing_connection_lingers_in_the_loop_without_waiting():
    """gthread's close_graceful read from the client for up to 2 s on the event loop."""
    loop = Loop()
    server, client = pair()
    conn = SimpleNamespace(sock=server, client=None)
    started = time.monotonic()
    loop.linger(conn)
    assert time.monotonic() - started < 0.1 and list(loop.lingering) == [conn]
    assert client.recv(10) == b""  # the server's end is shut: the client sees the end
    client.sendall(b"late bytes")  # read and dropped, so the kernel sends no reset
    for key, _ in loop.poller.select(1):
        key.data(key.fileobj)
    assert conn.drained == len(b"late bytes") and loop.nr_conns == 1
    conn.timeout = time.monotonic() - 1  # LINGER has passed: closed whole
    loop.murder_departing()
    assert not loop.lingering and loop.nr_conns == 0 and server.fileno() == -1
    assert LINGER <= 2


def test_a_client_that_closes_ends_its_lingering_at_once():
    loop = Loop()
    server, client = pair()
    conn = SimpleNamespace(sock=server, client=None)
    loop.linger(conn)
    client.close()
    for key, _ in loop.poller.select(1):
        key.data(key.fileobj)
    assert not loop.lingering and loop.nr_conns == 0


def test_a_long_streamed_answer_goes_at_its_clients_pace_and_arrives_whole():
    """A streamed export's generator ran ahead of its client (held bytes were never sent by
    the thread again), piled 64 MB up and was cut, for a client reading 10 MB/s."""
    server, client = pair()
    server.settimeout(SEND_TIMEOUT)
    budget = Budget(4 * ANSWER_HELD_MAX)
    departing = Departing(server, budget)
    chunk = bytes(range(256)) * 256  # 64 KB, as an export's pages
    count = 8 * ANSWER_HELD_MAX // len(chunk)  # 64 MB in all
    out: list[int] = []

    def reader() -> None:  # about 100 MB/s, in small reads
        total, digest = 0, hashlib.sha256()
        while total < count * len(chunk):
            got = client.recv(256 * 1024)
            if not got:
                break
            digest.update(got)
            total += len(got)
            time.sleep(0.001)
        out.append((total, digest.hexdigest()))

    thread = threading.Thread(target=reader)
    thread.start()
    most = 0
    for _ in range(count):
        departing.sendall(chunk)
        most = max(most, departing.bytes)
    server.settimeout(10)
    while departing.held:  # the loop's part: what is left when the app is done
        drain(departing.held, server)
    thread.join(30)
    assert out == [(count * len(chunk), hashlib.sha256(chunk * count).hexdigest())]
    assert most <= ANSWER_HELD_MAX  # never more held than one answer may have


def test_events_of_a_connection_ended_earlier_in_the_same_round_are_ignored():
    """``select`` hands a round of events at once: ``shed`` (from the pipe) could end a
    connection whose own event came later in the round, and its second end raised in the
    event loop and killed the worker."""
    loop = Loop()
    conn, _client, finished = departing_conn(loop)
    loop.end_departing(conn)  # as ``shed`` does
    loop.on_departing(conn, None)  # its stale writable event
    assert loop.departing_conns == [] and not finished and loop.nr_conns == 0
    server, _other = pair()
    lingering = SimpleNamespace(sock=server, client=None)
    loop.nr_conns = 1
    loop.linger(lingering)
    loop.end_lingering(lingering)
    loop.on_lingering(lingering, None)
    assert not loop.lingering and loop.nr_conns == 0
