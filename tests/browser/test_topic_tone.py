"""The wall's topic panel says how the mentions of a topic sound, in words, readable from
three metres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.by import By

from app.services import get_services
from tests.browser.conftest import serve_wall
from tests.browser.test_wall import POLL_SECONDS, REACH_SECONDS, wait_for_text
from tests.conftest import make_record


@pytest.fixture
def wall(dash_duo, settings):
    yield from serve_wall(dash_duo, settings, POLL_SECONDS)


def test_the_topic_panel_shows_the_tone_of_the_mentions(wall):
    dash_duo, dash_app = wall
    when = datetime.now(UTC) - timedelta(days=1)
    comments = ["Support was wonderful and quick."] * 6 + ["Support was terrible."] * 1
    get_services(dash_app).store.upsert_responses(
        [make_record(900 + i, 9, when=when, comment=c) for i, c in enumerate(comments)])
    dash_duo.driver.set_window_size(1920, 1080)
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=topics&dwell=600")
    wait_for_text(dash_duo, "#tv-panel-topics", "86% positive", timeout=10 + REACH_SECONDS)
    # Support's row (other topics of the wall's seed comments may rank above it).
    cells = dash_duo.driver.find_elements(By.CSS_SELECTOR, "#tv-panel-topics .tone-text")
    [cell] = [c for c in cells if c.text == "86% positive"]
    assert cell.is_displayed()
    viewport = dash_duo.driver.execute_script("return window.innerHeight")
    size = float(cell.value_of_css_property("font-size").removesuffix("px"))
    assert size >= 0.025 * viewport  # readable from three metres
