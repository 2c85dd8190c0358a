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
from app.patch_book import PatchBook
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
    """A wall on a month of responses, half with long comments, polled once."""
    now = datetime.now(UTC)
    sqlite_store.upsert_responses([
        make_record(i, [10, 9, 3, 7, 0, 6][i % 6], when=now - timedelta(days=i % 30, hours=1),
                    comment=("Support was slow to answer my billing question " * 8)
                    if i % 2 == 0 else None, product="Ledger")
        for i in range(3000)])
    dash_app = make_app(store=sqlite_store, ask_stream=True, **changes)
    get_services(dash_app).poller.poll()
    return dash_app


def test_a_push_from_parts_this_worker_never_sent_carries_them_whole(make_app, sqlite_store):
    # The page's last poll reached another worker or instance and this one's patch book
    # lost the parts the push starts from: the answer carries every part whole (over 16 KB
    # with these long comments), more than a fresh connection takes at once; it is pushed all
    # the same (WallWorker writes it as the socket drains), and the next push is a patch again.
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


# -- streams that share one event per round (rev10's review of aa53149) ----------------------


def test_after_a_failed_push_streams_of_one_screen_read_their_parts_once(make_app, sqlite_store,
                                                                         monkeypatch):
    # A store failure while the shared answer was built leaves every stream of the screen
    # without fingerprints (one result, shared); at the next change each then starts afresh.
    # That start (the parts' fingerprints now) is the same for all of them: made once a round,
    # not once per stream (1,000 walls after every store blip: a round as slow as before the
    # answers were shared).
    monkeypatch.setattr(StreamHub, "_run", lambda self: None)
    dash_app = busy_wall(make_app, sqlite_store)
    client = dash_app.server.test_client()
    hub = StreamHub(lambda batch: None)
    watches = [open_stream(client)[1] for _ in range(4)]
    for key, watch in enumerate(watches):
        hub.add(key, watch)

    def down(*_args, **_kw):
        raise StoreUnavailable("the store is down")

    add_response(dash_app, 1)
    with monkeypatch.context() as patched:
        patched.setattr(ask_stream.poll_bytes, "answer_bytes", down)
        assert len(hub.round(time.monotonic() + 1)) == 4
    assert all(w.hashes is None for w in watches)
    read: list = []
    current = ask_stream.poll_bytes.current_hashes
    monkeypatch.setattr(ask_stream.poll_bytes, "current_hashes",
                        lambda *a, **kw: read.append(a) or current(*a, **kw))
    add_response(dash_app, 2, score=0)
    batch = hub.round(time.monotonic() + 2)
    assert len(batch) == 4 and not any(ends for _, _, ends in batch)
    assert len(read) == 1, f"the parts' fingerprints were read {len(read)} times for one screen"
    assert all(w.hashes and w.hashes == watches[0].hashes for w in watches)
    add_response(dash_app, 3, score=3)  # and the next change is pushed to each again
    batch = hub.round(time.monotonic() + 3)
    assert all(answers_of(data)[0] is not None for _, data, _ in batch)


def test_streams_of_one_screen_under_other_links_share_nothing(make_app, sqlite_store,
                                                               monkeypatch):
    # Guard: the round shares a tick per (screen, link). Two links on one screen: the one
    # asked to reload says so and its screens' ticks say it; the other link's do not; one
    # revoked ends its streams saying so while the other's go on, in the same round; and
    # a link that hides comments gets its own answer (other parts).
    from app.access import COOKIE
    from tests.test_access import make_link
    monkeypatch.setattr(StreamHub, "_run", lambda self: None)
    dash_app = busy_wall(make_app, sqlite_store, access="links")
    services = get_services(dash_app)
    shown, shown_token = make_link(dash_app, name="Lobby")
    other, other_token = make_link(dash_app, name="Canteen")
    hidden, hidden_token = make_link(dash_app, name="Door", comments="hide")
    hub = StreamHub(lambda batch: None)
    for name, token in (("shown", shown_token), ("other", other_token),
                        ("hidden", hidden_token)):
        client = dash_app.server.test_client()
        client.set_cookie(COOKIE, token)
        for i in range(2):
            _, watch = open_stream(client)
            hub.add((name, i), watch)
    services.links.links.request_reload(shown.id)
    services.links.refresh(force=True)
    add_response(dash_app, 1)
    batch = {key: data for key, data, _ in hub.round(time.monotonic() + 1)}
    ticks = {key: events_of(data)[0] for key, data in batch.items()}
    assert all("reload" in ticks[("shown", i)] for i in range(2))
    assert not any("reload" in ticks[(name, i)] for name in ("other", "hidden") for i in range(2))
    answers = {key: answers_of(data)[0] for key, data in batch.items()}
    assert None not in answers.values()
    assert answers[("shown", 0)] != answers[("hidden", 0)]
    assert len(json.loads(answers[("hidden", 0)])["response"]) < len(
        json.loads(answers[("other", 0)])["response"])  # no customers' words in it
    services.links.links.revoke(other.id)
    services.links.refresh(force=True)
    add_response(dash_app, 2, score=0)
    batch = {key: (data, ends) for key, data, ends in hub.round(time.monotonic() + 2)}
    assert all(batch[("other", i)] == (b'data: {"refused":"revoked"}\n\n', True)
               for i in range(2))
    assert all(not batch[(name, i)][1] and answers_of(batch[(name, i)][0])[0] is not None
               for name in ("shown", "hidden") for i in range(2))
