"""The wall in headless Chromium: rotation, live responses and events reaching the screen."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.by import By

from app.panels.registry import panel_names
from app.services import get_services
from tests.browser.conftest import serve_wall
from tests.conftest import make_record

POLL_SECONDS = 2.0
# The issue: visible "within the poll interval plus a few seconds". The design's own budget
# (poll + 1 s) is met on this machine (1.3-2.8 s measured with a 2 s poll); two more seconds
# of slack keep a loaded CI machine from failing on timing alone.
REACH_SECONDS = POLL_SECONDS + 3


@pytest.fixture
def wall(dash_duo, settings):
    """A running server on a fresh store with a few days of responses, polling every 2 s."""
    yield from serve_wall(dash_duo, settings, POLL_SECONDS)


def text_content(dash_duo, selector: str) -> str:
    """All text under an element, visible or not (Selenium's .text skips hidden panels)."""
    return dash_duo.driver.find_element(By.CSS_SELECTOR, selector).get_attribute("textContent")


def wait_for_text(dash_duo, selector: str, expected: str, timeout: float) -> float:
    """Wait until ``expected`` is in the element's text; return the seconds it took."""
    started = time.monotonic()
    last = ""
    while time.monotonic() - started < timeout:
        try:
            last = text_content(dash_duo, selector)
        except Exception:  # noqa: BLE001 - the element may be re-rendered while we look
            last = ""
        if expected in last:
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"{expected!r} not in {selector} after {timeout}s: {last[:300]!r}")


def active_panel(dash_duo) -> str | None:
    for element in dash_duo.driver.find_elements(By.CSS_SELECTOR, ".tv-panel"):
        if "is-active" in (element.get_attribute("class") or "").split():
            return element.get_attribute("id")
    return None


def panels_in_turn(duo, count: int, seconds: float, step: float = 0.25) -> list[str]:
    """The active panels as they change, in order, until ``count`` are seen or time is up."""
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(seen) < count:
        current = active_panel(duo)
        if current and (not seen or seen[-1] != current):
            seen.append(current)
        time.sleep(step)
    return seen


def test_each_panel_becomes_visible_in_turn(wall):
    dash_duo, _ = wall
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?dwell=3")
    dash_duo.wait_for_element("#tv-panel-score", timeout=10)
    order: list[str] = []  # distinct active panels, in the order they came
    alone: set[str] = set()  # panels seen as the only one on screen (after the cross-fade)
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline and len(order) < 7:
        current = active_panel(dash_duo)
        shown = {e.get_attribute("id")
                 for e in dash_duo.driver.find_elements(By.CSS_SELECTOR, ".tv-panel")
                 if e.is_displayed()}
        if current and (not order or order[-1] != current):
            order.append(current)
        if current and shown == {current}:
            alone.add(current)
        time.sleep(0.25)
    # The "what changed" panel joins the cycle only when something changed (it is skipped
    # while it says "No significant change": see the test below).
    names = [n for n in panel_names() if n not in empty_panels(dash_duo)]
    panels = [f"tv-panel-{n}" for n in names]
    # On a loaded machine the first panel's 3 s can pass before the page is watched, so the
    # order is checked as a cycle from whichever panel came first.
    first = panels.index(order[0])
    assert order[:6] == [panels[(first + i) % len(panels)] for i in range(6)]
    assert alone == set(panels), "each panel had the screen to itself"


def empty_panels(dash_duo) -> set[str]:
    return {e.get_attribute("id").removeprefix("tv-panel-")
            for e in dash_duo.driver.find_elements(By.CSS_SELECTOR, ".tv-panel")
            if e.find_elements(By.CSS_SELECTOR, "[data-empty]")}


def test_a_panel_with_nothing_to_say_is_passed_over(wall):
    dash_duo, _ = wall
    # Twenty days of answers and none before: "what changed" has nothing to say.
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=changes,score,trend&dwell=3")
    dash_duo.wait_for_element("#tv-panel-changes [data-empty]", timeout=10)
    seen: list[str] = []
    deadline = time.monotonic() + 12
    while time.monotonic() < deadline:
        current = active_panel(dash_duo)
        if current and (not seen or seen[-1] != current):
            seen.append(current)
        time.sleep(0.25)
    assert "tv-panel-score" in seen and "tv-panel-trend" in seen
    # It may show for the first instant (it is first in the URL), never once rotation runs.
    assert "tv-panel-changes" not in seen[1:], seen


def test_a_new_response_reaches_the_comments_and_moves_the_score(wall):
    dash_duo, dash_app = wall
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score,comments&dwell=600")
    # 20 promoters and 20 passives: NPS 50
    wait_for_text(dash_duo, "#score-value", "50", timeout=10)
    store = get_services(dash_app).store
    unique = "The invoice export broke twice this week"
    store.upsert_responses([make_record(1000 + i, 0, when=datetime.now(UTC), comment=unique,
                                        product="Ledger") for i in range(10)])
    wait_for_text(dash_duo, "#tv-panel-comments", unique, timeout=REACH_SECONDS)
    # 20 promoters, 20 passives, 10 detractors: NPS 20
    wait_for_text(dash_duo, "#score-value", "20", timeout=REACH_SECONDS)
    assert text_content(dash_duo, "#score-value").strip() == "20"


def test_an_event_added_to_the_store_appears_on_the_trend(wall):
    dash_duo, dash_app = wall
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=trend")
    dash_duo.wait_for_element("#tv-trend-graph .main-svg", timeout=10)
    get_services(dash_app).store.add_event(datetime.now(UTC) - timedelta(days=3),
                                           "Pricing page relaunch", "pricing")
    wait_for_text(dash_duo, "#tv-panel-trend", "Pricing page relaunch", timeout=REACH_SECONDS)


def test_dash_undo_history_stays_bounded_on_a_wall(wall):
    # dash-renderer appends every Input change (our 1 s intervals) to an undo history it
    # never trims: ~2 entries a second. The wall's script keeps the last 10 (every 5 s).
    dash_duo, _ = wall
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?dwell=3")
    dash_duo.wait_for_element("#tv-panel-score", timeout=10)
    time.sleep(25)  # untrimmed, the history would hold about 50 entries by now
    length = dash_duo.driver.execute_script(
        "return Math.max.apply(null, (window.dash_stores || []).map("
        "function (s) { return s.getState().history.past.length; }));")
    assert 0 < length <= 10 + 2 * 5 + 4


def test_a_panel_added_to_the_registry_rotates_on_the_wall(dash_duo, settings, monkeypatch):
    """One registry entry, nothing else: the browser script takes the names from the config."""
    from app.panels import registry
    from tests.test_panel_registry import SAMPLE

    monkeypatch.setattr(registry, "PANELS", (*registry.PANELS, SAMPLE))
    for duo, _ in serve_wall(dash_duo, settings, POLL_SECONDS):
        duo.driver.get(f"{duo.server_url}/tv?panels=score,sample&dwell=3")
        duo.wait_for_element("#tv-panel-sample", timeout=10)
        wait_for_text(duo, "#tv-sample-body", "40 answers on the wall", timeout=10)
        seen = panels_in_turn(duo, 3, 15)
        assert seen[:3] == ["tv-panel-score", "tv-panel-sample", "tv-panel-score"]
        nav = dash_duo.driver.find_element(By.ID, "tv-nav-sample")
        assert nav.text == "Sample"
