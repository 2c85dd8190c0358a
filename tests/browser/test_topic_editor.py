"""The manager's "Edit topics" control in headless Chromium: an admin (signed in at /admin)
sees it on every comment, opens the dialog with the comment's topics chosen, saves a
correction and sees it on the comment within one poll; a visitor without the admin session
never sees the control."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from app import topic_editor
from app.services import get_services
from app.web import create_app, start_jobs, stop_jobs
from tests.browser.conftest import _PORTS
from tests.conftest import ADMIN_TOKEN, make_record

POLL_SECONDS = 1.0
SHOT = os.environ.get("NPS_TV_TOPIC_DIALOG_SHOT", "/tmp/h2_topic_dialog_1920x1080.png")
COMMENTS = ("The new editor is slow and it crashed twice this week",
            "Lovely people on the phone, they sorted it out",
            "Too expensive for what we use, the renewal price went up again",
            "Invoices arrive late and the export to CSV is broken")


@pytest.fixture
def server(dash_duo, settings):
    """A polling server (open access, admin token set) on four commented responses."""
    dash_app = create_app(settings.replace(admin_token=ADMIN_TOKEN, poll_seconds=POLL_SECONDS))
    now = datetime.now(UTC)
    get_services(dash_app).store.upsert_responses([
        make_record(i, (3, 9, 6, 4)[i], when=now - timedelta(hours=4 - i), comment=c,
                    product="Ledger", region="EMEA") for i, c in enumerate(COMMENTS)])
    start_jobs(dash_app)
    dash_duo.start_server(dash_app, navigate=False, port=next(_PORTS))
    dash_duo.driver.set_window_size(1920, 1080)
    # The page itself 1920x1080 (the window size includes the browser's own frame).
    dash_duo.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False})
    try:
        yield dash_duo, dash_app
    finally:
        stop_jobs(dash_app)


def visit(dash_duo, path: str) -> None:
    dash_duo.driver.get(dash_duo.server.url.rstrip("/") + path)


def wait_for(condition, timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if condition():
                return time.monotonic() - started
        except StaleElementReferenceException:  # a poll re-rendered the comments meanwhile
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what} not within {timeout}s")


def card_of(dash_duo, words: str):
    for card in dash_duo.driver.find_elements(By.CSS_SELECTOR, "#mgr-comments-body "
                                                               ".comment-card"):
        if words in card.text:
            return card
    return None


def chips_of(dash_duo, words: str) -> list[str]:
    card = card_of(dash_duo, words)
    return [c.text for c in card.find_elements(By.CSS_SELECTOR, ".chip-topic")] if card else []


def test_a_visitor_never_sees_the_control(server):
    dash_duo, _ = server
    visit(dash_duo, "/")
    wait_for(lambda: card_of(dash_duo, "Lovely people"), 10, "the comments")
    assert dash_duo.driver.find_elements(By.CSS_SELECTOR, ".comment-edit") == []
    assert dash_duo.driver.find_elements(By.ID, topic_editor.DIALOG) == []


def test_an_admin_corrects_a_comments_topics_and_sees_it_within_a_poll(server):
    dash_duo, dash_app = server
    driver = dash_duo.driver
    visit(dash_duo, "/admin")
    driver.find_element(By.NAME, "token").send_keys(ADMIN_TOKEN, Keys.ENTER)
    wait_for(lambda: card_of(dash_duo, "Lovely people"), 10, "the manager page")
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".comment-edit"), 5, "the control")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#mgr-comments-body .comment-edit")) == 4
    before = chips_of(dash_duo, "slow and it crashed")
    assert before == ["Performance", "Reliability"]

    card_of(dash_duo, "slow and it crashed").find_element(By.CSS_SELECTOR,
                                                          ".comment-edit").click()
    dialog = driver.find_element(By.ID, topic_editor.DIALOG)
    wait_for(lambda: "is-open" in dialog.get_attribute("class"), 5, "the dialog")
    wait_for(lambda: "crashed twice" in dialog.text, 5, "the comment in the dialog")
    assert "Performance" in dialog.text and "Reliability" in dialog.text
    add_topic(dash_duo, "Ease of use")
    wait_for(lambda: "Ease of use" in dialog.text, 5, "the added topic")
    driver.save_screenshot(SHOT)

    driver.find_element(By.ID, topic_editor.SAVE).click()
    message = driver.find_element(By.ID, topic_editor.MESSAGE)
    wait_for(lambda: "Saved" in message.text, 5, "the saved message")
    assert "is-open" not in dialog.get_attribute("class")
    store = get_services(dash_app).store
    assert store.list_responses()[0]["topics"] == ["Ease of use", "Performance", "Reliability"]
    seconds = wait_for(lambda: "Ease of use" in chips_of(dash_duo, "slow and it crashed"),
                       POLL_SECONDS + 3, "the corrected chips")
    assert seconds <= POLL_SECONDS + 3


def add_topic(dash_duo, name: str) -> None:
    """Choose ``name`` in the dialog's multi-select, as a user would (type, then Enter)."""
    driver = dash_duo.driver
    choice = driver.find_element(By.ID, topic_editor.CHOICE)
    choice.click()
    time.sleep(0.3)
    field = driver.switch_to.active_element
    field.send_keys(name)
    time.sleep(0.3)
    field.send_keys(Keys.ENTER)
    time.sleep(0.3)
    field.send_keys(Keys.ESCAPE)
