"""In headless Chromium: the wall's follow-up line moves within one poll of an admin's status
change, and the manager's open drill-down and explorer refresh when new data arrives without
losing the reader's page, focus or what they are typing."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from selenium.webdriver.common.keys import Keys

from app.services import get_services
from app.web import create_app
from tests.browser.conftest import serve
from tests.browser.test_workspace import found, visit, wait_for, workspace_text
from tests.conftest import ADMIN_TOKEN, make_record

POLL_SECONDS = 1.0
# One server poll, then the screen's next poll; the rest is slack for a loaded machine (the
# unit tests show the snapshot version moving at the first poll after a change).
REACH_SECONDS = POLL_SECONDS + 10


@pytest.fixture
def server(dash_duo, settings):
    """A polling server: 60 commented responses over 20 days (every third a detractor on
    price, the others promoters on support)."""
    dash_app = create_app(settings.replace(admin_token=ADMIN_TOKEN, poll_seconds=POLL_SECONDS))
    add(get_services(dash_app).store, range(60))
    yield from serve(dash_duo, dash_app, size=(1366, 768))


def add(store, numbers) -> None:
    now = datetime.now(UTC)
    store.upsert_responses([
        make_record(i, 3 if i % 3 == 0 else 10, when=now - timedelta(days=i % 20, hours=1),
                    comment=("Far too expensive" if i % 3 == 0 else "Support was quick")
                    + f" ({i})", product="Ledger", region="EMEA") for i in numbers])


def base(dash_duo) -> str:
    return dash_duo.server.url.rstrip("/")


def line_text(driver) -> str:
    return driver.execute_script(
        "var e = document.getElementById('score-follow-ups'); return e ? e.textContent : ''")


def test_a_status_change_reaches_the_wall_line_within_a_poll(server):
    dash_duo, dash_app = server
    driver = dash_duo.driver
    visit(dash_duo, "/tv?panels=score&window=7d&followups=1")
    line = wait_for(lambda: found(driver, "#score-follow-ups"), 10, "the follow-up line")[0]
    # Responses 0, 3, ..., 57 with i % 20 < 7 days back: 0, 3, 6, 21, 24, 27, 42, 45, 60-less.
    total = int(line.get_attribute("data-total"))
    assert total > 0 and line.text == f"{total} detractors in the last 7 days, 0 contacted"
    listed = requests.get(f"{base(dash_duo)}/api/v1/follow-ups?window=7d", timeout=10,
                          headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()
    assert listed["total"] == total
    reply = requests.put(f"{base(dash_duo)}/api/v1/follow-ups/"
                         f"{listed['follow_ups'][0]['id']}", timeout=10,
                         data=json.dumps({"status": "contacted", "owner": "Ana"}),
                         headers={"Authorization": f"Bearer {ADMIN_TOKEN}",
                                  "Content-Type": "application/json"})
    assert reply.status_code == 200
    wait_for(lambda: "1 contacted" in line_text(driver),
             REACH_SECONDS, "the contacted count on the wall")


def test_an_open_drill_down_refreshes_on_new_data(server):
    dash_duo, dash_app = server
    driver = dash_duo.driver
    visit(dash_duo, "/?topic=Pricing")
    wait_for(lambda: "1\u201320 of 20" in workspace_text(driver), 10, "the topic's comments")
    add(get_services(dash_app).store, (102, 105))  # two more on price
    wait_for(lambda: "1\u201322 of 22" in workspace_text(driver), REACH_SECONDS,
             "the new comments in the open drill-down")
    assert "topic=Pricing" in driver.current_url


def test_the_explorer_refreshes_and_keeps_the_page_and_focus(server):
    dash_duo, dash_app = server
    driver = dash_duo.driver
    visit(dash_duo, "/?view=comments&page=2")
    wait_for(lambda: "51\u201360 of 60" in workspace_text(driver), 10, "the second page")
    previous = [b for b in found(driver, ".ws-pager button") if "Previous" in b.text][0]
    driver.execute_script("arguments[0].focus()", previous)
    focused = driver.switch_to.active_element.get_attribute("id")
    add(get_services(dash_app).store, range(200, 205))
    wait_for(lambda: "51\u201365 of 65" in workspace_text(driver), REACH_SECONDS,
             "the new count on the same page")
    assert "page=2" in driver.current_url
    wait_for(lambda: driver.switch_to.active_element.get_attribute("id") == focused, 3,
             "the focus given back to the same button")


def test_typing_in_the_search_box_holds_the_refresh_until_done(server):
    dash_duo, dash_app = server
    driver = dash_duo.driver
    visit(dash_duo, "/?view=comments")
    wait_for(lambda: "1\u201350 of 60" in workspace_text(driver), 10, "the explorer")
    box = found(driver, ".ws-search input")[0]
    box.click()
    box.send_keys("quic")  # typed, not yet searched
    add(get_services(dash_app).store, range(300, 304))
    time.sleep(REACH_SECONDS)
    assert found(driver, ".ws-search input")[0].get_attribute("value") == "quic"
    assert "1\u201350 of 60" in workspace_text(driver)  # held while typing
    found(driver, ".ws-search input")[0].send_keys(Keys.ENTER)  # the search runs
    wait_for(lambda: "q=quic" in driver.current_url, 10, "the search in the URL")
    wait_for(lambda: "1\u201342 of 42" in workspace_text(driver), REACH_SECONDS,
             "the search over the new data")
