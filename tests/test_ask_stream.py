"""The tick pushed (issue 13, app/ask_stream.py): a wall screen's stream carries what its tick
answers, sends it when it changes or a heartbeat is due, is gated like the tick, and ends when
its share link is revoked (saying so) or its scope is edited (the page reconnects)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from app import ask_stream
from app.access import COOKIE
from app.ask_stream import ADOPT_KEY, HEARTBEAT_SECONDS, STREAM_PATH, StreamHub
from app.services import get_services
from tests.conftest import make_record, wall_poll_body
from tests.test_access import make_link
from tests.test_ask import TICK, add_response

STREAM = STREAM_PATH + "?dwell=10"


@pytest.fixture
def make_stream_app(make_app):
    """``make_app`` with streams on (NPS_TV_ASK_STREAM) unless told otherwise."""
    return lambda store=None, **changes: make_app(store=store, **{"ask_stream": True, **changes})


@pytest.fixture
def wall_app(make_stream_app, sqlite_store):
    """An open app with streams on, on a store with a few days of responses, polled once."""
    now = datetime.now(UTC)
    sqlite_store.upsert_responses([
        make_record(i, [10, 9, 3, 7][i % 4], when=now - timedelta(days=i % 5, hours=1),
                    comment="Quick support" if i % 3 == 0 else None, product="Ledger")
        for i in range(40)])
    dash_app = make_stream_app(store=sqlite_store)
    get_services(dash_app).poller.poll()
    return dash_app


def events_of(data: bytes) -> list[dict]:
    """The ticks (each event's first line, JSON) of the server-sent events in ``data``."""
    return [json.loads(block[len(b"data: "):].split(b"\n")[0])
            for block in data.split(b"\n\n") if block.startswith(b"data: ")]


def answers_of(data: bytes) -> list[bytes | None]:
    """The poll answer each event in ``data`` carries on its second line (None: none)."""
    lines = [block.split(b"\n") for block in data.split(b"\n\n") if block.startswith(b"data: ")]
    for event in lines:
        assert len(event) <= 2 and all(line.startswith(b"data: ") for line in event)
    return [event[1][len(b"data: "):] if len(event) == 2 else None for event in lines]


def open_stream(client, path: str = STREAM, room: bool = True, **kw):
    """The stream's first answer and its Watch, as WallWorker would get them (``room``: whether
    the server has room for another stream)."""
    adopted: list = []

    def adopt(watch) -> bool:
        adopted.append(watch)
        return room

    response = client.get(path, environ_overrides={ADOPT_KEY: adopt}, **kw)
    return response, adopted[0] if adopted and room else None


def test_a_stream_starts_with_the_screens_tick_and_tells_the_proxy_not_to_buffer(wall_app):
    client = wall_app.server.test_client()
    response, watch = open_stream(client)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert response.headers["X-Accel-Buffering"] == "no"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.data.startswith(b"retry: ")
    (first,) = events_of(response.data)
    tick = client.get(TICK).get_json()
    assert first["stamp"] == tick["stamp"] and first["build"] == tick["build"]
    assert {k: first[k] for k in tick} == tick and first["age"] >= 0
    assert watch is not None and watch.data_key


def test_events_come_on_a_change_or_a_heartbeat_only(wall_app):
    client = wall_app.server.test_client()
    _, watch = open_stream(client)
    now = time.monotonic()
    assert watch.event(now) == (None, False)  # nothing changed since the first event
    add_response(wall_app, 1)
    data, ends = watch.event(now + 0.1)
    (changed,) = events_of(data)
    assert not ends and changed["stamp"] == client.get(TICK).get_json()["stamp"]
    assert watch.event(now + 0.2) == (None, False)
    data, _ = watch.event(now + 0.2 + HEARTBEAT_SECONDS)  # the same tick, its age moved
    assert events_of(data)[0]["stamp"] == changed["stamp"]


def test_the_stream_is_gated_and_scoped_like_the_tick(make_stream_app, sqlite_store):
    dash_app = make_stream_app(store=sqlite_store, access="links")
    client = dash_app.server.test_client()
    refused, watch = open_stream(client)
    assert refused.status_code == 401 and refused.headers["X-NPS-TV-Link"] == "missing"
    assert watch is None
    _, token = make_link(dash_app, screen="product=Ledger&panels=score")
    client.set_cookie(COOKIE, token)
    wider, watch = open_stream(client, STREAM_PATH + "?product=Pulse")
    assert wider.status_code == 403 and wider.headers["X-NPS-TV-Link"] == "scope"
    assert watch is None
    allowed, watch = open_stream(client, STREAM_PATH + "?product=Ledger&panels=score")
    assert allowed.status_code == 200 and watch.link is not None and watch.token == token


def test_a_revoked_link_ends_the_stream_saying_so(make_stream_app, sqlite_store):
    dash_app = make_stream_app(store=sqlite_store, access="links")
    row, token = make_link(dash_app)
    client = dash_app.server.test_client()
    client.set_cookie(COOKIE, token)
    _, watch = open_stream(client)
    assert watch.event(time.monotonic()) == (None, False)
    links = get_services(dash_app).links
    links.links.revoke(row.id)
    links.refresh(force=True)
    data, ends = watch.event(time.monotonic())
    assert ends and events_of(data) == [{"refused": "revoked"}]
    assert watch.event(time.monotonic()) == (None, True)


def test_an_edited_link_ends_the_stream_so_the_page_reconnects_through_the_gate(
        make_stream_app, sqlite_store):
    dash_app = make_stream_app(store=sqlite_store, access="links")
    row, token = make_link(dash_app, screen="panels=score")
    client = dash_app.server.test_client()
    client.set_cookie(COOKIE, token)
    _, watch = open_stream(client, STREAM_PATH + "?panels=score")
    links = get_services(dash_app).links
    with links.links.store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE share_links SET screen = 'panels=trend' WHERE id = ?",
                             (row.id,))
    links.refresh(force=True)
    assert watch.event(time.monotonic()) == (None, True)  # ends, no refusal: it reconnects


def test_without_a_server_that_keeps_streams_or_with_streams_off_it_answers_204(
        wall_app, make_stream_app, sqlite_store):
    client = wall_app.server.test_client()
    assert client.get(STREAM).status_code == 204  # gunicorn's plain gthread: a thread each
    off = make_stream_app(store=sqlite_store, ask_stream=False).server.test_client()
    response, watch = open_stream(off)
    assert response.status_code == 204 and watch is None
    full, watch = open_stream(client, room=False)  # the worker keeps as many as it may
    assert full.status_code == 204 and watch is None and full.data == b""


def test_a_worker_keeps_at_most_half_its_connections_as_streams():
    from app import wsgi
    worker = wsgi.WallWorker.__new__(wsgi.WallWorker)
    worker.streams = set(range(wsgi.MAX_STREAMS - 1))
    adopted: list = []
    assert worker.adopt(adopted, "watch") and adopted == ["watch"]
    worker.streams.add(-1)
    assert not worker.adopt(adopted, "another") and adopted == ["watch"]
    assert wsgi.MAX_STREAMS * 2 <= wsgi.WORKER_CONNECTIONS


def test_the_hub_sends_each_stream_its_change_and_drops_ended_ones(make_stream_app, sqlite_store,
                                                                   monkeypatch):
    # The rounds are this test's: the hub's own thread (woken by the publish) would take them.
    monkeypatch.setattr(StreamHub, "_run", lambda self: None)
    dash_app = make_stream_app(store=sqlite_store, access="links")
    services = get_services(dash_app)
    row, token = make_link(dash_app)
    client = dash_app.server.test_client()
    client.set_cookie(COOKIE, token)
    delivered: list[list] = []
    hub = StreamHub(delivered.append)
    for key in ("a", "b"):
        _, watch = open_stream(client)
        watch.next_beat = float("inf")  # heartbeats have a test of their own
        hub.add(key, watch)
    assert hub.round(time.monotonic()) == [] and delivered == []
    assert hub.wake in services.poller.on_publish  # a publish wakes the hub's thread
    services.store.upsert_responses([make_record_now()])
    services.poller.poll()
    batch = hub.round(time.monotonic())
    assert sorted(key for key, _, _ in batch) == ["a", "b"]
    assert all(data.startswith(b"data: ") and not ends for _, data, ends in batch)
    services.links.links.revoke(row.id)
    services.links.refresh(force=True)
    batch = hub.round(time.monotonic())
    assert [(key, ends) for key, _, ends in batch] == [("a", True), ("b", True)]
    assert len(hub) == 0 and hub.round(time.monotonic()) == []


def make_record_now():
    return make_record(5000, 10, when=datetime.now(UTC), comment="Pushed at once")


def test_the_development_server_stream_stops_when_its_link_is_revoked(make_stream_app, sqlite_store,
                                                                      monkeypatch):
    monkeypatch.setattr(ask_stream, "ROUND_SECONDS", 0.02)
    dash_app = make_stream_app(store=sqlite_store, access="links")
    row, token = make_link(dash_app)
    client = dash_app.server.test_client()
    client.set_cookie(COOKIE, token)
    _, watch = open_stream(client)
    events = ask_stream.dev_server_events(watch, seconds=5)
    assert b"retry: " in next(events)
    links = get_services(dash_app).links
    links.links.revoke(row.id)
    links.refresh(force=True)
    assert events_of(next(events)) == [{"refused": "revoked"}]
    with pytest.raises(StopIteration):
        next(events)


# -- the poll's answer pushed with a changed tick (Watch.follow; assets/nps_tv.js serves the
# page's poll from it when the page has the parts it starts from)

def poll(client, state) -> dict:
    """The wall's poll for the stream's screen from ``state``, as the page sends it."""
    reply = client.post("/_dash-update-component",
                        json=wall_poll_body({"query": {"dwell": "10"}}, state))
    assert reply.status_code == 200
    return reply.get_json()


def without_age(answer: dict) -> dict:
    answer["response"]["tv-status"]["data"].pop("age")
    return answer


def test_a_changed_tick_carries_what_the_poll_answers_a_screen_with_the_parts_it_was_sent(
        wall_app):
    client = wall_app.server.test_client()
    opened, watch = open_stream(client)
    assert answers_of(opened.data) == [None]  # the page polls as it opens
    assert "push" not in events_of(opened.data)[0]
    has = poll(client, None)["response"]["tv-state"]["data"]  # what the page's poll got
    add_response(wall_app, 1)
    data, _ = watch.event(time.monotonic())
    (tick,), (answer,) = events_of(data), answers_of(data)
    pushed = without_age(json.loads(answer))
    assert tick["push"] == {"key": has["key"], "from": has["hashes"],
                            "mark": pushed["response"]["tv-state"]["data"]["mark"]}
    asked = without_age(poll(client, {"key": has["key"], "hashes": tick["push"]["from"]}))
    assert pushed == asked  # the same parts, patches, state and status as the poll
    sent = pushed["response"]["tv-state"]["data"]
    assert sent["hashes"] != has["hashes"] and tick["stamp"] == client.get(TICK).get_json()["stamp"]
    # only what moved: an answer from nothing carries every part whole, this one much less
    assert len(answer) < len(json.dumps(poll(client, None))) / 2


def test_the_first_push_is_a_patch_though_the_page_polled_another_worker(wall_app):
    """The worker keeps the parts a stream starts from, so its first answer patches them
    (whole parts would be too large to push: ``MAX_PUSH_BYTES``)."""
    client = wall_app.server.test_client()
    _, watch = open_stream(client)  # this worker answers no poll of the page
    add_response(wall_app, 1)
    data, _ = watch.event(time.monotonic())
    (answer,) = answers_of(data)
    assert answer is not None and len(answer) <= ask_stream.MAX_PUSH_BYTES
    assert b'"__dash_patch_update"' in answer


def test_each_pushed_answer_starts_from_the_parts_the_last_one_left(wall_app):
    client = wall_app.server.test_client()
    _, watch = open_stream(client)
    poll(client, None)  # the page polls as it opens (a push of every part whole is left out)
    now = time.monotonic()
    states = []
    for i in range(3):
        add_response(wall_app, 10 + i, score=[0, 10, 6][i])
        data, _ = watch.event(now + i)
        (tick,), (answer,) = events_of(data), answers_of(data)
        assert answer is not None
        if states:
            assert tick["push"]["from"] == states[-1]["hashes"]
        states.append(json.loads(answer)["response"]["tv-state"]["data"])
    assert watch.pushes == 3
    data, _ = watch.event(now + 3 + HEARTBEAT_SECONDS)  # a heartbeat: the same stamp
    assert data is not None and answers_of(data) == [None]


def had_of(state: dict) -> str:
    """A state's part fingerprints as a page reopening its stream names them."""
    return ",".join(f"{name}:{value}" for name, value in state["hashes"].items())


def test_a_stream_opened_naming_the_parts_the_page_has_pushes_from_them_at_once(wall_app):
    """A page whose parts are not the ones its stream pushes from (its poll reached another
    worker or instance) reopens the stream naming them: the first event pushes from them."""
    client = wall_app.server.test_client()
    has = poll(client, None)["response"]["tv-state"]["data"]
    opened, watch = open_stream(client, f"{STREAM}&had={had_of(has)}")
    (answer,) = answers_of(opened.data)  # it has the parts of now: no part to push
    assert set(json.loads(answer)["response"]) == {"tv-state", "tv-status"}
    assert watch.hashes == has["hashes"]
    add_response(wall_app, 1)
    opened, _ = open_stream(client, f"{STREAM}&had={had_of(has)}")  # parts one change old
    (tick,), (answer,) = events_of(opened.data), answers_of(opened.data)
    assert answer is not None and tick["push"]["from"] == has["hashes"]
    assert without_age(json.loads(answer)) == without_age(
        poll(client, {"key": has["key"], "hashes": has["hashes"]}))
    assert b'"__dash_patch_update"' in answer  # patches: this worker built those parts


@pytest.mark.parametrize("had", [
    "", "junk", "trend:zz", "score.wall:0123456789abcdef", "nope:0123456789abcdef",
    ",".join(["trend:0123456789abcdef"] * 5), "trend:0123456789abcdef" + ",x" * 400])
def test_a_stream_refuses_parts_it_cannot_read_naming_had(wall_app, had):
    client = wall_app.server.test_client()
    before = client.get(TICK).get_json()
    response, watch = open_stream(client, f"{STREAM}&had={had}")
    assert response.status_code == 400 and watch is None
    assert response.get_json()["problems"][0]["path"] == "had"
    assert "16 hex digits" in response.get_json()["detail"]
    assert client.get(TICK).get_json() == before


def test_a_stream_takes_had_for_each_of_the_screens_parts_in_any_order(wall_app):
    client = wall_app.server.test_client()
    has = poll(client, None)["response"]["tv-state"]["data"]
    reverse = ",".join(f"{n}:{v}" for n, v in reversed(list(has["hashes"].items())))
    _, watch = open_stream(client, f"{STREAM}&had={reverse}")
    assert watch.hashes == has["hashes"]
    missing = ",".join(f"{n}:{v}" for n, v in list(has["hashes"].items())[1:])
    response, _ = open_stream(client, f"{STREAM}&had={missing}")
    assert response.status_code == 400


def test_a_stream_without_the_wall_page_sends_ticks_only(wall_app):
    client = wall_app.server.test_client()
    _, watch = open_stream(client)
    watch.page = None
    add_response(wall_app, 1)
    data, _ = watch.event(time.monotonic())
    assert answers_of(data) == [None] and "push" not in events_of(data)[0]


def test_streams_of_one_screen_share_one_event_per_round(wall_app, monkeypatch):
    """1,000 walls of one office: after a change each got its own answer made (50-70 us a
    stream, all before the first was written). Streams that show the same data and had the
    same parts get one event, made once; one that had other parts gets its own answer."""
    monkeypatch.setattr(StreamHub, "_run", lambda self: None)
    client = wall_app.server.test_client()
    made = []
    answer_bytes = ask_stream.poll_bytes.answer_bytes

    def counted(*args, **kwargs):
        made.append(args[4]["hashes"])
        return answer_bytes(*args, **kwargs)

    monkeypatch.setattr(ask_stream.poll_bytes, "answer_bytes", counted)
    hub = StreamHub(lambda batch: None)
    watches = []
    for key in range(5):
        _, watch = open_stream(client)
        hub.add(key, watch)
        watches.append(watch)
    _, other = open_stream(client, STREAM_PATH + "?dwell=10&product=Ledger")
    hub.add("other", other)
    hub.round(time.monotonic())  # the first events: the parts each screen has now
    behind = dict(watches[4].hashes, score="an older score")
    watches[4].hashes = behind  # a page that missed an event: it has other parts
    add_response(wall_app, 1)
    batch = dict((key, data) for key, data, _ in hub.round(time.monotonic()))
    assert len(made) == 3  # one answer for the four alike, one for the one behind, one filtered
    first = batch[0]
    assert b"\ndata: " in first and all(batch[k] is first for k in (1, 2, 3))
    assert batch[4] != first and batch["other"] != first
    assert [w.pushes for w in watches] == [1] * 5 and other.pushes == 1
    assert all(w.hashes == watches[0].hashes for w in watches)  # what each has after it
    (tick,) = events_of(batch[4])
    assert tick["push"]["from"] == behind
    # What the streams shared is what a stream made alone gets.
    twin = open_stream(client)[1]
    twin.stamp, twin.hashes = watches[0].stamp, dict(watches[0].hashes)
    add_response(wall_app, 2)
    batch = dict((key, data) for key, data, _ in hub.round(time.monotonic()))
    lone, _ = twin.event(time.monotonic())
    assert len(made) == 6
    (shared_tick,), (lone_tick,) = events_of(batch[1]), events_of(lone)
    assert {**shared_tick, "age": 0} == {**lone_tick, "age": 0}
    (shared_answer,), (lone_answer,) = answers_of(batch[1]), answers_of(lone)
    assert without_age(json.loads(shared_answer)) == without_age(json.loads(lone_answer))


def test_a_round_hands_its_events_over_as_it_makes_them(wall_app, monkeypatch):
    """The first streams' events are written while the round makes the rest."""
    monkeypatch.setattr(StreamHub, "_run", lambda self: None)
    client = wall_app.server.test_client()
    handed: list[int] = []
    hub = StreamHub(lambda batch: handed.append(len(batch)))
    count = 2 * ask_stream.DELIVER_EVERY + 5
    for key in range(count):
        hub.add(key, open_stream(client)[1])
    monkeypatch.setattr(ask_stream, "DELIVER_SECONDS", float("inf"))  # by count only here
    add_response(wall_app, 1)
    batch = hub.round(time.monotonic())
    assert len(batch) == count
    assert handed == [ask_stream.DELIVER_EVERY, ask_stream.DELIVER_EVERY, 5]


def test_a_round_of_slow_answers_hands_them_over_as_time_passes(wall_app, monkeypatch):
    """Distinct screens' answers are built in the round, a millisecond or two each: what is
    made is handed over every ``DELIVER_SECONDS``, not only every ``DELIVER_EVERY`` events
    (100 distinct screens, 50 a worker: every one waited for the whole round)."""
    monkeypatch.setattr(StreamHub, "_run", lambda self: None)
    client = wall_app.server.test_client()
    handed: list[tuple[float, int]] = []
    hub = StreamHub(lambda batch: handed.append((time.monotonic(), len(batch))))
    real = ask_stream.Watch.event

    def slow(self, *args, **kwargs):
        time.sleep(0.004)  # as long as a distinct screen's answer takes to build, or more
        return real(self, *args, **kwargs)

    for key in range(20):
        hub.add(key, open_stream(client)[1])
    monkeypatch.setattr(ask_stream.Watch, "event", slow)
    add_response(wall_app, 1)
    started = time.monotonic()
    batch = hub.round(started)
    assert len(batch) == 20 and sum(n for _, n in handed) == 20
    assert len(handed) >= 3  # 20 events of 4 ms or more: handed on at least every 10 ms
    assert handed[0][0] - started < 0.3 * (handed[-1][0] - started)


def test_a_publish_wakes_the_streams_first_and_leaves_their_screens_to_them(wall_app,
                                                                              monkeypatch):
    """The round that pushes the streams' answers starts as the poll job publishes, not
    after it built ahead for every screen (100 distinct streamed screens: p50 186 ms from the
    poll's read to the screen, 97-101 ms once the round went first), and the poll job does
    not build a streamed screen's answer as well: the round does."""
    monkeypatch.setattr(StreamHub, "_run", lambda self: None)
    services = get_services(wall_app)
    client = wall_app.server.test_client()
    hub = StreamHub(lambda batch: None)
    _, watch = open_stream(client, STREAM_PATH + "?dwell=10&region=EMEA")
    hub.add("emea", watch)
    assert services.poller.on_publish[0] == hub.wake  # before the poll job's building ahead
    hub.round(time.monotonic())
    add_response(wall_app, 1)
    (_, data, _), = hub.round(time.monotonic())
    assert answers_of(data)[0] is not None  # the answer was pushed
    keys = [screen.data_key for screen, _ in services.screens.recent()]
    assert watch.data_key in keys  # it is a screen seen lately...
    assert watch.data_key not in [s.data_key for s, _ in services.screens.within(60.0)]
