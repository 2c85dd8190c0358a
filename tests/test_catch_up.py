"""A poll that reaches a worker behind what its page was told reads the store first (issue 13).

Two apps on one store stand in for two workers (or instances). A page is told of a new
response by worker A's tick (asked or pushed) and sends its poll, naming that stamp, to worker
B, which has not polled since: B reads the store at once and answers with the new data. It
used to answer "nothing new", and a page told once (the stream) then showed the old data until
the next change.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import OperationalError

from app import live, poller
from app.services import get_services
from tests.conftest import make_record, seeded_app, wall_poll_body
from tests.test_poll_answer import UPDATE, state_of, through_dash

NEWS = "The new export saved my week"
COMMENTS = {"panels": "comments,score"}


@pytest.fixture
def workers(make_app, store):
    """(A, B): two apps on one store with the same 40 responses, each polled once."""
    first = seeded_app(make_app, store)
    second = make_app(store=store)
    get_services(second).poller.poll()
    yield first, second
    # A catch-up poll still running would read the next test's store while it is rebuilt.
    for thread in threading.enumerate():
        if thread.name == "nps-tv-catch-up":
            thread.join(timeout=15)


def tick(dash_app, query: dict) -> str:
    reply = dash_app.server.test_client().get("/api/v1/tick", query_string=query)
    assert reply.status_code == 200
    return reply.get_json()["stamp"]


def poll(dash_app, state, told: str | None, slow: bool = False) -> dict:
    headers = {live.TOLD_HEADER: told} if told is not None else {}
    client = dash_app.server.test_client()
    body = wall_poll_body({"query": COMMENTS}, state)
    if slow:
        with through_dash(dash_app):
            reply = client.post(UPDATE, json=body, headers=headers)
    else:
        reply = client.post(UPDATE, json=body, headers=headers)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    return reply.get_json()


def news_arrives(first) -> str:
    """A response only A has read; the stamp A's tick tells the page."""
    get_services(first).store.upsert_responses([make_record(
        5000, 10, when=datetime.now(UTC) - timedelta(minutes=1), comment=NEWS)])
    get_services(first).poller.poll()
    return tick(first, COMMENTS)


def count_polls(dash_app, monkeypatch) -> list[int]:
    services = get_services(dash_app)
    counted = [0]
    real = services.poller._poll  # noqa: SLF001 - counting the store reads

    def counting():
        counted[0] += 1
        return real()
    monkeypatch.setattr(services.poller, "_poll", counting)
    return counted


@pytest.mark.parametrize("slow", [False, True], ids=["fast-answer", "dash-callback"])
def test_a_poll_naming_a_newer_stamp_is_answered_with_the_newer_data(workers, slow):
    first, second = workers
    state = state_of(poll(second, None, None, slow))
    told = news_arrives(first)
    assert tick(second, COMMENTS) != told  # B has not read it: the gap
    unnamed = poll(second, state, None, slow)
    assert NEWS not in str(unnamed) and set(unnamed["response"]) == {"tv-status"}
    named = poll(second, state, told, slow)
    assert NEWS in str(named["response"]["tv-comments-data"])
    assert "behind" not in named["response"]["tv-status"]["data"]  # caught up
    assert tick(second, COMMENTS) == told  # B caught up for every later screen too


def test_a_stamp_this_worker_has_reads_nothing(workers, monkeypatch):
    first, second = workers
    state = state_of(poll(second, None, None))
    polls = count_polls(second, monkeypatch)
    assert set(poll(second, state, tick(second, COMMENTS))["response"]) == {"tv-status"}
    assert polls[0] == 0


@pytest.mark.parametrize("told", ["", "zz" * 12, "0" * 23, "0" * 25, "<script>", "0" * 5000])
def test_a_header_that_is_no_stamp_is_ignored(workers, monkeypatch, told):
    _first, second = workers
    polls = count_polls(second, monkeypatch)
    poll(second, None, told)
    assert polls[0] == 0


def test_screens_naming_made_up_stamps_share_few_reads(workers, monkeypatch):
    """Forty polls at once naming stamps no worker has: one or two reads of the store, not
    forty (a catch-up waits for a read that began after it asked, and they run at most one
    per CATCH_UP_GAP)."""
    _first, second = workers
    polls = count_polls(second, monkeypatch)
    barrier = threading.Barrier(40, timeout=30)
    answers: list[dict] = []

    def one(n: int) -> None:
        barrier.wait()
        answers.append(poll(second, None, f"{n:024x}"))

    threads = [threading.Thread(target=one, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 40
    assert 1 <= polls[0] <= 3


def test_catch_up_polls_are_spaced_and_bounded_in_time(workers, monkeypatch):
    _first, second = workers
    services = get_services(second)
    polls = count_polls(second, monkeypatch)
    started = datetime.now(UTC)
    for _ in range(5):
        services.poller.catch_up()
    took = (datetime.now(UTC) - started).total_seconds()
    assert polls[0] == 5  # each asked after the previous read began: each reads
    assert took >= 4 * poller.CATCH_UP_GAP * 0.9  # but no faster than one per gap


def test_the_catch_up_warms_other_screens_off_the_polls_thread(workers):
    """The poll that caught up needs the new snapshot, not every other screen's answer."""
    first, second = workers
    state = state_of(poll(second, None, None))
    ran_in: list[int] = []
    done = threading.Event()
    release = threading.Event()

    def slow_listener():
        ran_in.append(threading.get_ident())
        release.wait(10)  # still warming while the poll is answered
        done.set()
    get_services(second).poller.on_publish.append(slow_listener)
    answer = poll(second, state, news_arrives(first))
    assert NEWS in str(answer["response"]["tv-comments-data"])
    release.set()
    assert done.wait(10)
    assert ran_in and ran_in[0] != threading.get_ident()


def test_a_stamp_this_worker_has_moved_past_reads_nothing(workers, monkeypatch):
    """A page told by a worker that is behind names an older stamp: no read is needed."""
    first, second = workers
    state = state_of(poll(second, None, None))
    older = tick(second, COMMENTS)
    news_arrives(first)
    get_services(second).poller.poll()
    assert tick(second, COMMENTS) != older
    polls = count_polls(second, monkeypatch)
    answer = poll(second, state, older)
    assert NEWS in str(answer["response"]["tv-comments-data"])  # the newer data, at once
    assert polls[0] == 0


def test_a_slow_store_holds_a_poll_no_longer_than_the_catch_up_wait(workers, monkeypatch):
    """The catch-up read runs in a thread of its own: a poll naming a stamp this worker lacks
    answers within CATCH_UP_WAIT with the data it has, however long the read takes."""
    first, second = workers
    services = get_services(second)
    state = state_of(poll(second, None, None))
    told = news_arrives(first)
    real = services.poller._poll  # noqa: SLF001
    release = threading.Event()

    def slow():
        release.wait(10)
        return real()
    monkeypatch.setattr(services.poller, "_poll", slow)
    started = time.monotonic()
    answer = poll(second, state, told)
    took = time.monotonic() - started
    release.set()
    assert took < poller.CATCH_UP_WAIT + 1.0, took
    assert NEWS not in str(answer)  # not read yet: the old data, never a stalled wall
    assert answer["response"]["tv-status"]["data"]["behind"] is True  # the page asks again


@pytest.mark.parametrize("slow", [False, True], ids=["fast-answer", "dash-callback"])
def test_a_worker_that_could_not_catch_up_says_so_on_both_paths(workers, monkeypatch, slow):
    first, second = workers
    state = state_of(poll(second, None, None))
    told = news_arrives(first)
    monkeypatch.setattr(get_services(second).poller, "catch_up", lambda: False)  # timed out
    answer = poll(second, state, told, slow)
    assert answer["response"]["tv-status"]["data"]["behind"] is True
    assert "behind" not in poll(second, state, None, slow)["response"]["tv-status"]["data"]


# -- the unhappy cases (found in review) ----------------------------------------------------

def outage(*_args):
    raise OperationalError("SELECT 1", {}, Exception("connection refused"))


def test_catch_ups_during_an_outage_neither_count_nor_keep_trying(dash_app, monkeypatch):
    """/health judges the poll job's own reads: catch-ups failing in an outage must not turn
    it red within a second, nor keep reading (they pause after one fails)."""
    services = get_services(dash_app)
    services.poller.poll()
    tries = [0]

    def failing():
        tries[0] += 1
        outage()
    monkeypatch.setattr(services.poller, "_poll", failing)
    for _ in range(services.settings.health_failures + 2):
        services.poller.catch_up()
    assert tries[0] == 1
    assert services.poller.consecutive_failures == 0
    assert dash_app.server.test_client().get("/health").status_code == 200
    services.poller.poll()  # the poll job's own failed read still counts
    assert services.poller.consecutive_failures == 1


def test_the_caller_never_runs_the_catch_up_read_itself(dash_app, monkeypatch):
    services = get_services(dash_app)
    services.poller.poll()

    def slow():
        time.sleep(poller.CATCH_UP_WAIT + 1.0)
        return False
    monkeypatch.setattr(services.poller, "_poll", slow)
    started = time.monotonic()
    assert services.poller.catch_up() is False
    assert time.monotonic() - started < poller.CATCH_UP_WAIT + 0.3


def test_catch_up_reads_and_publishes_run_in_one_thread_at_a_time(dash_app, monkeypatch):
    """Publishing warms every screen's answer: catch-ups faster than it must not pile up
    threads, each warming again."""
    services = get_services(dash_app)
    services.poller.poll()
    monkeypatch.setattr(services.poller, "_poll", lambda: True)
    release = threading.Event()
    services.poller.on_publish.append(lambda: release.wait(10))
    try:
        for _ in range(4):
            services.poller.catch_up()
        alive = [t for t in threading.enumerate() if t.name == "nps-tv-catch-up"]
        assert len(alive) == 1
    finally:
        release.set()


def test_waiting_catch_ups_never_take_more_than_half_the_threads(dash_app, monkeypatch):
    services = get_services(dash_app)
    services.poller.poll()
    monkeypatch.setattr(services.poller, "_poll", lambda: time.sleep(1.0) or False)
    limit = services.poller.max_waiting
    assert limit == services.settings.threads // 2
    took: list[float] = []

    def one():
        started = time.monotonic()
        services.poller.catch_up()
        took.append(time.monotonic() - started)
    threads = [threading.Thread(target=one) for _ in range(2 * limit)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    quick = [t for t in took if t < 0.1]
    assert len(took) == 2 * limit and len(quick) >= limit  # the rest answered at once


def test_a_stamp_of_events_that_came_back_is_caught_up(make_app, sqlite_store):
    """Events can return to an earlier state: a stamp equal to one this worker had before,
    with other events, may be newer than what it shows (it read the event, the other worker
    read it removed)."""
    first = seeded_app(make_app, sqlite_store)
    second = make_app(store=sqlite_store)
    get_services(second).poller.poll()
    state = state_of(poll(second, None, None))
    before = tick(second, COMMENTS)
    event = sqlite_store.add_event(datetime.now(UTC) - timedelta(days=1), "Outage", "note")
    get_services(second).poller.poll()  # B reads the event, and stamps it
    assert tick(second, COMMENTS) != before
    sqlite_store.remove_event(event)  # A, which never saw it, reads it removed
    get_services(first).poller.poll()
    told = tick(first, COMMENTS)
    assert told == before  # the same content as B's earlier snapshot: the same stamp
    poll(second, state, told)
    assert tick(second, COMMENTS) == told  # B read the store rather than keep the event
