"""Answers leave through the worker's event loop when their client is slow to take them, so no
thread waits on a client that reads slowly or not at all.

A thread writes an answer through ``Departing`` (in place of the connection's socket): each
send takes what the socket takes at once, without waiting, and what it does not take is held
(the answer's own bytes, not a copy) for ``app.wsgi``'s worker to write as the socket drains
(``DepartingAnswers``, a mixin of the worker). The thread is free as soon as the app has made
its answer. Before, a thread wrote with blocking sends: sixteen anonymous sockets asking for
plotly's 4.8 MB bundle without gzip and reading nothing held every thread of both workers
until their sends gave up (``SO_SNDTIMEO``, which the kernel's growing send buffer stretched to
20-45 s), and /health, the wall and the webhooks waited that long, each time they asked again.

What a worker holds is bounded (``HELD_BYTES``, counting what stays in memory): when it is
full, a thread with more to hold waits a little while the loop drops the answers whose client
took nothing lately, and then drops its own client (``Crowded``) rather than wait on it. The
loop drops an answer whose client takes nothing for ``SEND_TIMEOUT`` seconds, with one warning
line; a client that keeps taking it (a TCP segment at least every ``SEND_TIMEOUT`` seconds: on
a real network 1.5 KB, on the loopback 64 KB) is not cut. A connection that closes after its
answer lingers in the loop too (``linger``), not in a blocking read on it.
"""

from __future__ import annotations

import fcntl
import selectors
import socket
import struct
import termios
import threading
import time
from collections import deque
from functools import partial
from typing import Any

# Seconds an answer may wait for its client to take any of it (nginx's send_timeout); past
# it the client is dropped with one log line.
SEND_TIMEOUT = 10.0
# Bytes of answers a worker holds for clients slow to take them: plotly's bundle without gzip
# (4.8 MB) thirteen times over. When they are held, a thread with more to hold waits
# (``PRESSURE_WAIT``) while the loop drops the answers whose client took nothing for
# ``SHED_AFTER`` seconds; if no room comes, its own client is dropped (``Crowded``): waiting
# on it with blocking sends let a few dozen sockets hold every thread again.
HELD_BYTES = 64 * 1024 * 1024
PRESSURE_WAIT = 2.0
# Bytes one answer may have held: past it the thread sends the rest at its client's pace (a
# streamed export's generator ran ahead of a client reading 10 MB/s and piled 64 MB up).
ANSWER_HELD_MAX = 8 * 1024 * 1024
SHED_AFTER = 1.0
# Seconds a closing connection may keep sending before it is closed whole (gunicorn's
# close_graceful, RFC 9112 section 9.6): the loop drains it meanwhile, it does not wait on it.
LINGER = 2.0
LINGER_BYTES = 65536


class Crowded(ConnectionError):
    """No room to hold an answer for a slow client: the worker drops it (the message says why)."""


class Budget:
    """The bytes a worker may hold for departing answers, shared by its threads and its loop;
    ``on_pressure`` (set by the worker) asks the loop to drop stalled answers for room."""

    def __init__(self, limit: int = HELD_BYTES):
        self.limit, self.held = limit, 0
        self.on_pressure: Any = None
        self._room = threading.Condition()

    def take(self, n: int, wait: float = 0.0) -> bool:
        """Take ``n`` bytes, waiting up to ``wait`` seconds for room; False without it."""
        deadline = time.monotonic() + wait
        with self._room:
            while self.held + n > self.limit:
                left = deadline - time.monotonic()
                if left <= 0 or n > self.limit:
                    return False
                if self.on_pressure is not None:
                    self.on_pressure()
                self._room.wait(min(left, SHED_AFTER / 4))
            self.held += n
            return True

    def give(self, n: int) -> None:
        with self._room:
            self.held -= n
            self._room.notify_all()


class Departing:
    """The connection's socket as a thread's answer sees it: ``sendall`` never waits while the
    budget lasts, for an answer of up to ``ANSWER_HELD_MAX`` held. Everything else is the
    socket's."""

    def __init__(self, sock: socket.socket, budget: Budget):
        self._sock, self._budget = sock, budget
        self.held: deque[memoryview] = deque()  # in order: the answer's bytes not yet sent
        self.sizes: deque[int] = deque()  # what each piece took from the budget
        self.bytes = 0  # held, and taken from the budget

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def sendall(self, data: bytes) -> None:
        view = memoryview(data).cast("B")
        self._flush()
        if not self.held:
            try:
                view = view[self._sock.send(view, socket.MSG_DONTWAIT):]
            except (BlockingIOError, InterruptedError):
                pass
            if not view:
                return
        if self.bytes + len(view) > ANSWER_HELD_MAX:
            self._write_through(view)  # a long streamed answer goes at its client's pace
            return
        if not self._budget.take(len(view), PRESSURE_WAIT):
            self.drop()
            raise Crowded(f"answers held for slow clients fill the worker's "
                          f"{self._budget.limit // 2**20} MB")
        # A copy unless it is the whole answer: what is held is then all that stays in memory
        # for it (a view of a tail kept the whole 4.8 MB bundle alive, counted as its tail).
        piece = view if type(data) is bytes and len(view) == len(data) else memoryview(
            bytes(view))
        self.held.append(piece)
        self.sizes.append(len(piece))
        self.bytes += len(piece)

    def _flush(self) -> None:
        """Send what the socket takes now of what is held, without waiting."""
        while self.held:
            piece = self.held[0]
            try:
                n = self._sock.send(piece, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return
            if n < len(piece):
                self.held[0] = piece[n:]
                return
            self._sent_first()

    def _sent_first(self) -> None:
        self.held.popleft()
        size = self.sizes.popleft()
        self._budget.give(size)
        self.bytes -= size

    def _write_through(self, view: memoryview) -> None:
        """What is held, then ``view``, with blocking sends: a streamed answer (an export)
        longer than ``ANSWER_HELD_MAX`` ahead of its client waits for it, as its generator
        would otherwise run ahead and pile the whole answer up here. A send that moves
        nothing for ``SEND_TIMEOUT`` gives up (SO_SNDTIMEO) and the client is dropped."""
        try:
            while self.held:
                self._sock.sendall(self.held[0])
                self._sent_first()
            self._sock.sendall(view)
        except OSError:  # nothing held may follow a cut piece
            self.drop()
            raise

    def drop(self) -> None:
        """Forget what is held (its client is dropped), giving its room back."""
        self._budget.give(self.bytes)
        self.bytes = 0
        self.held.clear()
        self.sizes.clear()

    def send(self, data: bytes, *flags: int) -> int:
        self.sendall(data)
        return len(data)


def queued(sock: socket.socket) -> int | None:
    """Bytes the kernel still holds to send on ``sock`` (``TIOCOUTQ``; None where it cannot
    tell). A socket is writable again only once its queue falls well below its buffer, which
    the kernel grows to megabytes: a slow reader empties it for many seconds with no send of
    the loop's moving anything, and counts as taking its answer by this."""
    try:
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]
    except (AttributeError, OSError):
        return None


def drain(held: deque[memoryview], sock: socket.socket) -> tuple[int, bool]:
    """Send what ``sock`` takes now from ``held`` (emptied as it goes): (bytes sent, whether
    the client is gone)."""
    sent = 0
    while held:
        piece = held[0]
        try:
            n = sock.send(piece)
        except (BlockingIOError, InterruptedError):
            return sent, False
        except OSError:
            return sent, True
        sent += n
        if n < len(piece):
            held[0] = piece[n:]
            return sent, False
        held.popleft()
    return sent, False


class DepartingAnswers:
    """The worker's side (mixed into ``app.wsgi.WallWorker``): ``answer_through`` wraps a
    thread's connection, ``depart`` hands what it held to the event loop, which writes it as
    the socket drains and then finishes the connection as gthread would (kept alive, or
    closed)."""

    budget: Budget

    def answer_through(self, conn: Any) -> Departing:
        """Make the thread's answer on ``conn`` go through a ``Departing`` socket."""
        departing = Departing(conn.sock, self.budget)
        conn.real_sock, conn.sock, conn.departing = conn.sock, departing, departing
        return departing

    def answered(self, conn: Any) -> None:
        """The thread is done with ``conn``: its own socket back (what was held stays held)."""
        real = getattr(conn, "real_sock", None)
        if real is not None:
            conn.sock, conn.real_sock = real, None

    def take_held(self, conn: Any) -> bytes:
        """What ``conn``'s answer left held, taken from it (a tick stream writes it first)."""
        departing = getattr(conn, "departing", None)
        conn.departing = None
        if departing is None:
            return b""
        data = b"".join(departing.held)
        departing.drop()
        return data

    def depart(self, conn: Any, finish: Any) -> bool:
        """Write what ``conn``'s answer left held, from the loop, then ``finish()``; False
        when nothing is held, or its socket is closed already (the app failed mid-answer and
        gunicorn closed it): finish at once."""
        departing = getattr(conn, "departing", None)
        conn.departing = None
        if departing is None or not departing.held or conn.sock.fileno() < 0:
            if departing is not None:
                departing.drop()
            return False
        conn.sock.setblocking(False)
        conn.held, conn.held_bytes, conn.finish = departing.held, departing.bytes, finish
        conn.timeout, conn.queued = time.monotonic() + SEND_TIMEOUT, queued(conn.sock)
        self.departing_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_WRITE,
                             partial(self.on_departing, conn))
        return True

    def on_departing(self, conn: Any, _sock: Any) -> None:
        if conn.held is None:  # ended by ``shed`` earlier in the same round of events
            return
        sent, gone = drain(conn.held, conn.sock)
        if gone:
            self.end_departing(conn)
            return
        if sent:
            conn.timeout, conn.queued = time.monotonic() + SEND_TIMEOUT, queued(conn.sock)
        if not conn.held:  # all of it sent: on as the thread's own answer would go
            self.end_departing(conn, finished=True)

    def end_departing(self, conn: Any, finished: bool = False) -> None:
        self.departing_conns.remove(conn)
        self.budget.give(conn.held_bytes)
        conn.held = None
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        if finished:
            conn.finish()
        else:
            self.close_now(conn)

    def close_now(self, conn: Any) -> None:
        self.nr_conns -= 1
        try:
            conn.sock.close()
        except OSError:
            pass

    def linger(self, conn: Any) -> None:
        """Close ``conn`` after its answer as gunicorn's ``close_graceful`` does (its end of
        the connection first, then what the client still sends is read and dropped, for
        ``LINGER`` seconds at most, so the kernel does not reset the answer's last bytes),
        but from the loop without waiting: gthread waited in a blocking read on the event
        loop, and ten clients that sent ``Connection: close`` and kept their socket open
        froze the worker for 2 s each."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            conn.sock.setblocking(False)
        except OSError:
            self.close_now(conn)
            return
        conn.timeout, conn.drained = time.monotonic() + LINGER, 0
        self.lingering.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_lingering, conn))

    def on_lingering(self, conn: Any, _sock: Any) -> None:
        if conn not in self.lingering:  # closed earlier in the same round of events
            return
        try:
            data = conn.sock.recv(LINGER_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        conn.drained += len(data)
        if not data or conn.drained >= LINGER_BYTES:
            self.end_lingering(conn)

    def end_lingering(self, conn: Any) -> None:
        self.lingering.remove(conn)
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        self.close_now(conn)

    def still_reading(self, conn: Any, now: float) -> bool:
        """Whether the kernel's queue for ``conn`` shrank since it was last looked at (its
        client is taking its answer): then its deadline moves on."""
        left = queued(conn.sock)
        if left is not None and conn.queued is not None and left < conn.queued:
            conn.timeout, conn.queued = now + SEND_TIMEOUT, left
            return True
        return False

    def shed(self) -> None:
        """Held answers fill the budget (a thread waits for room): drop those whose client
        took nothing for ``SHED_AFTER`` seconds, so clients that read nothing cannot keep
        the threads waiting on their behalf."""
        now = time.monotonic()
        for conn in list(self.departing_conns):
            if not self.still_reading(conn, now) and (
                    conn.timeout - SEND_TIMEOUT + SHED_AFTER <= now):
                self.log.warning("dropped %s for %s: it stalled for %g s taking its answer, "
                                 "while answers held for slow clients filled the worker's %d MB",
                                 getattr(conn, "asked", "an answer"),
                                 conn.client[0] if conn.client else "?", SHED_AFTER,
                                 self.budget.limit // 2**20)
                self.end_departing(conn)

    def murder_departing(self) -> None:
        """Drop answers whose client took nothing for ``SEND_TIMEOUT`` seconds: neither
        what the loop sent nor what the kernel held for it (``queued``); and close the
        connections that lingered ``LINGER`` seconds."""
        now = time.monotonic()
        while self.lingering and self.lingering[0].timeout <= now:
            self.end_lingering(self.lingering[0])
        for conn in [c for c in self.departing_conns if c.timeout <= now]:
            if self.still_reading(conn, now):
                continue
            self.log.warning("dropped %s for %s: it stalled for %g s taking its answer",
                             getattr(conn, "asked", "an answer"),
                             conn.client[0] if conn.client else "?", SEND_TIMEOUT)
            self.end_departing(conn)
