"""A wall light enough for a TV stick, in headless Chromium: the rotation's progress bar
animates a compositor property, an idle panel does not lay the page out, low power has no
animations yet still rotates and updates, and each screen keeps its own reload offset.

The layout bound is structural, not a timing: before this work an idle panel laid the page
out twice a second (20 in 10 s) and the rotating wall 24 times a second.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from app import live_status
from app.services import get_services
from tests.browser.conftest import serve_wall
from tests.browser.test_wall import active_panel, panels_in_turn, wait_for_text
from tests.conftest import make_record

POLL_SECONDS = 2.0
ASK_FACTOR = 2.0
IDLE_SECONDS = 10
IDLE_LAYOUTS = 5  # a poll a second used to lay out ~20 times in 10 s


@pytest.fixture
def wall(dash_duo, settings):
    """A running server polling every 2 s; low-power screens ask twice less often."""
    yield from serve_wall(dash_duo, settings.replace(low_power_ask_factor=ASK_FACTOR),
                          POLL_SECONDS)


@pytest.fixture(params=["stream", "ticks"])
def either_wall(request, dash_duo, settings):
    """``wall``, whose screens are sent their ticks (``stream``) or ask for them (``ticks``:
    where a stream cannot open, a low-power screen asks ASK_FACTOR times less often)."""
    yield from serve_wall(dash_duo, settings.replace(low_power_ask_factor=ASK_FACTOR,
                                                     ask_stream=request.param == "stream"),
                          POLL_SECONDS)


def layouts_over(driver, seconds: float) -> float:
    """How many times the page was laid out in ``seconds`` (DevTools performance metrics)."""
    driver.execute_cdp_cmd("Performance.enable", {})
    try:
        def count() -> float:
            metrics = driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]
            return next(m["value"] for m in metrics if m["name"] == "LayoutCount")
        first = count()
        time.sleep(seconds)
        return count() - first
    finally:
        driver.execute_cdp_cmd("Performance.disable", {})


RUNNING_ANIMATIONS = """
return document.getAnimations().filter(function (a) { return a.playState === 'running'; })
  .map(function (a) {
    var target = a.effect && a.effect.target;
    var props = a.effect.getKeyframes().reduce(function (all, frame) {
      return all.concat(Object.keys(frame).filter(function (k) {
        return ['offset', 'easing', 'composite', 'computedOffset'].indexOf(k) < 0;
      }));
    }, []);
    return {name: a.animationName || a.transitionProperty || '', props: props,
            target: target ? target.className : ''};
  });
"""


def test_the_progress_bar_animates_transform_not_width(wall):
    dash_duo, _ = wall
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?dwell=20")
    dash_duo.wait_for_element("#tv-panel-score.is-active .tv-progress-fill", timeout=10)
    animations = dash_duo.driver.execute_script(RUNNING_ANIMATIONS)
    progress = [a for a in animations if a["target"] == "tv-progress-fill"]
    assert progress, animations
    assert all(set(a["props"]) == {"transform"} for a in progress), progress
    # Every running animation of the wall is on a compositor property (a panel's fade also
    # flips visibility once, at its end: not per frame).
    props = {p for a in animations for p in a["props"]}
    assert props <= {"transform", "opacity", "visibility"}, animations
    # The comments off screen do not scroll (their animation waits, paused).
    assert dash_duo.driver.execute_script(
        "var t = document.querySelector('#tv-panel-comments .comments-track.is-scrolling');"
        "return t.getAnimations().map(function (a) { return a.playState; });") == ["paused"]
    # The bar keeps its box: it grows by scaling, so its width never changes.
    width = "return document.querySelector('#tv-panel-score .tv-progress-fill').offsetWidth;"
    before = dash_duo.driver.execute_script(width)
    time.sleep(1.5)
    assert dash_duo.driver.execute_script(width) == before > 0


def test_an_idle_panel_does_not_lay_the_page_out(wall):
    dash_duo, _ = wall
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score")
    wait_for_text(dash_duo, "#score-value", "50", timeout=10)
    time.sleep(2)  # let the first polls and fonts settle
    layouts = layouts_over(dash_duo.driver, IDLE_SECONDS)
    assert layouts <= IDLE_LAYOUTS, f"{layouts:g} layouts in {IDLE_SECONDS} s on an idle panel"


def test_low_power_has_no_animations_and_still_rotates_and_updates(either_wall):
    dash_duo, dash_app = either_wall
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score,comments&dwell=3&power=low")
    wait_for_text(dash_duo, "#score-value", "50", timeout=10)
    root = dash_duo.find_element("#tv-root").get_attribute("class").split()
    assert {"is-low-power", "no-shift"} <= set(root)
    assert dash_duo.driver.execute_script(RUNNING_ANIMATIONS) == []
    seen = set()
    deadline = time.monotonic() + 12
    while time.monotonic() < deadline and len(seen) < 2:
        seen.add(active_panel(dash_duo))
        assert dash_duo.driver.execute_script(RUNNING_ANIMATIONS) == []
        time.sleep(0.25)
    assert seen == {"tv-panel-score", "tv-panel-comments"}
    unique = "Low power still hears about the export"
    get_services(dash_app).store.upsert_responses([
        make_record(2000 + i, 0, when=datetime.now(UTC), comment=unique, product="Ledger")
        for i in range(10)])
    # Pushed at once when told; asked ASK_FACTOR times less often otherwise, so it may
    # take that much longer.
    wait_for_text(dash_duo, "#tv-panel-comments", unique, timeout=POLL_SECONDS * ASK_FACTOR + 4)
    wait_for_text(dash_duo, "#score-value", "20", timeout=POLL_SECONDS * ASK_FACTOR + 4)
    ask_ms = int(dash_duo.find_element("#tv-root").get_attribute("data-ask-ms"))
    assert ask_ms == 1000 * min(1.0, POLL_SECONDS) * ASK_FACTOR  # NPS_TV_ASK_SECONDS: 1 s
    streaming = dash_duo.driver.execute_script("return window.npsAsk.streaming;")
    assert streaming == (dash_duo.driver.execute_script(
        "return !!document.getElementById('tv-root').getAttribute('data-stream-path');"))
    first = dash_duo.driver.execute_script(TICKS_ASKED)
    time.sleep(6)
    asked = dash_duo.driver.execute_script(TICKS_ASKED) - first
    # Told: it asks nothing while its stream is open. Asking: every 2 s, not every second.
    assert asked == 0 if streaming else 2 <= asked <= 4, asked


def test_low_power_comments_turn_a_page_instead_of_scrolling(wall):
    dash_duo, _ = wall
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=comments&power=low")
    dash_duo.wait_for_element("#tv-panel-comments .comment-card", timeout=10)
    track = "document.querySelector('#tv-panel-comments .comments-track')"
    assert dash_duo.driver.execute_script(f"return getComputedStyle({track}).animationName;"
                                          ) == "none"
    dash_duo.driver.execute_script("window.npsTv.pageComments();")
    moved = dash_duo.driver.execute_script(f"return {track}.style.transform;")
    assert moved.startswith("translateY(-"), moved  # 40 comments: more than a page
    shown = dash_duo.driver.execute_script(
        f"var t = {track}; var box = t.parentNode.getBoundingClientRect();"
        "return Array.prototype.filter.call(t.querySelectorAll(':scope > .comment-card'),"
        " function (c) { var r = c.getBoundingClientRect();"
        " return r.top >= box.top - 1 && r.top < box.bottom; }).length;")
    assert shown >= 1


def test_each_screen_keeps_its_own_reload_offset(wall):
    dash_duo, _ = wall
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score")
    dash_duo.wait_for_element("#tv-root", timeout=10)
    driver = dash_duo.driver
    screen = driver.execute_script("return window.npsTv.watchdog.screenId();")
    driver.refresh()
    dash_duo.wait_for_element("#tv-root", timeout=10)
    assert driver.execute_script("return window.npsTv.watchdog.screenId();") == screen
    # The browser's offsets are the server's (app.live_status), for any id and window.
    for sample, spread in ((screen, 600), ("screen-1", 600), ("lobby-tv", 60), ("x", 0)):
        offset = driver.execute_script(
            "return window.npsTv.watchdog.reloadOffset(arguments[0], arguments[1]);",
            sample, spread)
        assert offset == pytest.approx(live_status.reload_offset_seconds(sample, spread))
    attrs = [dash_duo.find_element("#tv-root").get_attribute(name)
             for name in ("data-reload-spread", "data-build-spread")]
    assert attrs == ["600", "60"]


# The nightly reload time (``data-reload-at``, ms) moved to ``arguments[0]`` ms ago, and the
# watchdog's check run at once (it runs every 10 s).
NIGHTLY_WAS = ("document.getElementById('tv-root').setAttribute('data-reload-at',"
               " String(Date.now() - arguments[0])); window.npsTv.watchdog.check();")


def test_the_nightly_reload_waits_for_each_screens_own_offset(wall):
    dash_duo, dash_app = wall
    driver = dash_duo.driver
    spread = get_services(dash_app).settings.reload_spread_seconds  # 600 s by default
    screen = _screen_with_offset(300, 400, spread, ":nightly")
    offset_ms = live_status.reload_offset_seconds(screen + ":nightly", spread) * 1000
    driver.get(f"{dash_duo.server_url}/tv?panels=score")
    dash_duo.wait_for_element("#tv-root", timeout=10)
    driver.execute_script("localStorage.setItem('npsTvScreenId', arguments[0]);", screen)
    driver.refresh()
    dash_duo.wait_for_element("#tv-root", timeout=10)
    assert int(dash_duo.find_element("#tv-root").get_attribute("data-reload-at")) > 0
    driver.execute_script("window.__samePage = true;")
    # The nightly time passed a minute ago; this screen's turn is 5-6 minutes after it.
    driver.execute_script(NIGHTLY_WAS, 60_000)
    time.sleep(2)  # the check's /health answer, after which a wanted reload happens
    assert driver.execute_script("return window.__samePage === true;")
    assert not driver.execute_script("return window.npsTv.watchdog.want;")
    # Its turn came a second ago: it reloads, for the nightly reload.
    driver.execute_script(NIGHTLY_WAS, offset_ms + 1000)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and driver.execute_script(
            "return window.__samePage === true;"):
        time.sleep(0.25)
    assert not driver.execute_script("return window.__samePage === true;"), "no reload"
    dash_duo.wait_for_element("#tv-root", timeout=10)
    reason = driver.execute_script(
        "return JSON.parse(sessionStorage.getItem('npsTvReload')).reason;")
    assert reason == "nightly"
    # The page it reloaded to names the next nightly time, in the future: no loop.
    assert int(dash_duo.find_element("#tv-root").get_attribute("data-reload-at")) > \
        driver.execute_script("return Date.now();")


# Counts what Dash does from now on: notifications of its Redux stores (every callback,
# prop change and React render of Dash's goes through one) and the server callbacks sent.
WATCH_DASH = """
var seen = window.__dashSeen = {store: 0};
(window.dash_stores || []).forEach(function (s) { s.subscribe(function () { seen.store += 1; }); });
seen.requests = performance.getEntriesByType('resource').filter(function (e) {
  return /_dash-update-component/.test(e.name); }).length;
"""
DASH_SEEN = """
var seen = window.__dashSeen;
return [seen.store, performance.getEntriesByType('resource').filter(function (e) {
  return /_dash-update-component/.test(e.name); }).length - seen.requests];
"""


DASH_CALLS = """
return performance.getEntriesByType('resource').filter(function (e) {
  return /_dash-update-component/.test(e.name) && e.responseEnd > 0; }).length;
"""
ASKED = """
return performance.getEntriesByType('resource').filter(function (e) {
  return /\\/api\\/v1\\/tick/.test(e.name) && e.responseEnd > 0; }).length;
"""


TICKS_ASKED = """
return performance.getEntriesByType('resource').filter(function (e) {
  return /\\/api\\/v1\\/tick(?!\\/stream)/.test(e.name) && e.responseEnd > 0; }).length;
"""


def settle(driver, quiet: float = 1.5, timeout: float = 15) -> None:
    """Wait until the page's start is over: its first tick answered (a page does not know
    its stamp, so the first tick always runs one Dash poll) and no Dash callback answered
    for ``quiet`` seconds. A fixed sleep raced that poll on a busy machine."""
    deadline = time.monotonic() + timeout
    while driver.execute_script(ASKED) == 0:
        assert time.monotonic() < deadline, "no tick answered"
        time.sleep(0.1)
    calls, since = driver.execute_script(DASH_CALLS), time.monotonic()
    while time.monotonic() - since < quiet:
        assert time.monotonic() < deadline, "Dash callbacks kept running"
        time.sleep(0.1)
        now = driver.execute_script(DASH_CALLS)
        if now != calls:
            calls, since = now, time.monotonic()
    time.sleep(0.3)  # the last answer's store writes, after its response ended


def test_rotation_clock_and_staleness_run_no_dash_callback(wall):
    """The wall rotates, keeps its clock and shows a lost connection in the browser alone:
    with nothing new from the server, no Dash callback runs (no store notification, so no
    React render) and no callback request is sent, however many panels go by."""
    dash_duo, _ = wall
    driver = dash_duo.driver
    driver.get(f"{dash_duo.server_url}/tv?panels=score,topics,comments&dwell=3")
    wait_for_text(dash_duo, "#score-value", "50", timeout=10)
    settle(driver)
    driver.execute_script(WATCH_DASH)
    assert driver.execute_script("return window.npsTv.tick.id;") is None  # the wall has none
    turns = driver.execute_script("return window.npsTv.rotation.turns || 0;")
    seen = panels_in_turn(dash_duo, 4, 12, step=0.2)
    assert len(seen) >= 4, seen  # three rotations at least, in the URL's order
    order = ["tv-panel-score", "tv-panel-topics", "tv-panel-comments"]
    first = order.index(seen[0])
    assert seen == [order[(first + i) % 3] for i in range(len(seen))]
    nav = driver.execute_script("return document.querySelector('.tv-nav-item.is-active').id;")
    assert nav == active_panel(dash_duo).replace("tv-panel-", "tv-nav-")
    assert driver.execute_script("return window.npsTv.rotation.turns;") - turns >= 3
    assert dash_duo.find_element("#tv-clock").text.count(":") == 1
    assert "is-fresh" in dash_duo.find_element("#tv-updated").get_attribute("class")
    assert driver.execute_script(DASH_SEEN) == [0, 0]
    # Silence from the server: with the asks and the stream stopped (nps_ask.js asks and
    # streams only while the root names their paths) and the last answer an hour old, the
    # notice and the red label show, still without a Dash callback.
    driver.execute_script("var root = document.getElementById('tv-root');"
                          "root.removeAttribute('data-ask-path');"
                          "root.removeAttribute('data-stream-path');"
                          "var ask = window.npsAsk;"
                          "if (ask.source) { ask.source.close(); ask.source = null; }"
                          "ask.streaming = false;"
                          "window.npsTv.status.receivedAt = Date.now() - 3600000;")
    wait_for_text(dash_duo, ".tv-connection", "Connection lost", timeout=4)
    assert "is-shown" in dash_duo.find_element(".tv-connection").get_attribute("class")
    assert "is-red" in dash_duo.find_element("#tv-updated").get_attribute("class")
    assert driver.execute_script(DASH_SEEN) == [0, 0]


def _screen_with_offset(low: float, high: float, spread: float, salt: str = ":build") -> str:
    """A screen id whose reload offset (``salt``: ":build" or ":nightly") lies in
    [low, high) of ``spread`` seconds."""
    return next(name for name in (f"screen-{i}" for i in range(10_000))
                if low <= live_status.reload_offset_seconds(name + salt, spread) < high)


def test_a_new_build_reloads_each_screen_at_its_own_offset(wall):
    dash_duo, dash_app = wall
    driver, services = dash_duo.driver, get_services(dash_app)
    spread = services.settings.build_reload_spread_seconds  # 60 s by default
    late, early = _screen_with_offset(45, 55, spread), _screen_with_offset(0, 2, spread)
    driver.get(f"{dash_duo.server_url}/tv?panels=score")
    dash_duo.wait_for_element("#tv-root", timeout=10)
    driver.execute_script("localStorage.setItem('npsTvScreenId', arguments[0]);", late)
    driver.refresh()
    dash_duo.wait_for_element("#tv-root", timeout=10)
    driver.execute_script("window.__samePage = true;")
    services.build_id = "next-build"
    # The watchdog checks the build every 10 s; a late screen notes it and waits its turn.
    due = None
    deadline = time.monotonic() + 15
    while due is None and time.monotonic() < deadline:
        due = driver.execute_script("var w = window.npsTv.watchdog;"
                                    "return w.buildDue ? w.buildDue - Date.now() : null;")
        time.sleep(0.5)
    offset_ms = live_status.reload_offset_seconds(late + ":build", spread) * 1000
    assert due is not None and offset_ms - 16_000 < due <= offset_ms
    assert driver.execute_script("return window.__samePage === true;")
    # An early screen reloads for the next build almost at once (after its /health check).
    driver.execute_script("localStorage.setItem('npsTvScreenId', arguments[0]);", early)
    driver.refresh()  # now on next-build
    dash_duo.wait_for_element("#tv-root", timeout=10)
    driver.execute_script("window.__samePage = true;")
    services.build_id = "third-build"
    deadline = time.monotonic() + 16
    while time.monotonic() < deadline:
        if not driver.execute_script("return window.__samePage === true;"):
            break
        time.sleep(0.5)
    assert not driver.execute_script("return window.__samePage === true;"), "no reload"
    assert dash_duo.find_element("#tv-root").get_attribute("data-build-id") == "third-build"


def test_the_scroll_is_a_compositor_animation_with_no_script_per_frame(wall):
    """The comments scroll as one compositor animation (transform, will-change, a step a
    pixel), with no script per frame and no layout while idle; a new comment still arrives."""
    dash_duo, dash_app = wall
    driver = dash_duo.driver
    driver.get(f"{dash_duo.server_url}/tv?panels=comments")
    track = "#tv-panel-comments .comments-track.is-scrolling"
    dash_duo.wait_for_element(f"{track} > .comment-card", timeout=10)
    time.sleep(1.5)
    animations = [a for a in driver.execute_script(RUNNING_ANIMATIONS)
                  if "comments-track" in a["target"]]
    assert len(animations) == 1 and set(animations[0]["props"]) == {"transform"}, animations
    style = f"""var t = document.querySelector("{track}"), s = getComputedStyle(t);
        return [s.willChange, s.animationTimingFunction, Math.round(t.offsetHeight / 2)];"""
    # A step a pixel: the compositor draws only when the track has moved a whole pixel.
    steps = driver.execute_script(style)
    assert steps[:2] == ["transform", f"steps({steps[2]})"], steps
    driver.execute_script(
        "window.__frames = 0; var raf = window.requestAnimationFrame;"
        "window.requestAnimationFrame = function (f) { window.__frames += 1;"
        " return raf.call(window, f); };")
    assert layouts_over(driver, 5) <= 2  # the cards are days old: their times stand still
    assert driver.execute_script("return window.__frames;") == 0
    unique = "The new report builder is a joy"
    get_services(dash_app).store.upsert_responses([
        make_record(3000, 10, when=datetime.now(UTC), comment=unique, product="Ledger")])
    wait_for_text(dash_duo, f"{track} > .comment-card", unique, timeout=POLL_SECONDS + 4)
    copies = driver.execute_script(
        f"return document.querySelectorAll('{track} .comments-clone > .comment-card').length;")
    assert copies == driver.execute_script(
        f"return document.querySelectorAll('{track} > .comment-card').length;")
    time.sleep(1.5)  # a new comment makes a new track: nps_tv.js measures it within 1 s
    steps = driver.execute_script(style)
    assert steps[:2] == ["transform", f"steps({steps[2]})"], steps
