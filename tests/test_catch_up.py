"""A poll that reaches a worker behind what its page was told reads the store first (issue 13).

Two apps on one store stand in for two workers (or instances). A page is told of a new
response by worker A's tick (asked or pushed) and sends its poll, naming that stamp, to worker
B, which has not polled since: B reads the store at once and answers with the new data. It
used to answer "nothing new", and a page told once (the stream) then showed the old data until
the next change.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

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
    return first, second


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
    assert NEWS in str(named["response"]["tv-comments-body"])
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
    assert NEWS in str(answer["response"]["tv-comments-body"])
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
    assert NEWS in str(answer["response"]["tv-comments-body"])  # the newer data, at once
    assert polls[0] == 0
