"""Every drill path of the manager's workspace without a mouse (Tab, Enter and arrow keys
only, sent as a person types them), the small multiples' click path, and a visible focus
ring in both themes."""

from __future__ import annotations

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.test_workspace import found, server, visit, wait_for, workspace_text

__all__ = ["server"]  # the fixture, shared with the click-path tests

ACCENT = {"dark": "rgb(122, 167, 255)", "light": "rgb(47, 95, 208)"}  # --accent per theme


def press(driver, *keys: str) -> None:
    """Type keys into whatever has the focus, as a keyboard would."""
    chain = ActionChains(driver)
    for key in keys:
        chain.send_keys(key).pause(0.15)
    chain.perform()


def tab_to(driver, wanted, limit: int = 150):
    """Press Tab until the focused element satisfies ``wanted``; fail if it never does (the
    element is then not reachable by keyboard)."""
    wait_for(lambda: found(driver, "#ws-body .ws-tabs"), 10, "the workspace")
    seen = []
    for _ in range(limit):
        press(driver, Keys.TAB)
        active = driver.switch_to.active_element
        if wanted(active):
            return active
        seen.append(f"{active.tag_name}.{active.get_attribute('class')}")
    raise AssertionError(f"not reached by Tab in {limit} presses: {seen[-12:]}")


def has(css: str, text: str | None = None):
    """A test for the focused element: it (or its nearest ancestor) matches ``css``."""
    def test(element) -> bool:
        matched = element.parent.execute_script(
            "return arguments[0].closest(arguments[1]) !== null", element, css)
        return matched and (text is None or element.text.strip() == text)
    return test


def test_a_topic_by_keyboard(server):
    dash_duo, _ = server
    driver = dash_duo.driver
    visit(dash_duo, "/")
    tab_to(driver, has(".topic-open", "Pricing"))
    press(driver, Keys.ENTER)
    wait_for(lambda: found(driver, ".ws-drill--topic .ws-comment"), 10, "the topic's comments")
    assert "topic=Pricing" in driver.current_url


def test_a_trend_period_by_keyboard_then_the_next_one(server):
    dash_duo, _ = server
    driver = dash_duo.driver
    visit(dash_duo, "/")
    tab_to(driver, has(".ws-period"))
    press(driver, Keys.ENTER, Keys.ARROW_DOWN, Keys.ARROW_DOWN, Keys.ENTER)  # the 2nd newest
    wait_for(lambda: found(driver, ".ws-drill--period .ws-summary"), 10, "the period")
    chosen = driver.current_url.split("period=")[1][:10]
    text = workspace_text(driver)
    assert f"Day {chosen}" in text and "Margin (95%)".upper() in text.upper()
    later = tab_to(driver, has(".ws-period-nav button", "Later \u203a"))
    later.send_keys(Keys.ENTER)  # Enter on the focused button, still no mouse
    wait_for(lambda: chosen not in driver.current_url, 10, "the later period")
    assert "period=" in driver.current_url


def test_an_event_by_keyboard(server):
    dash_duo, _ = server
    driver = dash_duo.driver
    visit(dash_duo, "/")
    tab_to(driver, has(".ws-hint .ws-chip", "Price change"))
    press(driver, Keys.ENTER)
    wait_for(lambda: found(driver, ".ws-drill--event .ws-sides"), 10, "before and after")
    assert "event=1" in driver.current_url


def test_a_comparison_row_by_keyboard_filters_the_workspace(server):
    dash_duo, _ = server
    driver = dash_duo.driver
    visit(dash_duo, "/?compare=region")
    tab_to(driver, has(".ws-compare .ws-segment-open", "EMEA"))
    press(driver, Keys.ENTER)
    wait_for(lambda: "region=EMEA" in driver.current_url, 10, "the filter in the URL")
    wait_for(lambda: [r.text for r in found(driver, ".ws-segment-open")] == ["EMEA"], 10,
             "the table filtered to EMEA")
    assert "compare=region" in driver.current_url


def test_a_small_multiple_by_keyboard_filters_the_workspace(server):
    dash_duo, _ = server
    driver = dash_duo.driver
    visit(dash_duo, "/?compare=region")
    multiple = tab_to(driver, lambda e: (e.get_attribute("aria-label") or "").startswith(
        "region APAC"))
    assert "ws-multiple" in multiple.get_attribute("class")
    press(driver, Keys.ENTER)
    wait_for(lambda: "region=APAC" in driver.current_url, 10, "the filter in the URL")
    wait_for(lambda: [m.find_element(By.CSS_SELECTOR, ".ws-multiple-name").text
                      for m in found(driver, ".ws-multiple")] == ["APAC"], 10,
             "one multiple left")


def test_a_small_multiple_click_filters_and_the_url_reopens_it(server):
    dash_duo, _ = server
    driver = dash_duo.driver
    visit(dash_duo, "/?compare=region")
    names = wait_for(lambda: [m.find_element(By.CSS_SELECTOR, ".ws-multiple-name").text
                              for m in found(driver, ".ws-multiple")], 10, "the multiples")
    assert sorted(names) == ["APAC", "EMEA"]
    assert "every chart on one scale" in workspace_text(driver)
    emea = [m for m in found(driver, ".ws-multiple") if "EMEA" in m.text][0]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", emea)
    emea.click()
    url = wait_for(lambda: "region=EMEA" in driver.current_url and driver.current_url, 10,
                   "the filter in the URL")
    driver.get("about:blank")
    driver.get(url)
    wait_for(lambda: [r.text for r in found(driver, ".ws-segment-open")] == ["EMEA"], 10,
             "the same filtered comparison")
    assert [f.text for f in found(driver, ".mgr-filter") if "EMEA" in f.text]  # the dropdown


def test_the_focus_ring_shows_in_both_themes(server):
    dash_duo, _ = server
    driver = dash_duo.driver
    for theme in ("dark", "light"):
        visit(dash_duo, f"/?compare=region&theme={theme}")
        for css in (".ws-period", ".ws-multiple"):
            active = tab_to(driver, has(css))
            style = driver.execute_script(
                "var s = getComputedStyle(arguments[0]);"
                "return [s.outlineStyle, s.outlineColor, s.outlineWidth];", active)
            assert style == ["solid", ACCENT[theme], "3px"], (theme, css, style)
