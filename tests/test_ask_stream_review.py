"""Review of the poll's answer pushed with a changed tick (issue 13, ``Watch.follow``): a
push larger than a socket takes at once is written as it drains, and a store that fails
while the answer's parts are built must not end the stream."""

from __future__ import annotations

import json
import selectors
import socket
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from types import SimpleNamespace

from app import ask_stream, parts, wsgi
from app.ask_stream import StreamHub
from app.part_patch import PatchBook
from app.services import get_services
from app.store import StoreUnavailable
from app.wsgi import WallWorker
from tests.conftest import make_record
from tests.test_ask import add_response
from tests.test_ask_stream import answers_of, events_of, open_stream

# What a fresh TCP connection takes in one non-blocking send on Linux's defaults (tcp_wmem's
# initial 16 KiB): WallWorker.deliver keeps the rest of a larger event until it drains.
FRESH_SOCKET_BYTES = 16 * 1024


def busy_wall(make_app, sqlite_store, **changes):
    """A wall on a month of responses, half with comments, polled once."""
    now = datetime.now(UTC)
    sqlite_store.upsert_responses([
        make_record(i, [10, 9, 3, 7, 0, 6][i % 6], when=now - timedelta(days=i % 30, hours=1),
                    comment=("Support was slow to answer my billing question " * 3)
                    if i % 2 == 0 else None, product="Ledger")
        for i in range(3000)])
    dash_app = make_app(store=sqlite_store, ask_stream=True, **changes)
    get_services(dash_app).poller.poll()
    return dash_app


def test_a_push_from_parts_this_worker_never_sent_carries_them_whole(make_app, sqlite_store):
    # The page's last poll reached another worker or instance and this one's patch book
    # lost the parts the push starts from: the answer carries every part whole (~80 KB here),
    # more than a fresh connection takes at once; it is pushed all the same (WallWorker
    # writes it as the socket drains), and the next push is a patch again.
    dash_app = busy_wall(make_app, sqlite_store)
    client = dash_app.server.test_client()
    _, watch = open_stream(client)
    services = get_services(dash_app)
    services.patches = PatchBook()  # as in a worker that answered none of this page's polls
    add_response(dash_app, 1)
    data, ends = watch.event(time.monotonic() + 1)
    (answer,) = answers_of(data)
    assert not ends and answer is not None and json.loads(answer)["multi"]
    assert FRESH_SOCKET_BYTES < len(data) <= ask_stream.MAX_PUSH_BYTES
    add_response(dash_app, 2, score=0)
    data, _ = watch.event(time.monotonic() + 2)
    (answer,) = answers_of(data)
    assert answer is not None and len(data) <= FRESH_SOCKET_BYTES  # a patch
    json.loads(answer)


def test_a_store_failing_while_a_push_is_built_leaves_the_stream_open_with_its_tick(
        make_app, sqlite_store, monkeypatch):
    # A wall with the follow-up line reads the store when its parts are built (the day
    # changed, or a new snapshot): while the store is down, the stream goes on with ticks
    # (the page shows the trouble and polls), instead of every stream ending at each change.
    dash_app = busy_wall(make_app, sqlite_store)
    client = dash_app.server.test_client()
    _, watch = open_stream(client, ask_stream.STREAM_PATH + "?dwell=10&followups=1")
    assert watch.screen.follow_ups and watch.hashes is not None

    def down(*_args, **_kw):
        raise StoreUnavailable("the store is down")

    add_response(dash_app, 1)
    monkeypatch.setattr(parts, "follow_up_progress", down)
    hub = StreamHub(lambda batch: None)
    hub.add("screen", watch)
    (key, data, ends), = hub.round(time.monotonic() + 1)
    assert not ends, "one failed build ended the stream"
    assert events_of(data)[0]["stamp"] and answers_of(data) == [None]
    assert len(hub) == 1
    monkeypatch.undo()
    add_response(dash_app, 2, score=0)  # the store is back: the next change is pushed again
    add_response(dash_app, 3, score=0)
    (_, data, ends), = hub.round(time.monotonic() + 2)
    assert not ends and events_of(data)[0]["stamp"]


def test_the_worker_writes_a_large_event_as_its_socket_drains_and_ends_a_stalled_one(
        monkeypatch):
    # WallWorker.deliver sends what the socket takes and keeps the rest for when it can be
    # written (the loop's poller says so); a client that stopped reading ends its stream.
    class Conn:  # hashable, as gunicorn's connections are
        def __init__(self, sock):
            self.sock = sock
            self.backlog = b""

    ours, theirs = socket.socketpair()
    poller = selectors.DefaultSelector()
    try:
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024)
        theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        ours.setblocking(False)
        conn = Conn(ours)
        ended: list = []
        worker = SimpleNamespace(streams={conn}, poller=poller)
        worker.end_stream = lambda c: (ended.append(c), worker.streams.discard(c))
        worker.write_stream = partial(WallWorker.write_stream, worker)
        worker.on_stream_readable = partial(WallWorker.on_stream_readable, worker)
        poller.register(ours, selectors.EVENT_READ, partial(worker.on_stream_readable, conn))
        event = b"data: " + bytes(range(256)) * 300 + b"\n\n"  # 76 KB
        WallWorker.deliver(worker, [(conn, event, False)])
        assert ended == [] and conn.backlog  # not taken at once: waiting, not ended
        got = b""
        theirs.settimeout(2)
        while len(got) < len(event):
            got += theirs.recv(65536)
            for key, _ in poller.select(0.1):  # the loop: writable, so it writes more
                key.data(key.fileobj)
        assert got == event and conn.backlog == b"" and ended == []
        monkeypatch.setattr(wsgi, "STREAM_BACKLOG_BYTES", 100_000)
        for _ in range(3):  # the client reads nothing: the backlog grows past the limit
            WallWorker.deliver(worker, [(conn, event, False)])
        assert ended == [conn]
    finally:
        poller.close()
        ours.close()
        theirs.close()
