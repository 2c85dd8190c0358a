"""The wall in headless Chromium under hostile text and a failing store: long words stay in
their cards and the gong, labels stay plain text, store trouble shows a notice and clears."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from selenium.webdriver.common.by import By
from sqlalchemy.exc import OperationalError

from app.services import get_services
from tests.browser.conftest import serve_wall
from tests.browser.test_wall import text_content, wait_for_text
from tests.conftest import make_record

POLL_SECONDS = 1.0
# One server poll to fail, one screen poll (1 s) to carry it, and slack for a loaded machine
# (two cores shared with other test runs starve the browser for seconds at a time).
NOTICE_SECONDS = POLL_SECONDS + 1 + 6
# Page loads and the gong are about layout here, not speed: generous waits.
ARRIVE_SECONDS = 45
LONG_WORD = "Unbroken" * 63  # 504 characters, no break opportunity
HOSTILE = (f"{LONG_WORD} \u202eevil\u202c write to jane\uff20corp\uff0ecom or "
           "https://example.com/" + "x" * 300)


@pytest.fixture
def wall(dash_duo, settings):
    """A running server polling every second on a store with a few weeks of responses."""
    for dash_duo_, dash_app in serve_wall(dash_duo, settings, POLL_SECONDS):
        dash_duo_.driver.set_window_size(1920, 1080)
        yield dash_duo_, dash_app


# A page-side helper: an element's bounding box in CSS pixels, with its class for messages.
BOXES_JS = ("var box = function (e) { var r = e.getBoundingClientRect(); return {left: r.left,"
            " right: r.right, top: r.top, bottom: r.bottom, name: e.className}; };")


def viewport(dash_duo) -> dict:
    return dash_duo.driver.execute_script(
        "return {width: document.documentElement.clientWidth,"
        " height: document.documentElement.clientHeight};")


def assert_inside(inner: dict, outer: dict, what: str) -> None:
    slack = 1.0  # sub-pixel rounding
    assert inner["left"] >= outer["left"] - slack and inner["right"] <= outer["right"] + slack, \
        f"{what} overflows sideways: {inner} not within {outer}"
    assert inner["top"] >= outer["top"] - slack and inner["bottom"] <= outer["bottom"] + slack, \
        f"{what} overflows vertically: {inner} not within {outer}"


def wait_until(check, timeout: float, what: str):
    """Poll ``check`` until it returns something truthy; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception:  # noqa: BLE001 - elements are re-rendered while we look
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} not seen within {timeout}s")


def notice(dash_duo) -> tuple[str, str, bool]:
    element = dash_duo.driver.find_element(By.CSS_SELECTOR, ".tv-connection")
    return element.text, element.get_attribute("class"), element.is_displayed()


def _fail(*_args, **_kwargs):
    raise OperationalError("SELECT responses", {},
                           psycopg.OperationalError("db.internal refused: pw=hunter2"))


@pytest.mark.parametrize("path", ["/tv?panels=score", "/"])
def test_store_trouble_notice_appears_keeps_data_and_clears(wall, monkeypatch, path):
    dash_duo, dash_app = wall
    dash_duo.driver.get(f"{dash_duo.server_url}{path}")
    wait_for_text(dash_duo, "#score-value", "50", timeout=ARRIVE_SECONDS)
    assert not notice(dash_duo)[2]
    store = get_services(dash_app).poller.store
    monkeypatch.setattr(store, "changed_since", _fail)
    started = time.monotonic()
    shown = wait_until(lambda: notice(dash_duo)[2] and notice(dash_duo), NOTICE_SECONDS,
                       "the data source notice")
    text, css, _ = shown
    assert "Data source trouble" in text and "showing data from" in text
    assert "is-trouble" in css
    assert "hunter2" not in text and "db.internal" not in text
    assert ("OperationalError" in text) == (path == "/")  # the wall says it in plain words
    assert time.monotonic() - started <= NOTICE_SECONDS
    assert text_content(dash_duo, "#score-value").strip() == "50"  # last good data stays
    monkeypatch.undo()
    wait_until(lambda: not notice(dash_duo)[2], NOTICE_SECONDS, "the notice clearing")
    assert text_content(dash_duo, "#score-value").strip() == "50"


def test_long_unbroken_comment_stays_inside_its_card_and_the_gong(wall):
    dash_duo, dash_app = wall
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=comments")
    dash_duo.wait_for_element(".comment-card", timeout=ARRIVE_SECONDS)
    # What is there when the gong first runs is not news: wait for that first run.
    wait_until(lambda: dash_duo.driver.execute_script("return window.npsTv.gong.ready"),
               ARRIVE_SECONDS, "the gong's first run")
    get_services(dash_app).store.upsert_responses([make_record(
        500, 2, when=datetime.now(UTC), comment=HOSTILE, product="x@evil.example" + "p" * 200,
        region="EM\u202eEA")])
    wait_until(lambda: dash_duo.driver.find_element(
        By.CSS_SELECTOR, ".tv-gong.is-showing .gong-card"), ARRIVE_SECONDS, "the gong")
    time.sleep(1.0)  # the card's entrance animation scales it for 0.7 s
    screen = viewport(dash_duo)
    screen_box = {"left": 0, "top": 0, "right": screen["width"], "bottom": screen["height"]}
    gong = dash_duo.driver.execute_script(
        BOXES_JS + "var card = document.querySelector('.tv-gong .gong-card');"
        "return {card: box(card), parts: Array.from(card.querySelectorAll("
        "'.gong-text, .gong-chips, .chip, .gong-headline, .gong-badge')).map(box)};")
    assert_inside(gong["card"], screen_box, "the gong card")
    assert len(gong["parts"]) >= 6
    for part in gong["parts"]:
        assert_inside(part, gong["card"], f"the gong's {part['name']}")
    gong_text = text_content(dash_duo, ".tv-gong .gong-card")
    assert "\u202e" not in gong_text and "jane" not in gong_text and "[email]" in gong_text
    assert "x@evil" not in gong_text

    card = wait_until(lambda: dash_duo.driver.find_element(
        By.CSS_SELECTOR, '.comments-track > [data-category="detractor"]'), ARRIVE_SECONDS,
        "the new card")
    # The track scrolls, so every box is measured in the same instant.
    boxes = dash_duo.driver.execute_script(
        BOXES_JS + "var card = arguments[0];"
        "return {card: box(card), panel: box(document.getElementById('tv-comments-body')),"
        " parts: Array.from(card.querySelectorAll('.comment-text, .chip')).map(box),"
        " scroll: [card.scrollWidth, card.clientWidth]};", card)
    card_rect, panel = boxes["card"], boxes["panel"]
    assert card_rect["left"] >= panel["left"] - 1 and card_rect["right"] <= panel["right"] + 1
    assert card_rect["right"] <= screen["width"]
    assert len(boxes["parts"]) >= 3  # the text and two chips
    for part in boxes["parts"]:
        assert_inside(part, card_rect, part["name"])
    assert boxes["scroll"][0] <= boxes["scroll"][1]
    shown = card.get_attribute("textContent")
    assert "\u202e" not in shown and "jane" not in shown and "x@evil" not in shown


def test_event_label_markup_is_text_and_a_long_filter_is_cut(wall):
    dash_duo, dash_app = wall
    get_services(dash_app).store.add_event(
        datetime.now(UTC) - timedelta(days=3), '<a href="https://evil.example">Refund</a>',
        "launch")
    # A filter value typed into the URL is long too: the subtitle cuts it.
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=trend&region=EMEA,{'Q' * 400}")
    wait_for_text(dash_duo, "#tv-panel-trend", '<a href="https://evi', timeout=ARRIVE_SECONDS)
    links = dash_duo.driver.find_elements(By.CSS_SELECTOR, "#tv-trend-graph svg a")
    assert links == []
    sizes = dash_duo.driver.execute_script(
        BOXES_JS + "return {subtitle: box(document.querySelector("
        "'#tv-panel-trend .tv-panel-subtitle')), header: box(document.querySelector("
        "'#tv-panel-trend .tv-panel-header'))};")
    assert "EMEA" in text_content(dash_duo, "#tv-panel-trend .tv-panel-subtitle")
    assert_inside(sizes["subtitle"], sizes["header"], "the panel subtitle")


def test_health_answering_503_for_the_store_is_not_a_lost_server(wall):
    # /health answers 503 with its JSON while the store is down: the server is there, so the
    # watchdog must not count it towards "unreachable" (and reload the wall once it is back).
    # A proxy's own 503 page is not JSON and still counts.
    # The watchdog asks /health while the wall asks for its ticks (a wall told its ticks over
    # a stream hears the build there and asks no /health): this wall asks.
    dash_duo, dash_app = wall
    services = get_services(dash_app)
    services.settings = services.settings.replace(ask_stream=False)
    views = dash_app.server.view_functions
    views["nps_api.health"] = lambda: ({"status": "degraded", "database": "unreachable"}, 503)
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score")
    wait_for_text(dash_duo, "#score-value", "50", timeout=ARRIVE_SECONDS)
    watchdog = "return [window.npsTv.watchdog.fails, window.npsTv.watchdog.want]"
    time.sleep(12)  # the watchdog asks /health every 10 s
    fails, want = dash_duo.driver.execute_script(watchdog)
    assert fails == 0 and want is None
    views["nps_api.health"] = lambda: ("<html>502 Bad Gateway</html>", 503)
    wait_until(lambda: dash_duo.driver.execute_script(watchdog)[0] >= 1, 25,
               "a non-JSON 503 counted as a failure")


def test_a_long_url_notice_is_cut_before_the_panel_names_which_stay_centred(wall):
    # Every panel in the bar, and unknown parameters and a bad theme that make a long notice.
    dash_duo, _ = wall
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score,trend,topics,comments,changes"
                        f"&view=score&colour=red&theme=neon&{'x' * 60}=1")
    wait_for_text(dash_duo, ".tv-notice", "unknown parameters", timeout=ARRIVE_SECONDS)
    boxes = dash_duo.driver.execute_script(
        BOXES_JS + "return {notice: box(document.querySelector('.tv-notice')),"
        " nav: box(document.querySelector('.tv-nav')),"
        " bar: box(document.querySelector('.tv-bar')),"
        " right: box(document.querySelector('.tv-bar-right')),"
        " cut: (function (e) { return e.scrollWidth > e.clientWidth; })("
        "document.querySelector('.tv-notice'))};")
    assert boxes["notice"]["right"] <= boxes["nav"]["left"], \
        f"the notice reaches the panel names: {boxes['notice']} against {boxes['nav']}"
    assert boxes["nav"]["right"] <= boxes["right"]["left"]
    assert boxes["cut"], "a notice this long should be cut with an ellipsis"
    middle = (boxes["nav"]["left"] + boxes["nav"]["right"]) / 2
    centre = (boxes["bar"]["left"] + boxes["bar"]["right"]) / 2
    assert abs(middle - centre) <= 2, f"the panel names are off centre: {middle} vs {centre}"
    assert_inside(boxes["notice"], boxes["bar"], "the URL notice")
