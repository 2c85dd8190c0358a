"""The manager's workspace in headless Chromium: a topic opens its comments, a trend point
its period, an event marker its before and after; the URL carries the view (a fresh page on
the copied URL shows the same); an admin adds an event and sees it on the wall's trend, and
sets a follow-up's status; a visitor sees no admin control."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from app.services import get_services
from app.store.follow_ups import FollowUpFilter, FollowUps
from app.web import create_app
from tests.browser.conftest import serve
from tests.conftest import ADMIN_TOKEN, make_record

POLL_SECONDS = 1.0
COMMENTS = ("Too expensive for what we use, the renewal price went up",
            "Lovely people on the phone, they sorted it out",
            "The editor crashed twice this week",
            "Great value and the support team is quick")


@pytest.fixture
def server(dash_duo, settings):
    """A polling server (open access, admin token set): 60 commented responses over 30 days,
    two regions, and one event ten days ago."""
    dash_app = create_app(settings.replace(admin_token=ADMIN_TOKEN, poll_seconds=POLL_SECONDS))
    store = get_services(dash_app).store
    now = datetime.now(UTC)
    store.upsert_responses([
        make_record(i, (3, 9, 5, 10, 8)[i % 5], when=now - timedelta(days=i % 30, hours=3),
                    comment=f"{COMMENTS[i % 4]} ({i})", product="Ledger",
                    region=("EMEA", "APAC")[i % 2]) for i in range(60)])
    store.add_event(now - timedelta(days=10), "Price change", "pricing", "New tiers")
    yield from serve(dash_duo, dash_app, size=(1366, 768))


def visit(dash_duo, path: str) -> None:
    dash_duo.driver.get(dash_duo.server.url.rstrip("/") + path)


def wait_for(condition, timeout: float, what: str):
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            result = condition()
            if result:
                return result
        except StaleElementReferenceException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what} not within {timeout}s")


def found(driver, css: str):
    return driver.find_elements(By.CSS_SELECTOR, css)


def workspace_text(driver) -> str:
    return driver.find_element(By.ID, "ws-body").text


def sign_in(dash_duo) -> None:
    visit(dash_duo, "/admin")
    dash_duo.driver.find_element(By.NAME, "token").send_keys(ADMIN_TOKEN, Keys.ENTER)
    wait_for(lambda: found(dash_duo.driver, "#ws-body .ws-tabs"), 10, "the manager page")


def click_marker(driver, trace_css: str) -> None:
    """Click a plotted marker as a person would (plotly takes clicks on its drag layer)."""
    point = wait_for(lambda: found(driver, f"#mgr-trend-graph {trace_css}"), 10, "a marker")[-1]
    ActionChains(driver).move_to_element(point).pause(0.3).click().perform()


def test_a_topic_opens_its_comments_and_the_url_reopens_them(server):
    dash_duo, _ = server
    driver = dash_duo.driver
    visit(dash_duo, "/")
    button = wait_for(lambda: [b for b in found(driver, ".topic-open") if b.text == "Pricing"],
                      10, "the Pricing topic")[0]
    button.click()
    wait_for(lambda: found(driver, ".ws-drill--topic .ws-comment"), 10, "the topic's comments")
    text = workspace_text(driver)
    assert "\u201cPricing\u201d" in text and "1\u201315 of 15" in text
    assert all("expensive" in c.text for c in found(driver, ".ws-drill--topic .ws-comment-text"))
    assert found(driver, ".ws-drill--topic .comment-badge.badge-detractor")
    url = wait_for(lambda: "topic=Pricing" in driver.current_url and driver.current_url, 5,
                   "the URL")
    driver.get("about:blank")
    driver.get(url)  # the copied URL, in a fresh page
    wait_for(lambda: found(driver, ".ws-drill--topic .ws-comment"), 10, "the same drill-down")
    assert "1\u201315 of 15" in workspace_text(driver)


def test_a_trend_point_opens_its_period(server):
    dash_duo, _ = server
    driver = dash_duo.driver
    visit(dash_duo, "/")
    click_marker(driver, ".scatterlayer .trace:nth-child(3) .points path")
    wait_for(lambda: found(driver, ".ws-drill--period .ws-summary"), 10, "the period")
    text = workspace_text(driver).lower()  # the headings are upper case in CSS
    assert "responses" in text and "margin (95%)" in text and "promoters" in text
    assert "period=" in driver.current_url


def test_an_event_marker_opens_before_and_after(server):
    dash_duo, _ = server
    driver = dash_duo.driver
    visit(dash_duo, "/")
    click_marker(driver, ".scatterlayer .trace:last-child .points path")
    wait_for(lambda: found(driver, ".ws-drill--event .ws-sides"), 10, "before and after")
    text = workspace_text(driver)
    assert "Price change (pricing" in text
    # Ten days and some hours ago: eleven days from the event's day to today, both sides.
    assert "11 days before" in text and "11 days from the event" in text
    assert "event=1" in driver.current_url
    driver.get(driver.current_url)
    wait_for(lambda: found(driver, ".ws-drill--event .ws-sides"), 10, "the same view again")


def test_comparison_and_explorer_keep_their_state_in_the_url(server):
    dash_duo, _ = server
    driver = dash_duo.driver
    visit(dash_duo, "/?compare=region")
    wait_for(lambda: found(driver, ".ws-compare-row"), 10, "the comparison")
    assert "Ranked by the lower bound of the 95% interval" in workspace_text(driver)
    assert [r.find_element(By.TAG_NAME, "th").text for r in found(driver, ".ws-compare-row")
            ] in (["APAC", "EMEA"], ["EMEA", "APAC"])
    visit(dash_duo, "/?view=comments")
    search = wait_for(lambda: found(driver, ".ws-search input"), 10, "the search box")[0]
    search.send_keys("crashed", Keys.ENTER)
    wait_for(lambda: "q=crashed" in driver.current_url, 10, "the search in the URL")
    wait_for(lambda: "1\u201315 of 15" in workspace_text(driver), 10, "the matches")
    assert all("crashed" in c.text for c in found(driver, ".ws-comment-text"))
    csv = found(driver, ".ws-csv")[0].get_attribute("href")  # masked for visitors, server side
    assert "/api/v1/comments.csv?" in csv and "q=crashed" in csv


def test_a_visitor_sees_no_admin_controls(server):
    dash_duo, _ = server
    driver = dash_duo.driver
    visit(dash_duo, "/?view=follow-ups")
    wait_for(lambda: found(driver, "#ws-body .ws-tabs"), 10, "the workspace")
    assert "Admins only" in workspace_text(driver)
    tabs = [t.text for t in found(driver, ".ws-tab")]
    assert "Follow-ups" not in tabs and "Events" not in tabs
    assert not found(driver, ".fu-status") and not found(driver, ".ev-form")


def test_an_admin_adds_an_event_and_the_wall_shows_it(server):
    dash_duo, dash_app = server
    driver = dash_duo.driver
    sign_in(dash_duo)
    visit(dash_duo, "/?view=events")
    label = wait_for(lambda: found(driver, ".ev-input--label input"), 10, "the form")[0]
    label.send_keys("Onboarding revamp")
    note = found(driver, ".ev-input--note input")[0]
    note.send_keys("New welcome flow")
    found(driver, ".ws-primary")[0].click()
    wait_for(lambda: "Added event" in workspace_text(driver), 10, "the saved message")
    assert "Onboarding revamp" in workspace_text(driver)
    assert [e.label for e in get_services(dash_app).store.list_events()] == [
        "Price change", "Onboarding revamp"]
    visit(dash_duo, "/tv?panels=trend")
    wait_for(lambda: "Onboarding revamp" in driver.find_element(By.ID, "tv-trend-graph").text,
             POLL_SECONDS + 10, "the event on the wall's trend")


def test_an_admin_sets_a_follow_up_status(server):
    dash_duo, dash_app = server
    driver = dash_duo.driver
    sign_in(dash_duo)
    visit(dash_duo, "/?view=follow-ups")
    first = wait_for(lambda: found(driver, ".fu-item"), 10, "the follow-up list")[0]
    rid = int(first.get_attribute("data-id"))
    first.find_element(By.CSS_SELECTOR, ".fu-status").click()
    time.sleep(0.3)
    option = wait_for(lambda: [o for o in driver.find_elements(By.XPATH, "//*[text()='Contacted']")
                               if o.is_displayed()], 5, "the status menu")
    option[-1].click()
    wait_for(lambda: f"Saved: response {rid} is contacted" in workspace_text(driver), 10,
             "the saved message")
    book = FollowUps(get_services(dash_app).store)
    rows = book.list(FollowUpFilter(status="contacted"))
    assert [r["id"] for r in rows] == [rid]


def test_the_keyboard_opens_an_event_and_focus_is_visible(server):
    dash_duo, _ = server
    driver = dash_duo.driver
    visit(dash_duo, "/")
    chip = wait_for(lambda: [b for b in found(driver, ".ws-hint .ws-chip")
                             if b.text == "Price change"], 10, "the window's events")[0]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", chip)
    chip.send_keys(Keys.TAB)  # focus moves by keyboard from the chip to the next control
    active = driver.switch_to.active_element
    assert active.tag_name in ("button", "input") and active != chip
    active.send_keys(Keys.SHIFT, Keys.TAB)  # and back
    assert driver.switch_to.active_element == chip
    outline = driver.execute_script(
        "return getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # a visible focus ring (:focus-visible after keyboard use)
    chip.send_keys(Keys.ENTER)
    wait_for(lambda: found(driver, ".ws-drill--event .ws-sides"), 10, "the event by keyboard")


def test_changing_the_window_keeps_the_workspace_in_the_url(server):
    dash_duo, _ = server
    driver = dash_duo.driver
    visit(dash_duo, "/?topic=Pricing&compare=region")
    wait_for(lambda: found(driver, ".ws-drill--topic .ws-comment"), 10, "the drill-down")
    label = [x for x in found(driver, "#mgr-window label") if x.text == "90 days"][0]
    label.click()
    wait_for(lambda: "window=90d" in driver.current_url, 10, "the window in the URL")
    assert "topic=Pricing" in driver.current_url and "compare=region" in driver.current_url
    wait_for(lambda: "last 90 days" in workspace_text(driver), 10, "the drill-down's new window")
