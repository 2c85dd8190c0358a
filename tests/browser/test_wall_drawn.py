"""The wall's panels drawn by the page from data (``Panel.drawn``: the comment feed from
``comments.build_feed`` by ``draw_feed``, the topic table's wire form by ``draw_tree``, in
``assets/nps_tv.js``), in headless Chromium: customers' words and names go in as text, never
as markup; the tree drawer draws what Dash would of the same wire form and nothing but plain
tags and props; a new comment keeps the cards already drawn; and neither adds a Dash
component, which every Dash cycle (one per change) walks several times.

Before, the feed was ~420 Dash components (20 cards and the loop's copy) and the topic table
~170, four fifths of the wall's; the bound below is structural, not a timing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from app.panels.topics import build_topics_panel, build_wall_table
from app.screen import parse_screen
from app.services import get_services
from app.wire import TAGS
from tests.browser.conftest import serve_wall
from tests.browser.test_wall import wait_for_text
from tests.conftest import make_record

POLL_SECONDS = 2.0
TRACK = "#tv-comments-body .comments-track"
# What a comment or a segment value may hold: markup that would run if it were not text.
MARKUP = '<img src="x" onerror="window.__pwned = 1"><b>bold</b>'
# The rotating wall's Dash components: 80-130 now (the scaffold and its bar, what changed);
# 700-900 while the feed and the topic table were made of them.
WALL_COMPONENTS_MAX = 250


@pytest.fixture
def wall(dash_duo, settings):
    yield from serve_wall(dash_duo, settings, POLL_SECONDS)


COUNT_COMPONENTS = """
var count = function (node) {
  if (Array.isArray(node)) { return node.reduce(function (n, c) { return n + count(c); }, 0); }
  if (!node || typeof node !== 'object') { return 0; }
  var own = node.type && node.namespace ? 1 : 0;
  var props = node.props || {};  // a store's data is data, not components
  return own + Object.keys(props).reduce(function (n, k) {
    return k === 'data' ? n : n + count(props[k]); }, 0);
};
var state = window.dash_stores[0].getState();
var at = function (id) {
  var node = state.layout;
  state.paths.strs[id].forEach(function (k) { node = node[k]; });
  return node;
};
return {all: count(state.layout.components || state.layout),
        drawn: count(at('tv-comments-body').props.children)
               + count(at('tv-topics-body').props.children)
               + count(at('tv-score-body').props.children),
        topics: at('tv-topics-data').props.data};
"""
# The drawn elements, as their tag, attributes, inline style and children (text as text).
DESCRIBE = """
var describe = function (node) {
  if (node.nodeType === 3) { return node.textContent; }
  var out = {tag: node.tagName.toLowerCase(), attrs: {}, style: {}, children: []};
  Array.from(node.attributes).forEach(function (a) {
    if (a.name !== 'style') { out.attrs[a.name] = a.value; } });
  for (var i = 0; i < node.style.length; i++) {
    out.style[node.style[i]] = node.style.getPropertyValue(node.style[i]); }
  out.children = Array.from(node.childNodes).map(describe);
  return out;
};
return Array.from(document.getElementById(arguments[0]).childNodes).map(describe);
"""
TAG_NAMES = {"Div": "div", "Span": "span", "P": "p"}


def as_dash_draws(node):
    """What Dash draws of a node of html components in wire form, as ``DESCRIBE`` reads it."""
    if node is None:
        return None
    if isinstance(node, (str, int)):
        return str(node)
    props = node["props"]
    attrs = {name: str(props[key]) for key, name in (("className", "class"), ("id", "id"),
                                                      ("title", "title"))
             if props.get(key) is not None}
    attrs.update({k: str(v) for k, v in props.items()
                  if re.fullmatch(r"(data|aria)-[a-z-]+", k) and v is not None})
    style = {re.sub(r"[A-Z]", lambda m: "-" + m.group().lower(), k): str(v)
             for k, v in (props.get("style") or {}).items()}
    children = props.get("children")
    children = children if isinstance(children, list) else [children]
    return {"tag": TAG_NAMES[node["type"]], "attrs": attrs, "style": style,
            "children": [d for d in map(as_dash_draws, children) if d is not None]}


def open_wall(dash_duo, query: str, drawn: str = f"{TRACK} > .comment-card"):
    """The wall at ``/tv?<query>`` once ``drawn`` is there; its driver."""
    dash_duo.driver.get(f"{dash_duo.server_url}/tv?{query}")
    dash_duo.wait_for_element(drawn, timeout=10)
    return dash_duo.driver


def test_the_feed_is_drawn_as_text_and_a_new_comment_keeps_the_cards_drawn(wall):
    dash_duo, dash_app = wall
    driver = open_wall(dash_duo, "panels=comments")
    before = driver.execute_script(
        f"var cards = document.querySelectorAll('{TRACK} > .comment-card');"
        f"document.querySelector('{TRACK}').__old = true;"
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
          newTrack: !document.querySelector('{TRACK}').__old,
          hidden: document.querySelector('{TRACK} .comments-clone').getAttribute('aria-hidden'),
          copies: document.querySelectorAll('{TRACK} .comments-clone > .comment-card').length}};
    """)
    assert drawn["text"] == MARKUP and MARKUP[:30] in " ".join(drawn["chips"])
    assert drawn["markup"] == 0 and not drawn["pwned"]
    assert (drawn["badge"], drawn["category"], drawn["time"]) == ("1", "detractor", "just now")
    assert drawn["ids"][0] not in before and not drawn["firstKept"]  # the new one, on top
    # The cards that stay are the elements drawn before, not drawn again.
    stayed = [i for i in drawn["ids"] if i in before]
    assert stayed and drawn["kept"] == len(stayed)
    assert drawn["copies"] == len(drawn["ids"]) and drawn["hidden"] == "true"  # the copy
    # A new comment starts the scroll (and a low-power screen's paging) again from the top.
    assert drawn["newTrack"]


def test_the_feed_adds_no_dash_component_to_the_wall(wall):
    driver = open_wall(wall[0], "dwell=10")
    cards = driver.execute_script(
        f"return document.querySelectorAll('{TRACK} .comment-card').length;")
    counted = driver.execute_script(COUNT_COMPONENTS)
    assert cards >= 8  # the feed is there, with its copy
    assert counted["drawn"] == 0
    assert 0 < counted["all"] <= WALL_COMPONENTS_MAX, counted["all"]
    # The topic table comes as data and is drawn as Dash would draw the components the
    # manager's table is made of, row for row.
    assert set(counted["topics"]) == {"headings", "rows", "note"}
    view = get_services(wall[1]).poller.view(
        parse_screen({"dwell": "10"}, get_services(wall[1]).settings).request)
    expected = [d for d in map(as_dash_draws, build_topics_panel(view, 8, "wall", tags=TAGS))
                if d is not None]
    drawn = driver.execute_script(DESCRIBE, "tv-topics-body")
    assert drawn == expected
    rows = expected[0]["children"]
    assert len(rows) == int(expected[0]["attrs"]["data-rows"]) + 1 >= 2  # and the header

    def styled(node) -> bool:
        return isinstance(node, dict) and (bool(node["style"]) or any(map(styled,
                                                                         node["children"])))
    assert styled(expected[0])  # a bar's width, drawn with the rest


def draw_each(driver, drawer: str, body: str, cases: list, marks: str) -> set[str]:
    """Draw each (data, components) case with ``nps_tv.<drawer>`` into ``body`` and check it
    is what Dash draws of the components; the ``marks`` (a pattern) the drawings showed."""
    seen: set[str] = set()
    for data, tree in cases:
        driver.execute_script(
            f"window.dash_clientside.nps_tv.{drawer}(arguments[0], arguments[1]);", data, body)
        drawn = driver.execute_script(DESCRIBE, body)
        assert drawn == [d for d in map(as_dash_draws, tree) if d is not None]
        seen.update(re.findall(f"({marks})", repr(drawn)))
    return seen


# Comments that give the topic table every kind of row: many mentions of one tone, of the
# other, too few to score or to judge the tone, and a name as markup would read it.
TOPIC_COMMENTS = ([(10, "Support was quick and friendly")] * 7 + [(0, "Support never answered")] * 2
                  + [(1, "The price is too expensive for what it does")] * 6
                  + [(9, "Setup was easy")] * 2 + [(4, "Reports are slow to load")])


def test_the_topic_table_is_drawn_from_its_data_as_its_components_are(wall):
    """``draw_topics`` draws the wall's table data (``topics.build_wall_table``) as the
    elements Dash draws of ``build_topics_panel``'s components for the same view: every kind
    of cell (tones either way or too few, a score or too few mentions, a change or none), a
    shorter table, and the message of an empty one, whose text stays text."""
    dash_duo, dash_app = wall
    services = get_services(dash_app)
    services.store.upsert_responses([
        make_record(5000 + i, score, when=datetime.now(UTC), comment=text, product="Ledger",
                    region="EMEA") for i, (score, text) in enumerate(TOPIC_COMMENTS)])
    services.poller.poll()
    driver = open_wall(dash_duo, "panels=topics", "#topics-table .topic-row")
    view = services.poller.view(parse_screen({"panels": "topics"}, services.settings).request)
    assert len(view.topics) >= 3
    cases = [(build_wall_table(view, limit), build_topics_panel(view, limit, "wall", tags=TAGS))
             for limit in (8, 1)]
    cases.append(({"message": MARKUP}, [TAGS.Div(MARKUP, className="panel-message")]))
    seen = draw_each(driver, "draw_topics", "tv-topics-body", cases,
                     r"is-empty|is-muted|is-negative|is-positive|delta-arrow|topics-more|"
                     r"panel-message")
    assert seen >= {"is-positive", "is-muted", "topics-more", "panel-message"}, seen
    assert driver.execute_script("return window.__pwned === undefined && "
                                 "!document.querySelector('#tv-topics-body img');")


def test_the_score_is_drawn_from_its_data_as_its_components_are(wall):
    """``draw_score`` draws the wall's score data (``score.build_wall_score``) as the elements
    Dash draws of ``build_score_panel``'s components (and the follow-up line's) for the same
    view: a score with its line against the rest or without one, a window too thin for a
    score, and the follow-up line done or not."""
    from app.panels.score import build_follow_up_line, build_score_panel, build_wall_score
    from app.views import ViewRequest

    dash_duo, dash_app = wall
    services = get_services(dash_app)
    services.store.upsert_responses([  # the rest, for the EMEA screen's line against it
        make_record(6000 + i, (0, 6, 9, 10)[i % 4], when=datetime.now(UTC), comment=MARKUP,
                    product="Ledger", region="APAC") for i in range(40)])
    services.poller.poll()
    driver = open_wall(dash_duo, "panels=score", "#tv-score-body #score-value")
    cases = []
    for request, rest, follow in (
            (ViewRequest(window="30d", segments=(("region", ("EMEA",)),)), True, (5, 2)),
            (ViewRequest(window="30d"), True, (3, 3)),
            (ViewRequest(window="90d", segments=(("region", ("EMEA",)),)), False, None),
            (ViewRequest(window="7d", segments=(("product", ("Nothing",)),)), True, (0, 0))):
        view = services.poller.view(request)
        tree = build_score_panel(view, rest, tags=TAGS)
        if follow is not None:
            tree.append(build_follow_up_line(view, follow, TAGS))
        cases.append((build_wall_score(view, rest, follow), tree))
    shown = draw_each(driver, "draw_score", "tv-score-body", cases,
                      r"score-versus-rest|score-insufficient|is-done|score-follow-ups|"
                      r"split-segment")
    assert shown == {"score-versus-rest", "score-insufficient", "is-done", "score-follow-ups",
                     "split-segment"}, shown


HOSTILE_TREE = [
    {"type": "Div", "namespace": "dash_html_components", "props": {
        "className": "topics-table", "onClick": "window.__pwned = 1", "href": "javascript:1",
        "dangerouslySetInnerHTML": {"__html": "<img src=x onerror='window.__pwned = 1'>"},
        "style": {"width": "50%", "background-image": "url(https://evil.example/x)",
                  "backgroundImage": "url(https://evil.example/x)"},
        "data-rows": "1", "children": [
            '<img src="x" onerror="window.__pwned = 1">',
            {"type": "A", "namespace": "dash_html_components",
             "props": {"href": "https://evil.example", "children": "link"}},
            {"type": "Iframe", "namespace": "dash_html_components",
             "props": {"src": "https://evil.example"}},
            {"type": "Script", "namespace": "dash_html_components",
             "props": {"children": "window.__pwned = 1"}},
            {"type": "Graph", "namespace": "dash_core_components", "props": {}},
            {"type": "Span", "namespace": "dash_html_components",
             "props": {"id": {"type": "x"}, "title": "<b>t</b>", "children": 7}}]}}]


def test_the_tree_drawer_draws_plain_tags_and_props_only(wall):
    """Whatever reaches it (a bug, a hostile store write through the page): no handler, link,
    frame, script or markup is drawn; text stays text."""
    driver = open_wall(wall[0], "panels=topics", "#topics-table .topic-row")
    driver.execute_script(
        "window.dash_clientside.nps_tv.draw_tree(arguments[0], 'tv-topics-body');",
        HOSTILE_TREE)
    drawn = driver.execute_script(DESCRIBE, "tv-topics-body")
    assert drawn == [{"tag": "div", "attrs": {"class": "topics-table", "data-rows": "1"},
                      "style": {"width": "50%"}, "children": [
                          '<img src="x" onerror="window.__pwned = 1">',
                          {"tag": "span", "attrs": {"title": "<b>t</b>"}, "style": {},
                           "children": ["7"]}]}]
    assert driver.execute_script("return window.__pwned === undefined;")
