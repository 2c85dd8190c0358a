"""Review of the poll's answer pushed with a changed tick (issue 13, ``Watch.follow``): a
push must fit what a socket takes at once, and a store that fails while the answer's parts are
built must not end the stream."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from app import ask_stream, parts
from app.ask_stream import StreamHub
from app.part_patch import PatchBook
from app.services import get_services
from app.store import StoreUnavailable
from app.wsgi import WallWorker
from tests.conftest import make_record
from tests.test_ask import add_response
from tests.test_ask_stream import answers_of, events_of, open_stream

# What a fresh TCP connection takes in one non-blocking send on Linux's defaults (tcp_wmem's
# initial 16 KiB): WallWorker.deliver ends a stream whose event it cannot write whole.
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


def test_a_push_from_parts_this_worker_never_sent_is_not_larger_than_a_socket_takes_at_once(
        make_app, sqlite_store):
    # The page's last poll reached another worker or instance, so this one's patch book has
    # never seen the parts the push starts from: the answer carries every part whole (~80 KB
    # here), which WallWorker.deliver cannot write at once to a fresh connection and so ends
    # the stream (the page reconnects and polls). Such a push is left out: the tick alone.
    dash_app = busy_wall(make_app, sqlite_store)
    client = dash_app.server.test_client()
    _, watch = open_stream(client)
    services = get_services(dash_app)
    services.patches = PatchBook()  # as in a worker that answered none of this page's polls
    add_response(dash_app, 1)
    data, ends = watch.event(time.monotonic() + 1)
    assert not ends and events_of(data)[0]["stamp"]
    assert len(data) <= FRESH_SOCKET_BYTES, len(data)
    assert answers_of(data) == [None] and "push" not in events_of(data)[0]
    # the next change starts from what the page then polled: pushed again, as a patch
    add_response(dash_app, 2, score=0)
    data, _ = watch.event(time.monotonic() + 2)
    (answer,) = answers_of(data)
    assert answer is not None and len(data) <= FRESH_SOCKET_BYTES
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


def test_the_worker_ends_a_stream_whose_event_a_socket_cannot_take_at_once():
    # Why MAX_PUSH_BYTES: WallWorker.deliver writes each event with one non-blocking send and
    # ends the stream when it is not taken whole (as for a client that stopped reading).
    class Conn:  # hashable, as gunicorn's connections are
        def __init__(self, sock):
            self.sock = sock

    ours, theirs = socket.socketpair()
    try:
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024)
        theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        ours.setblocking(False)
        conn = Conn(ours)
        ended: list = []
        worker = SimpleNamespace(streams={conn}, end_stream=ended.append)
        WallWorker.deliver(worker, [(conn, b"data: " + b"x" * 2000 + b"\n\n", False)])
        assert ended == []  # a tick or a patch: written whole
        WallWorker.deliver(worker, [(conn, b"data: " + b"x" * 70_000 + b"\n\n", False)])
        assert ended == [conn]  # every part whole: cut off, and the stream ends
        assert ask_stream.MAX_PUSH_BYTES < 16 * 1024
    finally:
        ours.close()
        theirs.close()
