"""Honest numbers in the browser: a change within noise is grey with its word, a real one keeps
colour and arrow and says "up" or "down", and "what changed" says it in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.by import By

from app.services import get_services
from tests.browser.conftest import serve_wall
from tests.browser.test_wall import POLL_SECONDS, REACH_SECONDS, text_content, wait_for_text
from tests.conftest import make_record

MUTED = "rgba(141, 151, 171, 1)"  # --muted of the dark theme
DETRACTOR = "rgba(255, 107, 107, 1)"  # --detractor


@pytest.fixture
def wall(dash_duo, settings):
    """The shared wall store: 40 answers over the last 20 days, 20 at 10 and 20 at 8 (NPS 50)."""
    yield from serve_wall(dash_duo, settings, POLL_SECONDS)


def add_previous_window(dash_app, promoters: int, passives: int) -> None:
    """Answers 40 days ago: the 30 days before the wall's window."""
    when = datetime.now(UTC) - timedelta(days=40)
    scores = [10] * promoters + [8] * passives
    get_services(dash_app).store.upsert_responses(
        [make_record(500 + i, s, when=when) for i, s in enumerate(scores)])


def delta_parts(dash_duo) -> list[str]:
    spans = dash_duo.driver.find_elements(By.CSS_SELECTOR, "#score-delta span")
    return [span.text for span in spans]


def delta_colour(dash_duo) -> str:
    element = dash_duo.driver.find_element(By.CSS_SELECTOR, "#score-delta .delta-value")
    return element.value_of_css_property("color")


def test_a_change_within_noise_is_grey_with_its_word(wall):
    dash_duo, dash_app = wall
    # 55 -> 50 on 40 answers each: SE = sqrt(61.9 + 62.5) = 11.2, noise 21.9.
    add_previous_window(dash_app, 22, 18)
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score&dwell=600")
    wait_for_text(dash_duo, "#score-delta", "steady", timeout=10 + REACH_SECONDS)
    delta = dash_duo.driver.find_element(By.ID, "score-delta")
    assert "is-steady" in delta.get_attribute("class").split()
    assert delta_parts(dash_duo) == ["\u22125", "steady"]
    assert not delta.find_elements(By.CSS_SELECTOR, ".delta-arrow")
    assert delta_colour(dash_duo) == MUTED
    assert "within noise" in text_content(dash_duo, "#tv-panel-score")


def test_a_real_change_has_colour_arrow_and_word_and_is_told_in_words(wall):
    dash_duo, dash_app = wall
    # 100 -> 50 on 40 answers each: SE = sqrt(0 + 62.5) = 7.9, noise 15.5: real.
    add_previous_window(dash_app, 40, 0)
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score,changes&dwell=600")
    wait_for_text(dash_duo, "#score-delta", "down", timeout=10 + REACH_SECONDS)
    delta = dash_duo.driver.find_element(By.ID, "score-delta")
    assert "is-down" in delta.get_attribute("class").split()
    assert delta_parts(dash_duo) == ["▼", "50", "down"]
    assert delta_colour(dash_duo) == DETRACTOR
    wait_for_text(dash_duo, "#tv-changes-body", "NPS down 50 over 30 days (±\u00a015.5)",
                  timeout=5)


def add_other_region(dash_app, promoters: int, detractors: int) -> None:
    """Answers of this window from APAC (the wall's own 40 are EMEA)."""
    when = datetime.now(UTC) - timedelta(days=3)
    scores = [10] * promoters + [2] * detractors
    get_services(dash_app).store.upsert_responses(
        [make_record(700 + i, s, when=when, product="Ledger", region="APAC")
         for i, s in enumerate(scores)])


def test_a_segment_against_the_rest_in_words_colour_and_arrow(wall):
    dash_duo, dash_app = wall
    # EMEA 20/20/0 (NPS 50) against APAC 10/0/30 (NPS -50) on 40 each:
    # Var = 10,000 * (0.5 - 0.25) / 40 = 62.5 and 10,000 * (1 - 0.25) / 40 = 187.5,
    # SE = 15.8, noise 31.0 < 100: EMEA is beyond noise above the rest.
    add_other_region(dash_app, 10, 30)
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score&dwell=600&region=EMEA")
    wait_for_text(dash_duo, "#score-versus-rest", "above the rest", timeout=10 + REACH_SECONDS)
    versus = dash_duo.driver.find_element(By.ID, "score-versus-rest")
    assert "is-up" in versus.get_attribute("class").split()
    assert versus.find_element(By.CSS_SELECTOR, ".delta-arrow").text == "▲"
    assert versus.find_element(By.CSS_SELECTOR, ".versus-value").text == "100"
    assert "beyond noise (± 31.0)" in versus.text
    # APAC against the rest: below it. Without a filter there is no such line.
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score&dwell=600&region=APAC")
    wait_for_text(dash_duo, "#score-versus-rest", "below the rest", timeout=10 + REACH_SECONDS)
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?panels=score&dwell=600")
    wait_for_text(dash_duo, "#score-responses", "80", timeout=10 + REACH_SECONDS)
    assert not dash_duo.driver.find_elements(By.ID, "score-versus-rest")
