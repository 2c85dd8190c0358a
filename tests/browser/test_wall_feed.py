"""The wall's comment feed, drawn by the page from data (``comments.build_feed``,
``assets/nps_tv.js`` ``draw_comments``), in headless Chromium: customers' words go in as text,
never as markup; a new comment keeps the cards already drawn; and the feed adds no Dash
component, which every Dash cycle (one per change) walks several times.

Before, the feed was ~420 Dash components (20 cards and the loop's copy), two thirds of the
wall's; the bound below is structural, not a timing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.services import get_services
from tests.browser.conftest import serve_wall
from tests.browser.test_wall import wait_for_text
from tests.conftest import make_record

POLL_SECONDS = 2.0
TRACK = "#tv-comments-body .comments-track"
# What a comment or a segment value may hold: markup that would run if it were not text.
MARKUP = '<img src="x" onerror="window.__pwned = 1"><b>bold</b>'
# The rotating wall's Dash components: ~220 now (the score's, the topics' rows, the
# scaffold); ~640 while the feed was made of them.
WALL_COMPONENTS_MAX = 350


@pytest.fixture
def wall(dash_duo, settings):
    yield from serve_wall(dash_duo, settings, POLL_SECONDS)


COUNT_COMPONENTS = """
var count = function (node) {
  if (Array.isArray(node)) { return node.reduce(function (n, c) { return n + count(c); }, 0); }
  if (!node || typeof node !== 'object') { return 0; }
  var own = node.type && node.namespace ? 1 : 0;
  var props = node.props || {};
  return own + Object.keys(props).reduce(function (n, k) { return n + count(props[k]); }, 0);
};
var state = window.dash_stores[0].getState(), path = state.paths.strs['tv-comments-body'];
var body = state.layout;
path.forEach(function (k) { body = body[k]; });
return {all: count(state.layout.components || state.layout), feed: count(body.props.children)};
"""


def open_feed(dash_duo, query: str):
    """The wall at ``/tv?<query>`` once its feed is drawn; its driver."""
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?{query}")
    dash_duo.wait_for_element(f"{TRACK} > .comment-card", timeout=10)
    return dash_duo.driver


def test_the_feed_is_drawn_as_text_and_a_new_comment_keeps_the_cards_drawn(wall):
    dash_duo, dash_app = wall
    driver = open_feed(dash_duo, "panels=comments")
    before = driver.execute_script(
        f"var cards = document.querySelectorAll('{TRACK} > .comment-card');"
        "cards.forEach(function (c) { c.__kept = true; });"
        "return Array.from(cards).map(function (c) { return c.getAttribute('data-id'); });")
    get_services(dash_app).store.upsert_responses([make_record(
        4000, 1, when=datetime.now(UTC), comment=MARKUP, product=MARKUP, region="EMEA")])
    wait_for_text(dash_duo, f"{TRACK} > .comment-card .comment-text", MARKUP,
                  timeout=POLL_SECONDS + 6)
    drawn = driver.execute_script(f"""
        var cards = Array.from(document.querySelectorAll('{TRACK} > .comment-card'));
        var first = cards[0];
        return {{ids: cards.map(function (c) {{ return c.getAttribute('data-id'); }}),
          kept: cards.filter(function (c) {{ return c.__kept; }}).length,
          firstKept: !!first.__kept, text: first.querySelector('.comment-text').textContent,
          chips: Array.from(first.querySelectorAll('.chip')).map(function (c) {{
            return c.textContent; }}),
          badge: first.querySelector('.comment-badge').textContent,
          category: first.getAttribute('data-category'),
          time: first.querySelector('.rel-time').textContent,
          markup: document.querySelectorAll('#tv-comments-body img, #tv-comments-body b')
            .length,
          pwned: window.__pwned === 1,
          copies: document.querySelectorAll('{TRACK} .comments-clone > .comment-card').length}};
    """)
    assert drawn["text"] == MARKUP and MARKUP[:30] in " ".join(drawn["chips"])
    assert drawn["markup"] == 0 and not drawn["pwned"]
    assert (drawn["badge"], drawn["category"], drawn["time"]) == ("1", "detractor", "just now")
    assert drawn["ids"][0] not in before and not drawn["firstKept"]  # the new one, on top
    # The cards that stay are the elements drawn before, not drawn again.
    stayed = [i for i in drawn["ids"] if i in before]
    assert stayed and drawn["kept"] == len(stayed)
    assert drawn["copies"] == len(drawn["ids"])  # the loop's copy follows


def test_the_feed_adds_no_dash_component_to_the_wall(wall):
    driver = open_feed(wall[0], "dwell=10")
    cards = driver.execute_script(
        f"return document.querySelectorAll('{TRACK} .comment-card').length;")
    counted = driver.execute_script(COUNT_COMPONENTS)
    assert cards >= 8  # the feed is there, with its copy
    assert counted["feed"] == 0
    assert 0 < counted["all"] <= WALL_COMPONENTS_MAX, counted
