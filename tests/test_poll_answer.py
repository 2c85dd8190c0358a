"""The wall's poll answered before Dash's dispatch (app/poll_answer.py) says exactly what the
Dash callback says, builds its bytes once for all screens in the same place, and has them
ready when the poller publishes."""

from __future__ import annotations

import json
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta

import pytest

from app import live, tv
from app.part_cache import ActiveScreens, AnswerBook
from app.services import get_services
from tests.conftest import LINK_SECRET, make_record, seeded_app, wall_poll_body

UPDATE = "/_dash-update-component"


@pytest.fixture
def wall_app(make_app, sqlite_store):
    return seeded_app(make_app, sqlite_store)


@contextmanager
def through_dash(dash_app):
    """Requests inside go through Dash's own callback dispatch, as before the fast path."""
    hooks = dash_app.server.before_request_funcs[None]
    fast = [hook for hook in hooks if hook.__name__ == "answer_poll"]
    assert len(fast) == 1  # installed once, for the wall
    hooks.remove(fast[0])
    try:
        yield
    finally:
        hooks.append(fast[0])


def post(client, query: dict, state) -> dict:
    reply = client.post(UPDATE, json=wall_poll_body({"query": query}, state))
    assert reply.status_code == 200, reply.get_data(as_text=True)
    assert reply.content_type == "application/json"
    return reply.get_json()


def both(dash_app, client, query: dict, state) -> tuple[dict, dict]:
    """(the fast answer, Dash's answer) to the same poll, the status's age left out (it is
    the seconds since the last poll, which moves between the two)."""
    fast = post(client, query, state)
    with through_dash(dash_app):
        slow = post(client, query, state)
    for answer in (fast, slow):
        answer["response"]["tv-status"]["data"].pop("age")
    return fast, slow


def state_of(answer: dict) -> dict:
    return answer["response"][tv.IDS.state]["data"]


def write(dash_app, i: int, comment: str = "Fast support") -> None:
    services = get_services(dash_app)
    services.store.upsert_responses([make_record(
        1000 + i, 9, when=datetime.now(UTC) - timedelta(minutes=1), comment=comment,
        product="Ledger", region="EMEA")])
    services.poller.poll()


def link_client(dash_app, name: str, comments: str):
    """A test client holding the cookie of a new wall link showing comments and score."""
    book = get_services(dash_app).links
    _row, token = book.links.create(name, "wall", "panels=comments,score", comments)
    book.refresh(force=True)
    client = dash_app.server.test_client()
    assert client.get(f"/s/{token}").status_code == 303
    return client


@pytest.mark.parametrize("query", [{}, {"panels": "comments,score", "product": "Ledger"}])
def test_the_fast_answer_is_what_dash_answers_in_every_case(wall_app, query):
    client = wall_app.server.test_client()
    fast, slow = both(wall_app, client, query, None)  # a first poll: every part whole
    assert fast == slow and len(fast["response"]) > 3
    state = state_of(fast)
    fast, slow = both(wall_app, client, query, state)  # nothing new: the status alone
    assert fast == slow and list(fast["response"]) == [tv.IDS.status]
    write(wall_app, 1, comment="The new one")
    fast, slow = both(wall_app, client, query, state)  # after a change: patches
    assert fast == slow and "The new one" in json.dumps(fast)
    assert "__dash_patch_update" in json.dumps(fast)
    unknown = {**state, "hashes": dict.fromkeys(state["hashes"], "from-another-worker")}
    fast, slow = both(wall_app, client, query, unknown)  # unknown parts: sent whole
    assert fast == slow and "__dash_patch_update" not in json.dumps(fast)
    ahead = {**state_of(fast), "token": "x", "mark": [2**62, 2**62]}  # ahead of this process
    fast, slow = both(wall_app, client, query, ahead)
    assert fast == slow and list(fast["response"]) == [tv.IDS.status]


def test_a_hostile_state_is_answered_like_dash_answers_it(wall_app):
    client = wall_app.server.test_client()
    for state in ({"hashes": {"score": ["not", "text"]}, "token": 5},
                  {"key": None, "mark": "soon"}, "not a state", 7):
        fast, slow = both(wall_app, client, {}, state)
        assert fast == slow and tv.IDS.state in fast["response"]


def test_screens_in_the_same_place_share_one_build(wall_app):
    client = wall_app.server.test_client()
    book = get_services(wall_app).answers
    state = state_of(post(client, {}, None))
    write(wall_app, 2)
    before = book.builds
    answers = {json.dumps(post(client, {}, state)["response"]["tv-score-data"])
               for _ in range(20)}
    assert len(answers) == 1
    assert book.builds - before <= 1  # built by the poll job's warm-up, or by the first


def test_the_poll_job_builds_the_next_answer_before_any_screen_asks(wall_app):
    client = wall_app.server.test_client()
    services = get_services(wall_app)
    book = services.answers
    state = state_of(post(client, {}, None))
    write(wall_app, 3)  # publishes: the warm-up builds this screen's next answer
    built = book.builds
    assert post(client, {}, state)["response"]["tv-score-data"]
    assert book.builds == built  # the request found it ready


def test_the_poll_job_builds_ahead_for_a_hundred_distinct_screens(wall_app, monkeypatch):
    """Every screen that asked lately is built ahead, not the last 32 of them: with 100
    screens each on its own filters, 68 were built on their own requests after every
    change, one at a time (the book builds one at a time), while the others waited.
    (The passes' time budget is lifted: a busy machine must not decide this test.)"""
    import app.parts as parts
    import app.poll_answer as poll_answer
    from benchmarks.bench_viewers import distinct_queries
    for module in (parts, poll_answer):
        monkeypatch.setattr(module, "warm_seconds", lambda _services: 60.0)
    client = wall_app.server.test_client()
    book = get_services(wall_app).answers
    queries = distinct_queries(100)
    states = [state_of(post(client, query, None)) for query in queries]
    write(wall_app, 4)
    built = book.builds
    for query, state in zip(queries, states, strict=True):
        assert tv.IDS.state in post(client, query, state)["response"]
    assert book.builds == built  # every one found ready


def test_a_scoped_link_gets_its_own_data_and_the_gate_still_refuses(make_app, sqlite_store):
    dash_app = seeded_app(make_app, sqlite_store, access="links")
    hidden = link_client(dash_app, "hidden", "hide")
    shown = link_client(dash_app, "shown", "show")
    # The unscoped screen's answer is built first; the scoped one must not get its bytes.
    assert LINK_SECRET in json.dumps(post(shown, {"panels": "comments"}, None))
    sent = post(hidden, {"panels": "comments"}, None)
    assert LINK_SECRET not in json.dumps(sent) and "tv-comments-data" not in sent["response"]
    refused = dash_app.server.test_client().post(UPDATE, json=wall_poll_body({}, None))
    assert refused.status_code in (401, 403)


def test_the_fast_answer_carries_the_headers_dash_sends(wall_app):
    client = wall_app.server.test_client()
    fast = client.post(UPDATE, json=wall_poll_body({"query": {}}, None))
    with through_dash(wall_app):
        slow = client.post(UPDATE, json=wall_poll_body({"query": {}}, None))

    def shown(reply):
        return {k: v for k, v in reply.headers.items() if k != "Content-Length"}
    assert shown(fast) == shown(slow) and "Content-Security-Policy" in shown(fast)


def test_the_answer_book_stays_within_its_bytes():
    book = AnswerBook(max_bytes=1000)
    for i in range(50):
        book.get((i, 0, "key", ("score",), (None,)), lambda: (b"x" * 300, "token", {}))
    assert book.builds == 50 and book.bytes <= 1000
    assert book.newest("key", ("score",)) == {}


def test_building_ahead_takes_the_latest_screens_first_and_stops_in_time(monkeypatch):
    """The poll job's passes over recent screens (``ActiveScreens.within``) go from the
    screen that asked last, and end once their time is spent, however many screens there
    are (made-up filters by the thousand cannot hold the poll job)."""
    from types import SimpleNamespace

    import app.part_cache as part_cache
    from app.part_cache import ActiveScreens

    clock = [1000.0]
    monkeypatch.setattr(part_cache, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    screens = ActiveScreens(size=600)
    for i in range(600):
        screens.note(SimpleNamespace(data_key=f"screen-{i}"), ("score",))
    assert len(screens.recent()) == 600  # none left out for being more than 32
    taken = []
    for screen, _names in screens.within(1.5):
        taken.append(screen.data_key)
        clock[0] += 0.01  # each build takes 10 ms
    assert taken[:2] == ["screen-599", "screen-598"]
    assert len(taken) == 151  # 1.5 s of 10 ms builds, and the one under way


def test_both_passes_after_a_publish_leave_the_poll_job_half_its_interval(monkeypatch):
    """A flood of made-up filters (600 screens, each build 10 ms): the parts pass and the
    answers pass together end within half a poll interval, so the poll job (poll + both
    passes) stays inside its interval and the stream's wake after them comes soon. Each pass
    taking half an interval held the job 2.5-2.9 s of a 3 s interval (measured, 500 screens)."""
    from types import SimpleNamespace

    import app.part_cache as part_cache
    import app.parts as parts
    import app.poll_answer as poll_answer
    from app.part_cache import ActiveScreens

    clock = [1000.0]
    monkeypatch.setattr(part_cache, "time", SimpleNamespace(monotonic=lambda: clock[0]))

    def build(*_args, **_kwargs):
        clock[0] += 0.01
        return None, {}
    monkeypatch.setattr(parts, "build_parts", build)
    monkeypatch.setattr(poll_answer, "fragment", build)
    names = ("score",)
    screens = ActiveScreens(size=600)
    for i in range(600):
        screens.note(SimpleNamespace(data_key=f"made-up-{i}"), names)
    services = SimpleNamespace(
        settings=SimpleNamespace(poll_seconds=3.0, timezone="UTC"),
        poller=SimpleNamespace(snapshot=None), screens=screens,
        answers=SimpleNamespace(newest=lambda _key, _names: {}))
    started = clock[0]
    assert parts.prewarm(services) > 0
    assert poll_answer.warm(services, SimpleNamespace(part_names=lambda _s: names)) > 0
    assert clock[0] - started <= 3.0 / 2 + 2 * 0.01  # and the one build under way in each


def test_a_screen_two_changes_behind_with_a_mixed_state_gets_dashs_answer(wall_app):
    """A distinct screen's state two versions old, one part's fingerprint made up and a
    name it does not show: the patches from the older parts (the book keeps three), the
    unknown part whole and the extra name ignored, byte for byte as Dash answers."""
    client = wall_app.server.test_client()
    query = {"panels": "comments,score,trend", "region": "EMEA", "window": "7d"}
    fast, slow = both(wall_app, client, query, None)
    old = state_of(fast)
    write(wall_app, 1, comment="First")
    both(wall_app, client, query, old)
    write(wall_app, 2, comment="Second")
    hashes = dict(old["hashes"])
    made_up = sorted(hashes)[0]
    state = {**old, "hashes": {**hashes, made_up: "made-up", "no-such-part": "x"}}
    fast, slow = both(wall_app, client, query, state)
    assert fast == slow and "Second" in json.dumps(fast)
    assert "__dash_patch_update" in json.dumps(fast)


def test_walls_that_keep_asking_come_before_a_flood_of_filters_asked_once():
    """A wall asks after every change (or is pushed its answer): it is built ahead before
    filters asked once, however many and however late, and they cannot push it out."""
    from types import SimpleNamespace

    from app.part_cache import ActiveScreens
    screens = ActiveScreens(size=512)
    walls = [SimpleNamespace(data_key=f"wall-{i}") for i in range(10)]
    for _ in range(3):
        for wall in walls:
            screens.note(wall, ("score",))
    for i in range(2000):
        screens.note(SimpleNamespace(data_key=f"made-up-{i}"), ("score",))
    order = [screen.data_key for screen, _names in screens.recent()]
    assert len(order) == 512
    assert order[:10] == [f"wall-{i}" for i in range(9, -1, -1)]  # kept, and first
    assert order[10] == "made-up-1999"  # then the latest of the rest


@pytest.mark.parametrize("path", ["fast", "dash"])
def test_a_poll_whose_stream_is_open_is_not_built_ahead_where_it_lands(wall_app, path):
    """A streamed wall's polls (its 30 s safety net, a push it could not take) reach any
    worker; noted there, every worker built ahead for every streamed screen on every change
    (2 workers: 87-93 of 100 distinct screens each). Its stream's worker builds for it."""
    client = wall_app.server.test_client()
    screens = get_services(wall_app).screens
    query = {"panels": "comments,score", "region": "APAC", "dwell": "11"}

    def noted() -> list[str]:
        return [screen.data_key for screen, _ in screens.recent()]

    before = noted()
    with through_dash(wall_app) if path == "dash" else nullcontext():
        reply = client.post(UPDATE, json=wall_poll_body({"query": query}, None),
                            headers={live.STREAMED_HEADER: "1"})
        assert reply.status_code == 200
        assert tv.IDS.state in reply.get_json()["response"]  # answered all the same
        assert noted() == before
        post(client, query, None)  # its stream is closed: it polls, so it is built ahead here
    assert len(noted()) == len(before) + 1


def test_a_screen_its_stream_pushed_is_left_to_the_streams_round():
    from types import SimpleNamespace
    screens = ActiveScreens()
    wall = SimpleNamespace(data_key="wall")
    screens.note(wall, ("score",), streamed=True)
    assert [s.data_key for s, _ in screens.recent()] == ["wall"]
    assert list(screens.within(1.0)) == []
    screens.note(wall, ("score",))  # its stream closed: it polls
    assert [s.data_key for s, _ in screens.within(1.0)] == ["wall"]
