"""In headless Chromium, under the Content-Security-Policy: a share link opens the wall, the
token leaves the address bar, and the trend chart renders with no CSP violation."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.by import By

from app.services import get_services
from app.web import create_app, start_jobs, stop_jobs
from tests.browser.conftest import _PORTS
from tests.conftest import make_record

ADMIN = "admin-token-0123456789abcdef"
SCREENSHOTS = "/tmp"


@pytest.fixture
def wall(dash_duo, settings):
    """A links-mode server (dash_duo cannot open its root page: that needs a link)."""
    dash_app = create_app(settings.replace(access="links", admin_token=ADMIN, poll_seconds=2.0))
    now = datetime.now(UTC)
    get_services(dash_app).store.upsert_responses([
        make_record(i, 10 if i % 2 else 6, when=now - timedelta(days=i % 60, hours=2),
                    comment=f"comment {i}", product="Ledger") for i in range(120)])
    start_jobs(dash_app)
    dash_duo.start_server(dash_app, navigate=False, port=next(_PORTS))
    try:
        yield dash_duo, dash_app
    finally:
        stop_jobs(dash_app)


def console_errors(dash_duo) -> list[str]:
    return [entry["message"] for entry in dash_duo.driver.get_log("browser")
            if entry["level"] == "SEVERE"]


def test_a_share_link_opens_the_wall_and_the_trend_renders_under_the_csp(wall, tmp_path):
    dash_duo, dash_app = wall
    links = get_services(dash_app).links
    _, token = links.links.create("Lobby TV", "wall", "panels=trend&window=90d")
    links.refresh(force=True)
    driver = dash_duo.driver
    driver.get(f"{dash_duo.server.url.rstrip('/')}/tv")
    assert "No access: open a share link" in driver.find_element(By.TAG_NAME, "body").text
    assert any("401" in e for e in console_errors(dash_duo))  # read, so the log starts afresh
    driver.set_window_size(1920, 1080)
    driver.get(f"{dash_duo.server.url.rstrip('/')}/s/{token}")
    dash_duo.wait_for_element("#tv-panel-trend", timeout=20)
    # The door sends the browser to the link's screen; the token is gone from the address.
    assert driver.current_url.endswith("/tv?panels=trend&window=90d")
    assert token not in driver.current_url
    trace = "#tv-panel-trend.is-active .scatterlayer .trace path"
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline and not driver.find_elements(By.CSS_SELECTOR, trace):
        time.sleep(0.3)
    assert driver.find_elements(By.CSS_SELECTOR, trace)
    time.sleep(1.0)
    driver.save_screenshot(str(tmp_path / "wall-under-csp.png"))
    driver.save_screenshot(f"{SCREENSHOTS}/nps-tv-wall-under-csp.png")
    errors = console_errors(dash_duo)
    assert not [e for e in errors if "Content Security Policy" in e or "Refused to" in e], errors
    assert errors == []
