"""The gunicorn worker of ``nps-tv serve`` (``app.server.WallServer``) and the Procfile:
``WallWorker``. gunicorn's gthread gives a new connection a thread that reads the request
with blocking reads and no deadline, and writes the answer with blocking sends: as many
stalled clients as threads froze /health and the wall. ``WallWorker`` collects each request in
its event loop and hands it to a thread only once it has arrived (``HEAD_TIMEOUT``), and what
a slow client has not taken of its answer is written by the loop too (``app.departure``).
"""

from __future__ import annotations

import errno
import selectors
import socket
import struct
import time
from collections import deque
from datetime import datetime
from functools import partial

from gunicorn.http import wsgi as gunicorn_wsgi
from gunicorn.workers.gthread import TConn, ThreadWorker

from app.arrival import Refused, Scan, request_complete
from app.ask_stream import ADOPT_KEY, STREAM_PATH, StreamHub
from app.config import Settings
from app.departure import SEND_TIMEOUT, Budget, Crowded, DepartingAnswers
from app.logs import RedactingLogger  # noqa: F401 - the Procfile's --logger-class
from app.redact import redact
from app.stream_homing import HomingStreams

# Seconds a client may take from connecting (or from its previous response) to the end of its
# request, when the body is no larger than the body limit. Browsers send a request in one go.
HEAD_TIMEOUT = 10.0
# Seconds an idle kept-alive connection stays open: a wall polls every second, so its
# connection is reused; idle ones wait in the event loop, not in a thread.
KEEPALIVE_SECONDS = 5
# Connections a worker keeps open. With gunicorn's 1000, at 1,000 wall screens one worker
# churned kept-alive connections and stopped accepting (bench_viewers); an idle kept-alive
# connection here costs a socket and a poller entry, no thread (``WallWorker``).
WORKER_CONNECTIONS = 4096
# Bytes a worker holds for requests still arriving. Past it, a request whose head has arrived
# goes to a thread to read its body there (as plain gthread does), so many clients sending
# large bodies cannot make the worker hold a body limit's worth of memory each.
ARRIVING_BUDGET = 32 * 1024 * 1024
# Tick streams a worker keeps at most: half its connections, so however many streams are
# opened (a valid link in many tabs, a hostile client), requests still find a connection;
# past it the stream route answers 204 and the page asks by tick instead.
MAX_STREAMS = WORKER_CONNECTIONS // 2
# What a stream may have waiting to be written (a pushed answer larger than its socket takes at
# once waits for the socket to drain); a page this far behind has stopped reading: it ends.
STREAM_BACKLOG_BYTES = 1024 * 1024
# A blocking send or read left in a thread gives up after SEND_TIMEOUT without progress.
_SEND_TIMEOUT_OPTION = struct.pack("ll", int(SEND_TIMEOUT), 0)  # struct timeval
# What ``handle`` returns for a connection that became a tick stream (app/ask_stream.py).
STREAMING = object()
# Headers of the stream's answer that the worker writes itself (it is closed, not framed).
FRAMING = frozenset({"content-length", "transfer-encoding", "connection"})
STREAM_PATH_BYTES = STREAM_PATH.encode()


class WallConn(TConn):
    """gunicorn's connection, with the keep-alive read once: ``TConn.set_timeout`` looked it
    up through gunicorn's ``Config.__getattr__`` after every answer (4% of a worker's CPU on
    ticks, py-spy)."""

    def __init__(self, cfg, sock, client, server, keepalive: float):
        super().__init__(cfg, sock, client, server)
        self.keepalive = keepalive

    def set_timeout(self) -> None:
        self.timeout = time.monotonic() + self.keepalive


class WallWorker(HomingStreams, DepartingAnswers, ThreadWorker):
    """gthread, but a connection gets a thread only once its request has arrived, and a
    thread's answer that its client is slow to take is written by the event loop
    (``app.departure``)."""

    body_limit: int | None = None  # WallServer sets it from the settings; else read at start

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.arriving: deque[TConn] = deque()  # in deadline order
        self.arriving_bytes = 0
        self.streams: set[TConn] = set()  # tick streams, kept by the event loop
        self.departing_conns: list[TConn] = []  # answers the event loop is writing
        self.lingering: deque[TConn] = deque()  # answered and closing, in deadline order
        self.budget = Budget()
        self.budget.on_pressure = lambda: self.alive and self.method_queue.defer(self.shed)
        self.hub = StreamHub(self.deliver_soon)

    def init_process(self) -> None:
        if self.body_limit is None:
            settings = Settings.from_env()
            self.body_limit = max(settings.max_body_bytes, settings.max_dash_body_bytes)
        self.keepalive_seconds = self.cfg.keepalive
        # sendfile() would wait for a stalled client without end: socket.sendfile retries on
        # the timeout's EAGAIN (SEND_TIMEOUT). Files are written with sends like the rest.
        self.cfg.set("sendfile", False)
        super().init_process()

    def accept(self, listener) -> None:
        if self.cfg.is_ssl:  # TLS bytes cannot be collected before the handshake
            return super().accept(listener)
        try:
            client_sock, client_addr = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return None
        self.nr_conns += 1
        client_sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _SEND_TIMEOUT_OPTION)
        # And a blocking read in a thread gives up too (a body read there, past the arriving
        # budget): requests are collected by the event loop, so no read should wait at all.
        client_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _SEND_TIMEOUT_OPTION)
        self.await_request(self.new_conn(client_sock, client_addr, listener.getsockname()))
        return None

    def new_conn(self, sock, client, server) -> WallConn:
        return WallConn(self.cfg, sock, client, server, self.keepalive_seconds)

    def run(self) -> None:
        self.open_homes(STREAM_PATH_BYTES)  # app/stream_homes.py: one worker per screen URL
        try:
            super().run()
        finally:
            self.close_homes()

    def on_client_socket_readable(self, conn: TConn, client) -> None:
        """A kept-alive connection's next request is starting: collect it like a new one,
        reading what has come at once rather than after another round of the event loop."""
        if self.cfg.is_ssl:
            return super().on_client_socket_readable(conn, client)
        self.keepalived_conns.remove(conn)
        self.await_request(conn, registered=True)
        self.on_arriving(conn, client)
        return None

    def await_request(self, conn: TConn, registered: bool = False) -> None:
        """Collect the connection's request in the event loop, with a deadline
        (``registered``: the socket is in the poller already, as a kept-alive one)."""
        conn.sock.setblocking(False)
        conn.arrived = bytearray()
        conn.scan = Scan()
        conn.timeout = time.monotonic() + HEAD_TIMEOUT
        self.arriving.append(conn)
        if registered:
            self.poller.modify(conn.sock, selectors.EVENT_READ, partial(self.on_arriving, conn))
        else:
            self.poller.register(conn.sock, selectors.EVENT_READ,
                                 partial(self.on_arriving, conn))

    def on_arriving(self, conn: TConn, _sock) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away before finishing its request
            self.drop_arriving(conn)
            return
        conn.arrived += data
        self.arriving_bytes += len(data)
        try:
            whole = request_complete(conn.arrived, self.body_limit or 0, conn.scan)
        except Refused as exc:
            self.refuse_arriving(conn, str(exc))
            return
        if whole or (
                self.arriving_bytes > ARRIVING_BUDGET and b"\r\n\r\n" in conn.arrived):
            self.poller.unregister(conn.sock)
            self.arriving.remove(conn)
            self.arriving_bytes -= len(conn.arrived)
            if whole and self.hand_stream(conn, conn.arrived):
                return
            conn.data_ready = True
            self.enqueue_req(conn)

    def refuse_arriving(self, conn: TConn, reason: str) -> None:
        """Answer a request the loop will not hand on 400 (as far as the socket takes it at
        once) and close it."""
        body = f"request refused: {reason}\n".encode()
        try:
            conn.sock.send(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n"
                           b"Content-Type: text/plain\r\nContent-Length: "
                           + str(len(body)).encode() + b"\r\n\r\n" + body)
        except OSError:
            pass
        self.drop_arriving(conn)

    def drop_arriving(self, conn: TConn) -> None:
        self.arriving.remove(conn)
        self.arriving_bytes -= len(conn.arrived)
        self.close_held(conn)

    def close_held(self, conn: TConn) -> None:
        """Close a connection the event loop holds (arriving or streaming) and forget it."""
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        """Also drop requests that did not arrive in time (all of them when stopping), and
        end the tick streams when stopping (their pages reconnect to another worker)."""
        super().murder_pending()
        now = time.monotonic()
        while self.arriving and (self.arriving[0].timeout <= now or not self.alive):
            self.drop_arriving(self.arriving[0])
        self.murder_departing()
        self.homes_resume()
        if not self.alive:
            self.close_homes()
            for conn in list(self.streams):
                self.end_stream(conn)

    def handle(self, conn: TConn):
        arrived = getattr(conn, "arrived", None)
        if arrived:  # give the collected bytes to gunicorn's parser, then go on as gthread
            conn.arrived = None
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(bytes(arrived))
        if not self.cfg.is_ssl:
            self.answer_through(conn)
        try:
            result = super().handle(conn)
        finally:
            self.answered(conn)
        return STREAMING if result and getattr(conn, "watch", None) is not None else result

    # -- tick streams (app/ask_stream.py): kept by the event loop, written by it ------------

    def handle_request(self, req, conn: TConn):
        conn.asked = f"{req.method} {redact(req.path)}"  # for a line if it is dropped
        try:
            if req.method != "GET" or req.path != STREAM_PATH or self.cfg.is_ssl:
                return super().handle_request(req, conn)
            return self.handle_stream(req, conn)
        except Crowded as exc:  # no room to hold its answer (app/departure.py)
            self.log.warning("dropped %s for %s: %s", conn.asked,
                             conn.client[0] if conn.client else "?", exc)
            return False
        except BlockingIOError:  # SEND_TIMEOUT ran out: the client stopped reading or sending
            self.log.warning("dropped %s %s for %s: it stalled for %g s (taking its answer or "
                             "sending its body)", req.method, redact(req.path),
                             conn.client[0] if conn.client else "?", SEND_TIMEOUT)
            return False

    def handle_stream(self, req, conn: TConn) -> bool:
        """The stream's request through the app (the gate, the scope); when the app made it
        a stream, its head and first event are written and the connection is kept."""
        self.cfg.pre_request(self, req)
        started = datetime.now()
        resp, environ = gunicorn_wsgi.create(req, conn.sock, conn.client, conn.server, self.cfg)
        environ["wsgi.multithread"] = True
        adopted: list = []
        environ[ADOPT_KEY] = partial(self.adopt, adopted)
        self.nr += 1
        respiter = self.wsgi(environ, resp.start_response)
        try:
            watch = adopted[0] if adopted else None
            if watch is None or resp.status_code != 200 or not self.alive:
                for item in respiter:
                    resp.write(item)
                resp.close()
                return not resp.should_close()
            head = [f"HTTP/1.1 {resp.status}\r\n"]
            head += [f"{name}: {value}\r\n" for name, value in resp.headers
                     if name.lower() not in FRAMING]
            body = b"".join(respiter)
            conn.sock.sendall("".join([*head, "Connection: close\r\n\r\n"]).encode("latin-1")
                              + body)
            resp.sent = len(body)
            conn.watch = watch
            return True
        finally:
            self.log.access(resp, req, environ, datetime.now() - started)
            if hasattr(respiter, "close"):
                respiter.close()
            self.cfg.post_request(self, req, environ, resp)

    def adopt(self, adopted: list, watch) -> bool:
        """The route's offer of a stream: taken (True) while the worker has room for it."""
        if len(self.streams) >= MAX_STREAMS:
            return False
        adopted.append(watch)
        return True

    def finish_request(self, conn: TConn, fs) -> None:
        if not fs.cancelled() and fs.exception() is None and fs.result() is STREAMING:
            held = self.take_held(conn)  # its head, when the socket did not take it at once
            self.keep_stream(conn)
            if held and conn in self.streams:
                self.write_stream(conn, held)
        elif not self.depart(conn, partial(self.finish_answer, conn, fs)):
            self.finish_answer(conn, fs)

    def finish_answer(self, conn: TConn, fs) -> None:
        """Kept alive as gthread does; closed from the loop without waiting (``linger``)."""
        if self.cfg.is_ssl or (not fs.cancelled() and fs.exception() is None and fs.result()):
            super().finish_request(conn, fs)
        else:
            self.linger(conn)

    def keep_stream(self, conn: TConn) -> None:
        """The event loop keeps the stream: it reads only to notice the client leaving."""
        conn.sock.setblocking(False)
        self.streams.add(conn)
        self.homes_room(len(self.streams), MAX_STREAMS)
        conn.backlog = b""
        self.poller.register(conn.sock, selectors.EVENT_READ,
                             partial(self.on_stream_readable, conn))
        self.hub.add(conn, conn.watch)
        if not self.alive:
            self.end_stream(conn)

    def on_stream_readable(self, conn: TConn, _sock) -> None:
        """A page sends nothing on its stream: data or the end means it is over. (Called
        too when a stream with a backlog can be written: it writes what it can first.)"""
        if conn.backlog and not self.write_stream(conn, b""):
            return
        try:
            conn.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pass
        self.end_stream(conn)

    def deliver_soon(self, batch: list) -> None:
        """From the hub's thread: the loop writes the batch (sockets are the loop's alone)."""
        self.method_queue.defer(self.deliver, batch)

    def deliver(self, batch: list) -> None:
        """Write each stream's event: what its socket cannot take now waits, and is written
        as the socket drains (``STREAM_BACKLOG_BYTES`` at most: more is a client that stopped
        reading, and its stream ends)."""
        for conn, data, ends in batch:
            if conn not in self.streams:
                continue
            if data and not self.write_stream(conn, data):
                continue  # ended
            if ends:
                self.end_stream(conn)

    def write_stream(self, conn: TConn, data: bytes) -> bool:
        """Send ``data`` after the stream's backlog, keeping what the socket does not take;
        False when the stream ended (its client is gone or far behind)."""
        pending = conn.backlog + data
        try:
            sent = conn.sock.send(pending) if pending else 0
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self.end_stream(conn)
            return False
        rest = pending[sent:]
        if len(rest) > STREAM_BACKLOG_BYTES:
            self.end_stream(conn)
            return False
        if bool(rest) != bool(conn.backlog):  # wait for writable, or stop
            self.poller.modify(conn.sock, selectors.EVENT_READ | (
                selectors.EVENT_WRITE if rest else 0), partial(self.on_stream_readable, conn))
        conn.backlog = rest
        return True

    def end_stream(self, conn: TConn) -> None:
        if conn not in self.streams:
            return
        self.streams.discard(conn)
        self.homes_room(len(self.streams), MAX_STREAMS)
        self.hub.remove(conn)
        self.close_held(conn)
