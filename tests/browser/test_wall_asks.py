"""The wall under the ask scheme (issue 13) in headless Chromium, both ways: sent its ticks
(the stream, app/ask_stream.py) and asking /api/v1/tick (``NPS_TV_ASK_STREAM=false``). It runs
its Dash poll only when its stamp changes, yet still updates within the poll interval plus 2 s
(applying patches), shows stale data as stale, reloads on a new build and rings the gong."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from selenium.webdriver.common.by import By

from app import ask_stream, live
from app.services import get_services
from tests.browser.conftest import serve_wall
from tests.browser.test_display_safety import wait_until
from tests.browser.test_wall import text_content, wait_for_text
from tests.conftest import make_record

POLL_SECONDS = 2.0
REACH_SECONDS = POLL_SECONDS + 2  # the budget for the new scheme
STALE_SECONDS = 3.0
POLLS_JS = ("return performance.getEntriesByType('resource').filter(function (e) {"
            " return e.name.indexOf('_dash-update-component') >= 0; }).length;")
HEALTH_JS = ("return performance.getEntriesByType('resource').filter(function (e) {"
             " return /\\/health$/.test(e.name) && e.responseEnd > 0; }).length;")


@pytest.fixture(params=["stream", "ticks"])
def wall(request, dash_duo, settings):
    """A running server (2 s poll, 3 s staleness) on a store with a few weeks of data, whose
    walls are sent their ticks (``stream``) or ask for them (``ticks``); a new build reloads at
    once (the fleet's spread of build reloads has tests of its own in test_wall_light.py)."""
    yield from serve_wall(dash_duo, settings.replace(stale_seconds=STALE_SECONDS,
                                                     build_reload_spread_seconds=0.0,
                                                     ask_stream=request.param == "stream"),
                          POLL_SECONDS)


# The page's start-up work is done: Plotly's bundle evaluated (every wall mounts its trend
# graph, so every wall loads it) and that graph drawn; the time, in the page's clock.
SETTLED_JS = ("return window.Plotly && document.querySelector('#tv-trend-graph .main-svg')"
              " ? Date.now() : 0;")
HEARD_JS = "return window.npsTv.status.receivedAt;"


def wait_settled(dash_duo) -> None:
    """Wait until the wall's start-up work is done and it has heard the server since.

    The page shows its first data before Plotly's bundle (3.5 MB) has loaded; evaluating it is
    one long task that blocks the page's timers and painting, a few seconds on a loaded
    machine (7 s at load 8: the label stayed fresh, then went amber and red within 50 ms). A
    test whose budget starts before that measures the load, not the wall: wait it out first.
    """
    drawn = wait_until(lambda: dash_duo.driver.execute_script(SETTLED_JS), 30,
                       "Plotly loaded and the trend graph drawn")
    wait_until(lambda: (dash_duo.driver.execute_script(HEARD_JS) or 0) > drawn, 10,
               "an answer heard since")


def asks(dash_duo) -> dict:
    return dash_duo.driver.execute_script(
        "return {asks: window.npsAsk.asks, changes: window.npsAsk.changes,"
        " events: window.npsAsk.events, streaming: window.npsAsk.streaming,"
        " served: window.npsAsk.served, missed: window.npsAsk.missed};")


def ask_the_server(dash_duo) -> None:
    """The page asks the server for every poll, as one whose parts never match what its
    stream pushed (``npsAsk.serve``)."""
    dash_duo.driver.execute_script("window.npsAsk.serve = function () { return null; };")


def test_an_idle_wall_hears_but_does_not_poll(wall):
    dash_duo, dash_app = wall
    streams = get_services(dash_app).settings.ask_stream
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score,comments&dwell=600")
    wait_for_text(dash_duo, "#score-value", "50", timeout=10)
    wait_settled(dash_duo)
    wait_until(lambda: asks(dash_duo)["changes"] >= 1, 10, "the first tick")
    if streams:
        wait_until(lambda: asks(dash_duo)["streaming"], 10, "the stream to open")
    before_polls = dash_duo.driver.execute_script(POLLS_JS)
    before = asks(dash_duo)
    time.sleep(8)
    after = asks(dash_duo)
    if streams:  # told at each poll (2 s) and every 5 s at least, and never asks meanwhile
        assert after["streaming"] and after["events"] - before["events"] >= 2
        assert after["asks"] == before["asks"]
    else:
        assert after["asks"] - before["asks"] >= 5  # once a second
        assert after["events"] == 0
    assert after["changes"] == before["changes"]  # nothing changed: no poll triggered
    assert dash_duo.driver.execute_script(POLLS_JS) - before_polls <= 1  # not one a second
    # The watchdog: a told wall hears the build in its events and asks no /health.
    health = dash_duo.driver.execute_script(HEALTH_JS)
    dash_duo.driver.execute_script("window.npsTv.watchdog.check();")
    if streams:
        time.sleep(1)
        assert dash_duo.driver.execute_script(HEALTH_JS) == health
    else:
        wait_until(lambda: dash_duo.driver.execute_script(HEALTH_JS) > health, 5, "/health")


# The page's safety net made short for a test (30 s on a real wall), timed from now.
SAFETY_JS = ("document.getElementById('tv-root').setAttribute('data-safety-ms', arguments[0]);"
             "window.npsAsk.polled();"
             "return [window.npsAsk.safetyAt - window.npsAsk.polledAt, window.npsAsk.safeties];")


def test_the_safety_net_polls_after_a_quiet_spell_not_while_changes_come(wall):
    """A wall polls all the same when its poll has not run for its safety net's time (and a
    random part of half that more, so a fleet opened together does not poll together), timed
    from its last poll, asked or answered from a push, not from its load."""
    dash_duo, dash_app = wall
    driver = dash_duo.driver
    driver.get(f"{dash_duo.server_url}/tv?panels=score,comments&dwell=600")
    wait_for_text(dash_duo, "#score-value", "50", timeout=10)
    assert dash_duo.find_element("#tv-root").get_attribute("data-safety-ms") == "30000"
    wait_settled(dash_duo)
    wait_until(lambda: asks(dash_duo)["changes"] >= 1, 10, "the first tick")
    # Nothing new: a poll 1.5-2.25 s after the last, at a random point of each period (the
    # page looks once a second, so 1.5-3.25 s apart).
    waits = [driver.execute_script(SAFETY_JS, "1500")[0] for _ in range(20)]
    assert all(1500 <= w <= 2250 for w in waits) and len(set(waits)) > 1, waits
    before_polls = driver.execute_script(POLLS_JS)
    safeties = driver.execute_script(SAFETY_JS, "1500")[1]
    time.sleep(10)
    ran = driver.execute_script("return window.npsAsk.safeties;") - safeties
    assert 2 <= ran <= 7, ran  # every 1.5-3.25 s; fewer where a loaded machine's timers lag
    wait_until(lambda: driver.execute_script(POLLS_JS) - before_polls >= ran, 5,
               "each safety poll answered by the server")
    # A response every second (the server reads every 2 s): each change runs the poll, asked
    # or answered from its push, so a 6 s safety net never comes due.
    safeties = driver.execute_script(SAFETY_JS, "6000")[1]
    store = get_services(dash_app).store
    changes = asks(dash_duo)["changes"]
    for i in range(9):
        store.upsert_responses([make_record(5000 + i, 9, when=datetime.now(UTC))])
        time.sleep(1)
    assert asks(dash_duo)["changes"] - changes >= 3
    assert driver.execute_script("return window.npsAsk.safeties;") == safeties


def test_a_wall_whose_ticks_never_answer_still_polls_at_its_safety_net(wall):
    """Where a proxy refuses the tick and its stream, the wall still shows new data through
    its safety-net polls, as it did when Dash's timer ran them."""
    dash_duo, dash_app = wall
    driver = dash_duo.driver
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/api/v1/tick*"]})
    try:
        driver.get(f"{dash_duo.server_url}/tv?panels=score&dwell=600")
        wait_for_text(dash_duo, "#score-value", "50", timeout=10)
        driver.execute_script(SAFETY_JS, "1500")
        get_services(dash_app).store.upsert_responses([
            make_record(6000 + i, 0, when=datetime.now(UTC)) for i in range(10)])
        # The first safety poll may come after the server's read: the next one shows it
        # (1.5-3.25 s apart; Plotly's bundle may block the page's timers a few seconds).
        wait_for_text(dash_duo, "#score-value", "20", timeout=20)
        stamp, safeties, streaming = driver.execute_script(
            "var a = window.npsAsk; return [a.stamp, a.safeties, a.streaming];")
        assert stamp is None and safeties >= 1 and not streaming
    finally:
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})


def test_a_new_response_shows_within_the_poll_plus_two_seconds_as_a_patch(wall):
    dash_duo, dash_app = wall
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score,comments,trend&dwell=600")
    wait_for_text(dash_duo, "#score-value", "50", timeout=10)
    wait_settled(dash_duo)
    wait_until(lambda: asks(dash_duo)["changes"] >= 1, 10, "the first ask")
    services = get_services(dash_app)
    unique = "Exports to the ERP finally work"
    services.store.upsert_responses([make_record(1000 + i, 0, when=datetime.now(UTC),
                                                 comment=unique, product="Ledger")
                                     for i in range(10)])
    took = wait_for_text(dash_duo, "#tv-panel-comments", unique, timeout=REACH_SECONDS)
    wait_for_text(dash_duo, "#score-value", "20", timeout=REACH_SECONDS - took + 0.5)
    assert text_content(dash_duo, "#score-value").strip() == "20"
    # The patched page shows what a freshly loaded one does.
    cards = dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('#tv-panel-comments .comment-card'))"
        ".map(function (c) { return c.getAttribute('data-id'); });")
    book = services.patches
    assert book.sent_patches >= 1  # the comments and the score came as patches
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score,comments,trend&dwell=600")
    wait_for_text(dash_duo, "#score-value", "20", timeout=10)
    fresh = dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('#tv-panel-comments .comment-card'))"
        ".map(function (c) { return c.getAttribute('data-id'); });")
    assert cards == fresh


def test_the_poll_names_the_stamp_the_page_was_told(wall, monkeypatch):
    """The tick and the poll may reach different workers: the poll says which stamp the page
    was told, so one that has not read that data yet reads it first (tests/test_catch_up.py)."""
    dash_duo, dash_app = wall
    told: list[str | None] = []
    real = live.catch_up

    def recording(services, screen, today, stamp):
        told.append(stamp)
        return real(services, screen, today, stamp)
    monkeypatch.setattr(live, "catch_up", recording)
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score,comments&dwell=600")
    wait_for_text(dash_duo, "#score-value", "50", timeout=10)
    wait_settled(dash_duo)
    ask_the_server(dash_duo)  # a told page whose parts matched would not poll the server
    get_services(dash_app).store.upsert_responses([make_record(
        2000, 0, when=datetime.now(UTC), comment="Named stamp", product="Ledger")])
    wait_for_text(dash_duo, "#tv-panel-comments", "Named stamp", timeout=REACH_SECONDS)
    stamp = dash_duo.driver.execute_script("return window.npsAsk.stamp;")
    assert stamp and stamp in told, (stamp, told)


def record_streamed_header(monkeypatch) -> list[str | None]:
    """What each poll's X-NPS-TV-Streamed says, in order, as ``live.builds_ahead`` reads it."""
    said: list[str | None] = []
    real = live.builds_ahead

    def recording(headers):
        said.append(headers.get(live.STREAMED_HEADER))
        return real(headers)
    monkeypatch.setattr(live, "builds_ahead", recording)
    return said


def test_a_poll_says_whether_the_pages_stream_is_open(wall, monkeypatch):
    """A streamed page's poll says so (X-NPS-TV-Streamed): the worker it reaches leaves
    building its answers ahead to the stream's (app/live.py, ``builds_ahead``)."""
    dash_duo, dash_app = wall
    said = record_streamed_header(monkeypatch)
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score,comments&dwell=600")
    wait_for_text(dash_duo, "#score-value", "50", timeout=10)
    wait_settled(dash_duo)
    ask_the_server(dash_duo)
    streaming = asks(dash_duo)["streaming"]
    get_services(dash_app).store.upsert_responses([make_record(
        2002, 0, when=datetime.now(UTC), comment="Said so", product="Ledger")])
    wait_for_text(dash_duo, "#tv-panel-comments", "Said so", timeout=REACH_SECONDS)
    assert said and said[-1] == ("1" if streaming else None), (streaming, said)


def test_a_streamed_pages_first_poll_says_its_stream_is_coming(wall, monkeypatch):
    """The page polls as it opens, before its stream is open: that poll says the stream is
    coming, so the worker it reaches does not build ahead for the screen for two minutes
    beside the stream's (``ActiveScreens.max_age``); a page without a stream says nothing."""
    dash_duo, dash_app = wall
    said = record_streamed_header(monkeypatch)
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score,comments&dwell=600")
    wait_for_text(dash_duo, "#score-value", "50", timeout=10)
    streams = get_services(dash_app).settings.ask_stream
    assert said and said[0] == ("1" if streams else None), (streams, said)
    # Built ahead by the poll job: the asking page's screen, not the streamed one's.
    ahead = [names for screen, names in get_services(dash_app).screens.recent(polled=True)
             if screen.panels == ("score", "comments")]
    assert len(ahead) == (0 if streams else 1), (streams, ahead)


def test_a_poll_answered_by_a_worker_behind_its_stamp_is_asked_again(wall, monkeypatch):
    """A worker that could not catch up with the named stamp says so (``behind``): the page
    polls again shortly instead of keeping old data until the next change."""
    dash_duo, dash_app = wall
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score,comments&dwell=600")
    wait_for_text(dash_duo, "#score-value", "50", timeout=10)
    wait_settled(dash_duo)
    ask_the_server(dash_duo)
    told: list[str | None] = []
    real = live.catch_up

    def behind_once(services, screen, today, stamp):
        told.append(stamp)
        if stamp and told.count(stamp) == 1:
            return True  # as if this worker's catch-up had timed out
        return real(services, screen, today, stamp)
    monkeypatch.setattr(live, "catch_up", behind_once)
    get_services(dash_app).store.upsert_responses([make_record(
        2001, 0, when=datetime.now(UTC), comment="Asked again", product="Ledger")])
    wait_until(lambda: dash_duo.driver.execute_script("return window.npsAsk.retries;") >= 1,
               REACH_SECONDS, "a poll answered behind")
    stamp = dash_duo.driver.execute_script("return window.npsAsk.stamp;")
    wait_until(lambda: told.count(stamp) >= 2, 3, "the poll asked again")
    assert dash_duo.driver.execute_script("return window.npsAsk.retries;") == 1  # caught up


@pytest.fixture
def told_wall(dash_duo, settings):
    """``wall`` sent its ticks only (the stream)."""
    yield from serve_wall(dash_duo, settings.replace(stale_seconds=STALE_SECONDS,
                                                     ask_stream=True), POLL_SECONDS)


def test_a_told_wall_applies_the_pushed_answer_without_asking(told_wall):
    dash_duo, dash_app = told_wall
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score,comments,trend&dwell=600")
    wait_for_text(dash_duo, "#score-value", "50", timeout=10)
    wait_settled(dash_duo)
    wait_until(lambda: asks(dash_duo)["streaming"], 10, "the stream to open")
    time.sleep(1)  # the page's first poll
    polls = dash_duo.driver.execute_script(POLLS_JS)
    store = get_services(dash_app).store
    for i, (score, comment) in enumerate([(0, "Pushed, not asked"), (10, "Pushed again")]):
        store.upsert_responses([make_record(3000 + i, score, when=datetime.now(UTC),
                                            comment=comment, product="Ledger")])
        wait_for_text(dash_duo, "#tv-panel-comments", comment, timeout=REACH_SECONDS)
        wait_until(lambda n=i: asks(dash_duo)["served"] >= n + 1, 2, "the answer served")
    assert asks(dash_duo)["missed"] == 0
    assert dash_duo.driver.execute_script(POLLS_JS) == polls  # not one poll sent
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score,comments,trend&dwell=600")
    wait_for_text(dash_duo, "#tv-panel-comments", "Pushed again", timeout=10)


def test_a_told_wall_without_the_pushed_answers_parts_asks_the_server(told_wall, monkeypatch):
    """A pushed answer starts from parts the page does not have (it missed an event): the
    page polls the server as before, and the next push starts from what that left."""
    dash_duo, dash_app = told_wall
    real = ask_stream.poll_bytes.current_hashes
    # one part the page does not have (the others as it has them)
    monkeypatch.setattr(ask_stream.poll_bytes, "current_hashes",
                        lambda *a: {**real(*a), "score": "not-what-the-page-has"})
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score,comments&dwell=600")
    wait_for_text(dash_duo, "#score-value", "50", timeout=10)
    wait_settled(dash_duo)
    wait_until(lambda: asks(dash_duo)["streaming"], 10, "the stream to open")
    time.sleep(1)
    polls = dash_duo.driver.execute_script(POLLS_JS)
    store = get_services(dash_app).store
    store.upsert_responses([make_record(3100, 0, when=datetime.now(UTC),
                                        comment="Missed the push", product="Ledger")])
    wait_for_text(dash_duo, "#tv-panel-comments", "Missed the push", timeout=REACH_SECONDS)
    assert asks(dash_duo)["missed"] == 1 and asks(dash_duo)["served"] == 0
    assert dash_duo.driver.execute_script(POLLS_JS) == polls + 1
    store.upsert_responses([make_record(3101, 10, when=datetime.now(UTC),
                                        comment="Back in step", product="Ledger")])
    wait_for_text(dash_duo, "#tv-panel-comments", "Back in step", timeout=REACH_SECONDS)
    wait_until(lambda: asks(dash_duo)["served"] == 1, 2, "the next answer served")


def test_a_told_wall_whose_stream_pushes_from_other_parts_reopens_it_from_its_own(
        told_wall, monkeypatch):
    """The stream believes the page has parts it has not (the page's poll reached a worker
    or instance at another snapshot): after the push it could not take and its poll, the
    page reopens the stream naming the parts it has, and the next push is served."""
    dash_duo, dash_app = told_wall
    real, first, had = ask_stream.Watch._answer, [], []

    def believes_wrong(self, names, start, status):
        pushed, answer, hashes = real(self, names, start, status)
        first.append(first[0] if first else self)
        if self is first[0] and hashes:  # the first stream's record goes wrong after a push
            hashes = {**hashes, "score.wall": "0" * 16}
        return pushed, answer, hashes
    monkeypatch.setattr(ask_stream.Watch, "_answer", believes_wrong)
    real_parse = ask_stream.parse_had
    monkeypatch.setattr(ask_stream, "parse_had",
                        lambda text, names: had.append(text) or real_parse(text, names))
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score,comments&dwell=600")
    wait_for_text(dash_duo, "#score-value", "50", timeout=10)
    wait_settled(dash_duo)
    wait_until(lambda: asks(dash_duo)["streaming"], 10, "the stream to open")
    time.sleep(1)
    store = get_services(dash_app).store
    for i, comment in enumerate(["Pushed once", "Then missed", "Back from its own parts"]):
        store.upsert_responses([make_record(3200 + i, 10, when=datetime.now(UTC),
                                            comment=comment, product="Ledger")])
        wait_for_text(dash_duo, "#tv-panel-comments", comment, timeout=REACH_SECONDS)
        if i == 1:
            wait_until(lambda: dash_duo.driver.execute_script(
                "return window.npsAsk.resyncs;") == 1 and asks(dash_duo)["streaming"], 5,
                "the stream reopened")
    wait_until(lambda: asks(dash_duo)["served"] == 2, 2, "the third answer served")
    assert asks(dash_duo)["missed"] == 1
    assert len(had) == 1 and "score.wall:" in had[0] and "0" * 16 not in had[0]
    # The connection that named them breaks: the page opens a plain stream, not one naming
    # the parts it had then (the browser's own reconnect would keep that address).
    assert dash_duo.driver.execute_script("return window.npsAsk.source.had;") is True
    dash_duo.driver.execute_script("window.npsAsk.source.onerror();")
    wait_until(lambda: dash_duo.driver.execute_script(
        "return window.npsAsk.source && window.npsAsk.source.had === false"
        " && window.npsAsk.streaming;"), 5, "a plain stream open again")
    store.upsert_responses([make_record(3210, 0, when=datetime.now(UTC),
                                        comment="After the reconnect", product="Ledger")])
    wait_for_text(dash_duo, "#tv-panel-comments", "After the reconnect", timeout=REACH_SECONDS)
    assert len(had) == 1


SERVE_JS = """
var pushed = arguments[0], state = arguments[1], ask = window.npsAsk;
ask.pushed = {stamp: ask.stamp, key: pushed.key, from: pushed.from, mark: pushed.mark,
              text: '{"multi":true,"response":{}}'};
var body = JSON.stringify({output: "..tv-score-data.data...tv-state.data...tv-status.data..",
                           state: [{id: "tv-config", property: "data", value: {}},
                                   {id: "tv-state", property: "data", value: state}]});
var served = ask.serve("/_dash-update-component", {method: "POST", body: body});
var left = ask.pushed;
ask.pushed = null;
var resyncable = ask.resyncable;
ask.resyncable = false;
return [served instanceof Response, left === null, resyncable];
"""


# (the page's state, whether it takes the push, whether a miss reopens its stream after its
# poll: not when the stream's worker is behind the page, nor for another screen)
CASES = [({"key": "k", "hashes": {"score": "a"}, "mark": [5, 1]}, True, False),
         ({"key": "k", "hashes": {"score": "a"}, "mark": [4, 9]}, True, False),  # older: taken
         ({"key": "k", "hashes": {"score": "a"}, "mark": [5, 2]}, False, False),  # newer data
         ({"key": "k", "hashes": {"score": "b"}, "mark": [5, 1]}, False, True),  # other parts
         ({"key": "k", "hashes": {"score": "b"}, "mark": [4, 1]}, False, True),
         ({"key": "k", "hashes": {"score": "b"}, "mark": [6, 1]}, False, False),
         ({"key": "k", "hashes": {"score": "a", "trend": "c"}, "mark": [5, 1]}, False, True),
         ({"key": "other", "hashes": {"score": "a"}, "mark": [5, 1]}, False, False),
         (None, False, False)]


def test_a_poll_is_served_from_the_push_only_from_the_parts_and_data_it_starts_from(told_wall):
    dash_duo, _ = told_wall
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score&dwell=600")
    wait_until(lambda: asks(dash_duo)["changes"] >= 1, 10, "the first tick")
    pushed = {"key": "k", "from": {"score": "a"}, "mark": [5, 1]}
    for state, taken, reopens in CASES:
        served, used, resyncable = dash_duo.driver.execute_script(SERVE_JS, pushed, state)
        assert (served, used) == (taken, True), state  # one poll at most tries a push
        assert resyncable == reopens, state


def label_class(dash_duo) -> str:
    return dash_duo.driver.find_element(By.CSS_SELECTOR, "#tv-updated").get_attribute("class")


def test_stale_data_shows_as_stale_and_stays(wall):
    dash_duo, dash_app = wall
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score&dwell=600")
    wait_for_text(dash_duo, "#score-value", "50", timeout=10)
    wait_settled(dash_duo)
    wait_until(lambda: "is-fresh" in label_class(dash_duo), 10, "a fresh label")
    get_services(dash_app).scheduler.pause()  # the poller stops: data grows old
    wait_until(lambda: "is-amber" in label_class(dash_duo), STALE_SECONDS + 4, "amber")
    wait_until(lambda: "is-red" in label_class(dash_duo), 3 * STALE_SECONDS + 4, "red")
    assert text_content(dash_duo, "#score-value").strip() == "50"  # the last good data stays
    # The server still answers: stale data, not a lost connection.
    assert "is-shown" not in dash_duo.driver.find_element(
        By.CSS_SELECTOR, ".tv-connection").get_attribute("class")
    get_services(dash_app).scheduler.resume()
    wait_until(lambda: "is-fresh" in label_class(dash_duo), POLL_SECONDS + 4, "fresh again")


def test_a_new_build_reloads_the_wall(wall):
    dash_duo, dash_app = wall
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score&dwell=600")
    wait_for_text(dash_duo, "#score-value", "50", timeout=10)
    dash_duo.driver.execute_script("window.__beforeReload = true;")
    services = get_services(dash_app)
    services.build_id = services.build_id + "-next"
    # The watchdog checks the build every 10 s (from the stream, or /health) and reloads.
    wait_until(lambda: dash_duo.driver.execute_script(
        "return !window.__beforeReload && !!document.getElementById('tv-root');"), 25,
        "the reload")
    root = dash_duo.driver.find_element(By.CSS_SELECTOR, "#tv-root")
    assert root.get_attribute("data-build-id") == services.build_id
    wait_for_text(dash_duo, "#score-value", "50", timeout=10)


def test_a_new_response_rings_the_gong(wall):
    dash_duo, dash_app = wall
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score&dwell=600")
    wait_until(lambda: dash_duo.driver.execute_script("return window.npsTv.gong.ready"), 10,
               "the gong's first run")
    wait_settled(dash_duo)
    get_services(dash_app).store.upsert_responses([make_record(
        2000, 10, when=datetime.now(UTC), comment="The gong should ring for this one",
        product="Ledger")])
    started = time.monotonic()
    wait_until(lambda: dash_duo.driver.find_elements(
        By.CSS_SELECTOR, ".tv-gong.is-showing .gong-card"), REACH_SECONDS, "the gong")
    assert time.monotonic() - started <= REACH_SECONDS
    assert "The gong should ring" in text_content(dash_duo, ".tv-gong .gong-card")
