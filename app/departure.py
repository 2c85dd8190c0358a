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

What a worker holds is bounded (``HELD_BYTES``): past it a thread writes the rest of its answer
with blocking sends as before. The loop drops an answer whose client takes nothing for
``SEND_TIMEOUT`` seconds, with one warning line; a client that keeps reading, however slowly,
is never cut.
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
# ``SHED_AFTER`` seconds; if none is, it writes its answer itself, with blocking sends.
HELD_BYTES = 64 * 1024 * 1024
PRESSURE_WAIT = 5.0
SHED_AFTER = 1.0


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
    budget lasts. Everything else is the socket's."""

    def __init__(self, sock: socket.socket, budget: Budget):
        self._sock, self._budget = sock, budget
        self.held: deque[memoryview] = deque()  # in order: the answer's bytes not yet sent
        self.bytes = 0  # held, and taken from the budget

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def sendall(self, data: bytes) -> None:
        view = memoryview(data).cast("B")
        if not self.held:
            try:
                view = view[self._sock.send(view, socket.MSG_DONTWAIT):]
            except (BlockingIOError, InterruptedError):
                pass
            if not view:
                return
        if self._budget.take(len(view), PRESSURE_WAIT):
            self.held.append(view)
            self.bytes += len(view)
            return
        # Over the worker's budget: this thread writes what it holds and the rest itself, and
        # gives up as before when a send moves nothing for SEND_TIMEOUT (SO_SNDTIMEO).
        try:
            while self.held:
                self._sock.sendall(self.held[0])
                self._release(len(self.held.popleft()))
            self._sock.sendall(view)
        except OSError:  # the client is dropped: what is held must not follow a cut piece
            self._release(self.bytes)
            self.held.clear()
            raise

    def _release(self, n: int) -> None:
        self._budget.give(n)
        self.bytes -= n

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

    def depart(self, conn: Any, finish: Any) -> bool:
        """Write what ``conn``'s answer left held, from the loop, then ``finish()``; False
        when nothing is held (finish at once)."""
        departing = getattr(conn, "departing", None)
        conn.departing = None
        if departing is None or not departing.held:
            if departing is not None:
                self.budget.give(departing.bytes)
            return False
        conn.sock.setblocking(False)
        conn.held, conn.held_bytes, conn.finish = departing.held, departing.bytes, finish
        conn.timeout, conn.queued = time.monotonic() + SEND_TIMEOUT, queued(conn.sock)
        self.departing_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_WRITE,
                             partial(self.on_departing, conn))
        return True

    def on_departing(self, conn: Any, _sock: Any) -> None:
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
            self.nr_conns -= 1
            conn.close()

    def shed(self) -> None:
        """Held answers fill the budget (a thread waits for room): drop those whose client
        took nothing for ``SHED_AFTER`` seconds, so clients that read nothing cannot keep
        the threads waiting on their behalf."""
        now = time.monotonic()
        for conn in list(self.departing_conns):
            left = queued(conn.sock)
            if left is not None and conn.queued is not None and left < conn.queued:
                conn.timeout, conn.queued = now + SEND_TIMEOUT, left  # it is reading
            elif conn.timeout - SEND_TIMEOUT + SHED_AFTER <= now:
                self.log.warning("dropped %s for %s: it stalled for %g s taking its answer, "
                                 "while answers held for slow clients filled the worker's %d MB",
                                 getattr(conn, "asked", "an answer"),
                                 conn.client[0] if conn.client else "?", SHED_AFTER,
                                 self.budget.limit // 2**20)
                self.end_departing(conn)

    def murder_departing(self) -> None:
        """Drop answers whose client took nothing for ``SEND_TIMEOUT`` seconds: neither
        what the loop sent nor what the kernel held for it (``queued``)."""
        now = time.monotonic()
        for conn in [c for c in self.departing_conns if c.timeout <= now]:
            left = queued(conn.sock)
            if left is not None and conn.queued is not None and left < conn.queued:
                conn.timeout, conn.queued = now + SEND_TIMEOUT, left  # it is reading
                continue
            self.log.warning("dropped %s for %s: it stalled for %g s taking its answer",
                             getattr(conn, "asked", "an answer"),
                             conn.client[0] if conn.client else "?", SEND_TIMEOUT)
            self.end_departing(conn)
