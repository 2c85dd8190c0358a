"""Share links in headless Chromium: a wall link opens its pinned screen; `nps-tv share revoke`
or the link's expiry shows a notice in place of the data within one poll, without a reload; a
link without comments never shows a comment, on a panel or in the gong; a manager link cannot
widen its segments through the URL or the dropdowns."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.by import By

from app.cli import main
from app.services import get_services
from app.web import create_app
from tests.browser.conftest import serve
from tests.conftest import ADMIN_TOKEN, make_record

POLL_SECONDS = 2.0
# A revocation reaches every worker's link cache within one poll, and the screen's next
# request (every second) is refused: a poll plus a second, and two seconds of slack.
NOTICE_SECONDS = POLL_SECONDS + 3
SECRET = "secret words"
SHOTS = "/tmp"


@pytest.fixture
def server(dash_duo, settings, env):
    """A links-mode server on the store the `nps-tv` command reads (the test's data dir)."""
    dash_app = create_app(settings.replace(access="links", admin_token=ADMIN_TOKEN,
                                           poll_seconds=POLL_SECONDS))
    now = datetime.now(UTC)
    get_services(dash_app).store.upsert_responses([
        make_record(i, 10 if i % 3 else 3, when=now - timedelta(days=i % 20, hours=2),
                    comment=f"{SECRET} {i}", product="Ledger" if i % 2 else "Pulse",
                    region="EMEA") for i in range(60)])
    yield from serve(dash_duo, dash_app, size=(1920, 1080))


def create_link(capsys, *argv: str) -> str:
    """``nps-tv share create ...``; returns the printed /s/ path."""
    capsys.readouterr()
    assert main(["share", "create", *argv]) == 0
    return re.search(r"/s/[A-Za-z0-9_-]+", capsys.readouterr().out).group(0)


def visit(dash_duo, path: str) -> None:
    dash_duo.driver.get(dash_duo.server.url.rstrip("/") + path)


def page_text(dash_duo) -> str:
    return dash_duo.driver.find_element(By.TAG_NAME, "body").get_attribute("textContent")


def wait_for(condition, timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"{what} not within {timeout}s")


def connection_notice(dash_duo) -> str:
    element = dash_duo.driver.find_element(By.ID, "tv-connection")
    return element.text if "is-refused" in (element.get_attribute("class") or "") else ""


def test_a_wall_link_opens_its_screen_and_a_revocation_shows_within_one_poll(server, capsys):
    dash_duo, _ = server
    path = create_link(capsys, "Lobby TV", "--screen",
                       "panels=score,trend&window=90d&product=Ledger")
    visit(dash_duo, path)
    dash_duo.wait_for_element("#tv-panel-score.is-active", timeout=20)
    assert dash_duo.driver.current_url.endswith("/tv?panels=score,trend&window=90d&product=Ledger")
    wait_for(lambda: "Last 90 days · Ledger" in page_text(dash_duo), 10, "the pinned subtitle")
    dash_duo.driver.execute_script("window.__sameDocument = true;")
    capsys.readouterr()
    assert main(["share", "revoke", "Lobby TV"]) == 0
    took = wait_for(lambda: connection_notice(dash_duo) == "This link was revoked",
                    NOTICE_SECONDS, "the revoked notice")
    print(f"revoked notice after {took:.1f} s")
    # No reload: the same document, the notice covers the data.
    assert dash_duo.driver.execute_script("return window.__sameDocument === true;")
    notice = dash_duo.driver.find_element(By.ID, "tv-connection")
    inner = dash_duo.driver.execute_script("return [window.innerWidth, window.innerHeight];")
    assert [notice.size["width"], notice.size["height"]] == inner  # the whole screen
    dash_duo.driver.save_screenshot(f"{SHOTS}/nps-tv-link-revoked.png")


def test_an_expired_link_shows_its_notice_without_a_reload(server):
    dash_duo, dash_app = server
    book = get_services(dash_app).links
    _, token = book.links.create("Short visit", "wall", "panels=score",
                                 expires_at=datetime.now(UTC) + timedelta(seconds=8))
    book.refresh(force=True)
    visit(dash_duo, f"/s/{token}")
    dash_duo.wait_for_element("#tv-panel-score.is-active", timeout=20)
    dash_duo.driver.execute_script("window.__sameDocument = true;")
    wait_for(lambda: connection_notice(dash_duo) == "This link expired", 8 + NOTICE_SECONDS,
             "the expired notice")
    assert dash_duo.driver.execute_script("return window.__sameDocument === true;")


def test_a_link_without_comments_never_shows_one_on_a_panel_or_in_the_gong(server, capsys):
    dash_duo, dash_app = server
    path = create_link(capsys, "Reception", "--screen", "panels=comments,score&dwell=3",
                       "--comments", "hide")
    visit(dash_duo, path)
    dash_duo.wait_for_element("#tv-panel-score.is-active", timeout=20)
    time.sleep(1.5)  # the gong is armed once the first data has arrived
    get_services(dash_app).store.upsert_responses([
        make_record(500, 0, when=datetime.now(UTC), comment=f"{SECRET} in a new answer",
                    product="Ledger")])
    wait_for(lambda: "is-showing" in (dash_duo.driver.find_element(By.ID, "tv-gong")
                                      .get_attribute("class") or ""),
             NOTICE_SECONDS + 2, "the gong")
    gong = dash_duo.driver.find_element(By.ID, "tv-gong").get_attribute("textContent")
    assert "0" in gong and SECRET not in gong
    for _ in range(8):  # the wall rotates; nothing it shows has a comment
        assert SECRET not in page_text(dash_duo)
        time.sleep(0.5)
    assert "is-off" in dash_duo.driver.find_element(By.ID, "tv-panel-comments").get_attribute(
        "class")


def test_a_manager_link_cannot_widen_its_segments(server, capsys):
    dash_duo, _ = server
    path = create_link(capsys, "Ledger team", "--role", "manager", "--screen", "product=Ledger")
    visit(dash_duo, path)
    dash_duo.wait_for_element("#mgr-subtitle", timeout=20)
    wait_for(lambda: "Ledger" in dash_duo.find_element("#mgr-subtitle").text, 10, "the scope")
    visit(dash_duo, "/?product=Pulse")  # asking for more through the URL
    dash_duo.wait_for_element("#mgr-subtitle", timeout=20)
    time.sleep(2.5)  # a few polls
    assert dash_duo.find_element("#mgr-subtitle").text == "Last 30 days · Ledger"
    # The product dropdown offers the link's value only.
    dropdown = dash_duo.driver.find_elements(By.CSS_SELECTOR, ".mgr-filter")[0]
    dropdown.click()
    options = wait_for_options(dash_duo)
    assert options == ["Ledger"]
    dash_duo.driver.save_screenshot(f"{SHOTS}/nps-tv-manager-link.png")


def wait_for_options(dash_duo) -> list[str]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        options = [o.text for o in dash_duo.driver.find_elements(
            By.CSS_SELECTOR, ".dash-dropdown-content [role='option']")]
        if options:
            return options
        time.sleep(0.2)
    return []


def test_an_admin_reload_reaches_the_screen_within_a_poll(server, capsys):
    dash_duo, dash_app = server
    path = create_link(capsys, "Kitchen", "--screen", "panels=score")
    visit(dash_duo, path)
    dash_duo.wait_for_element("#tv-panel-score.is-active", timeout=20)
    time.sleep(1.5)
    dash_duo.driver.execute_script("window.__sameDocument = true;")
    book = get_services(dash_app).links
    [row] = [r for r in book.links.list_links() if r.name == "Kitchen"]
    assert book.links.request_reload(row.id)  # what the Screens page's Reload button does
    took = wait_for(lambda: not dash_duo.driver.execute_script(
        "return window.__sameDocument === true;"), NOTICE_SECONDS + 2, "the reload")
    print(f"reloaded after {took:.1f} s")
    dash_duo.wait_for_element("#tv-panel-score.is-active", timeout=20)  # and it came back
    time.sleep(POLL_SECONDS + 1.5)
    dash_duo.driver.execute_script("window.__again = true;")
    time.sleep(POLL_SECONDS + 1.5)  # the same stamp does not reload it twice
    assert dash_duo.driver.execute_script("return window.__again === true;")
