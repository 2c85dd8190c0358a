"""Panels built in wire form (``app.wire.TAGS``) are, byte for byte, the Dash components the
same panels build, converted as Dash sends them (issue 13, item 3: the wire form is made
directly instead of making components and converting them)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
from dash import dcc, html

from app.changes import Finding
from app.panels import PartContext
from app.panels.changes import build_changes_panel
from app.panels.comments import MIN_TO_SCROLL, SECONDS_PER_COMMENT, build_comments_panel
from app.panels.registry import PANELS
from app.panels.score import build_follow_up_line, build_score_panel
from app.panels.topics import build_topics_panel
from app.panels.trend import build_trend_figure
from app.part_cache import to_wire
from app.poller import Poller
from app.privacy import load_profanity
from app.store.database import EventRow
from app.views import ViewRequest, build_view
from app.wire import TAGS, Plain, json_size, to_plain
from tests.conftest import make_record

WIRE_PANELS = [panel for panel in PANELS if panel.wire]
FINDINGS = (Finding("overall", "", "NPS up 20 over 30 days (± 7.1)", "up", "good", 20.0),
            Finding("complaints", "shit", "shit complaints doubled (22 → 45)", "up", "bad", -2))


def dumped(value) -> str:
    """The JSON as written, so the order of keys counts too."""
    return json.dumps(value)


def with_components(name: str, view, ctx: PartContext) -> list:
    """What the registry's builder of ``name`` gives, made the component way (``dash.html``,
    no memos) and converted as the part cache converts components."""
    if name == "score" and ctx.surface == "wall":
        return score_of_tree(view, ctx)
    if name == "score":
        built = build_score_panel(view, ctx.rest)
        if ctx.follow_ups is not None:
            built.append(build_follow_up_line(view, ctx.follow_ups))
    elif name == "topics" and ctx.surface == "wall":
        return table_of_rows(view, ctx)
    elif name == "topics":
        built = build_topics_panel(view, ctx.limit or len(view.topics), ctx.surface)
    elif name == "comments" and ctx.surface == "wall":
        return feed_of_cards(view, ctx)
    elif name == "comments":
        built = build_comments_panel(view, datetime.now(UTC),
                                     limit=ctx.limit or len(view.comments),
                                     fields=ctx.segment_fields,
                                     profanity=ctx.profanity, editable=ctx.editable)
    elif name == "trend":
        built = build_trend_figure(view, ctx.theme, ctx.timezone)
    else:
        built = build_changes_panel(view, ctx.profanity)
    return to_plain(built)


def score_of_tree(view, ctx: PartContext) -> dict:
    """The wall's score panel data (``score.build_wall_score``, which the page draws) read off
    the panel the component way makes: each piece's texts, classes and attributes."""
    built = to_plain(build_score_panel(view, ctx.rest))
    if ctx.follow_ups is not None:
        built.append(to_plain(build_follow_up_line(view, ctx.follow_ups)))
    follow = None
    if built[-1] and built[-1]["props"].get("id") == "score-follow-ups":
        line = built.pop()["props"]
        follow = [line["children"], line["className"], line["data-total"],
                  line["data-contacted"]]

    def kids(node):
        return [child["props"] if child else None for child in node["props"]["children"]]

    main = built[0]
    if "score-insufficient" in main["props"]["className"]:
        value, detail = kids(main)
        count, why = detail["children"]
        return {"insufficient": [value["children"], count["props"]["children"],
                                 why["props"]["children"]], "follow": follow}
    hero, side = main["props"]["children"]
    value, caption = hero["props"]["children"]
    unit, margin = (piece["props"] for piece in caption["props"]["children"])
    value = value["props"]
    delta, words, versus, facts = side["props"]["children"]

    def change(node) -> list:
        """[its spans' texts ("" for one left out), class, whether significant]."""
        props = node["props"]
        return [*(span["children"] if span else "" for span in kids(node)),
                props["className"].split()[-1], props["data-significant"]]

    bar, legend = built[1]["props"]["children"]
    return {
        "hero": [value["children"], value["data-band"], value["aria-label"], unit["children"],
                 margin["children"], margin["title"]],
        "delta": change(delta),
        "caption": words["props"]["children"],
        "versus": change(versus) if versus else None,
        "facts": [[span["props"]["children"] for span in fact["props"]["children"]]
                  for fact in facts["props"]["children"]],
        "split": [[item["props"]["children"][1]["props"]["children"],
                   item["props"]["className"].split("split-item-")[-1],
                   item["props"]["children"][2]["props"]["children"],
                   item["props"]["children"][3]["props"]["children"], segment["props"]["title"]]
                  for segment, item in zip(bar["props"]["children"],
                                           legend["props"]["children"], strict=True)],
        "follow": follow,
    }


def table_of_rows(view, ctx: PartContext) -> dict:
    """The wall's topic table (``topics.build_wall_table``, which the page draws) read off the
    table the component way makes: its headings, each cell's texts, classes, title and bar
    widths, the note under it; or the message of an empty one."""
    table, note = (to_plain(build_topics_panel(view, ctx.limit or len(view.topics), "wall"))
                   + [None])[:2]
    if table["props"]["className"] == "panel-message":
        return {"message": table["props"]["children"]}
    header, *rows = table["props"]["children"]
    return {"headings": [cell["props"]["children"] for cell in header["props"]["children"]],
            "rows": [row_cells(row) for row in rows],
            "note": note["props"]["children"] if note else ""}


def row_cells(row: dict) -> list:
    """One row's cells as ``topics._row_data`` gives them, read off its components."""
    name, mentions, tone, nps, delta, detractors, impact = (
        cell["props"] for cell in row["props"]["children"])

    def kids(props):
        return [child["props"] if child else None for child in props["children"]]

    def last_class(props, prefix=""):
        return props["className"].split()[-1].removeprefix(prefix)

    tone_cells = None
    if "is-empty" not in tone["className"]:
        text, bar = kids(tone)
        tone_cells = [text["children"], last_class(text), tone["title"],
                      [[last_class(part, "tone-"), part["style"]["width"]]
                       for part in kids(bar)]]
    value, bar = kids(nps)
    nps_cells = ([value["children"], bar["children"]] if "is-muted" in value["className"] else
                 [value["children"], last_class(value, "band-"),
                  kids(bar)[1]["style"]["left"], kids(bar)[1]["style"]["width"]])
    arrow, magnitude, word = kids(delta)
    return [name["children"], mentions["children"], tone_cells, nps_cells,
            [arrow["children"] if arrow else "", magnitude["children"],
             word["children"] if word else "", last_class(delta), delta["title"]],
            detractors["children"], [impact["children"], last_class(impact)]]


def feed_of_cards(view, ctx: PartContext) -> dict:
    """The wall's feed (``comments.build_feed``, which the page draws) read off the cards
    the component way makes: each card's id, score, category, words, time and chips."""
    panel = to_plain(build_comments_panel(view, datetime.now(UTC),
                                          limit=ctx.limit or len(view.comments),
                                          fields=ctx.segment_fields, profanity=ctx.profanity))
    if panel[0]["props"]["className"] == "panel-message":
        return {"message": panel[0]["props"]["children"]}
    cards = panel[0]["props"]["children"][0]["props"]["children"]

    def part(card: dict, *path: int) -> dict:
        for i in path:
            card = card["props"]["children"][i]
        return card["props"]

    def read(card: dict) -> dict:
        meta = part(card, 1, 1)["children"]
        chips = [[c["props"]["children"], c["props"]["className"].removeprefix("chip chip-"),
                  c["props"]["title"]] if "title" in c["props"] else
                 [c["props"]["children"], c["props"]["className"].removeprefix("chip chip-")]
                 for c in meta[1:]]
        return {"id": card["props"]["data-id"], "score": int(part(card, 0)["children"]),
                "category": card["props"]["data-category"],
                "text": part(card, 1, 0)["children"], "ts": meta[0]["props"]["data-ts"],
                "chips": chips}
    return {"cards": [read(c) for c in cards], "scroll": len(cards) >= MIN_TO_SCROLL,
            "seconds": len(cards) * SECONDS_PER_COMMENT}


def contexts(panel) -> list[PartContext]:
    """The ways a panel is built: wall and manager, with and without the rest, follow-ups,
    an admin's edit buttons, masked words."""
    words = load_profanity()
    return [panel.context(surface, "dark", "UTC", ("product", "region"), words, rest=rest,
                          editable=editable, follow_ups=follow_ups)
            for surface in ("wall", "manager") for rest in (True, False)
            for editable, follow_ups in ((False, None), (True, (4, 2)), (False, (3, 3)))]


def stored_views(store, settings) -> list:
    """Views of a store across windows and filters, empty ones included, over two snapshots
    (the second builds from the memos what the first left)."""
    now = datetime.now(UTC)
    requests = [ViewRequest(window=w, segments=s) for w in ("7d", "30d", "all")
                for s in ((), (("product", ("p0",)),), (("product", ("p1", "p9")),),
                          (("region", ("Nowhere",)),))]
    requests.append(ViewRequest(window="range", start=(now - timedelta(days=9)).date(),
                                end=now.date()))
    poller = Poller(store, settings)
    views = []
    for k in range(2):
        poller.poll()
        views += [build_view(poller.snapshot, r, min_sample=5, tz="UTC", now=now)
                  for r in requests]
        store.upsert_responses([make_record(900 + k, 0, comment="Slow support, shit app",
                                            product="p0", region="EMEA")])
    return views


@pytest.mark.parametrize("data", ["stored", "empty", "one response"])
def test_every_wire_panel_is_its_components_byte_for_byte(sqlite_store, settings, data):
    now = datetime.now(UTC)
    if data == "stored":
        sqlite_store.upsert_responses([make_record(
            i, i % 11, when=now - timedelta(days=i % 40, hours=2),
            comment=("Slow support" if i % 2 else "Great UI, \u00e9t\u00e9 \"ok\"")
            if i % 3 else None, product=f"p{i % 4}", region=("EMEA", "APAC")[i % 2])
            for i in range(300)])
    elif data == "one response":
        sqlite_store.upsert_responses([make_record(1, 3, comment="meh", product="p0")])
    views = stored_views(sqlite_store, settings)
    first = views[0]  # of the first snapshot, before the second's response
    assert bool(first.topics and first.comments and first.current.enough) == (data == "stored")
    assert (first.current.n == 0) == (data == "empty")
    for view in views:
        for panel in WIRE_PANELS:
            for ctx in contexts(panel):
                built = panel.build(view, ctx)
                assert dumped(built) == dumped(with_components(panel.name, view, ctx)), (
                    panel.name, view.request, ctx)
                assert built == to_plain(built)  # no tuple, no NaN: kept as it is
                plain, chars = to_wire(Plain(built))
                assert plain is built and chars == json_size(built)


def test_what_changed_and_scores_without_a_past_are_their_components_too():
    from tests.test_panels import NOW, make_comment, make_view

    events = [EventRow(1, NOW - timedelta(days=3), "Price <b>change</b> & more", "price", "n"),
              EventRow(2, NOW - timedelta(days=3, hours=2), "Atlas 3.0 released", "launch",
                       None), EventRow(3, NOW - timedelta(days=90), "Old", "outage", None)]
    views = [make_view(changes=FINDINGS), make_view(changes=()),
             make_view(events=events, goal=42.5), make_view(trend=()),
             make_view(previous=None, window="all"), make_view((2, 1, 0)),
             make_view(rest=(10, 40, 50), comments=[make_comment(i, i) for i in range(6)])]
    views.append(dataclasses.replace(views[-1], request=ViewRequest(
        window="30d", segments=(("product", ("Ledger",)),))))
    for view in views:
        for panel in WIRE_PANELS:
            for ctx in contexts(panel):
                built = panel.build(view, ctx)
                assert dumped(built) == dumped(with_components(panel.name, view, ctx)), (
                    panel.name, ctx)
                assert built == to_plain(built)


@pytest.mark.parametrize("make", [
    lambda lib: lib.Div("text", id="a", className="c", title="t", style={"width": "4%"},
                        **{"data-band": "good", "aria-label": "NPS 4"}),
    lambda lib: lib.Span(className="dot"),
    lambda lib: lib.Div(className="row", children=[lib.Span("x"), None, "y"]),
    lambda lib: lib.Button("Edit", id={"type": "edit", "id": 7}, n_clicks=0, title="t"),
    lambda lib: lib.Ol([lib.Li("one")], id="list", **{"data-count": "1"}),
])
def test_a_tag_is_the_component_as_dash_sends_it(make):
    assert dumped(make(TAGS)) == dumped(to_plain(make(html)))


def test_a_tag_checks_its_props_as_the_component_does():
    with pytest.raises(TypeError):
        TAGS.Div("x", colour="red")
    with pytest.raises(TypeError):
        TAGS.Div("x", id=["not", "an", "id"])
    assert TAGS.Div is TAGS.Div  # made once per component class
    assert dumped(type(TAGS)(dcc).Markdown("**x**", id="m")) == dumped(
        to_plain(dcc.Markdown("**x**", id="m")))


def test_a_value_memo_holds_only_its_newest_pieces_itself():
    """``ValueMemo`` (the drawn panels' data pieces) keeps the ``strong`` pieces made last;
    the others it finds while something else (a cached part) holds them, and forgets when
    nothing does: 8,192 topic rows or score pieces held strongly were 16 and 7 MB a worker,
    outside the cache budget."""
    import gc

    from app.wire import ValueMemo

    memo = ValueMemo(size=1000, strong=10)
    kept = [memo.get(("row", i), lambda i=i: [f"topic {i}", i]) for i in range(100)]
    assert memo.get(("row", 3), lambda: ["made again"]) is kept[3]  # held by a part: found
    assert kept[3] == ["topic 3", 3] and orjson_or_json(kept[3]) == '["topic 3",3]'
    del kept
    gc.collect()
    alive = [i for i in reversed(range(100))  # newest first: a piece made again is held
             if memo.get(("row", i), lambda: ["made again"]) != ["made again"]]
    assert alive == list(range(99, 89, -1))  # the ten made last, and no more


def orjson_or_json(value) -> str:
    """``value`` as the answers write it (orjson when installed)."""
    from app.part_patch import wire_text

    return wire_text(value)


def test_an_object_memo_makes_once_per_object_and_holds_what_it_keeps():
    """``ObjectMemo`` (a comment's or the findings' shown fields) makes once per object,
    again for an equal but other object, and holds its objects until cleared at its size."""
    from app.wire import ObjectMemo

    memo, made = ObjectMemo(size=3), []

    def make(obj):
        made.append(obj)
        return ("shown", *obj)

    first = [1, 2]
    assert memo.get(first, make) == ("shown", 1, 2) and memo.get(first, make) is not None
    assert len(made) == 1  # the same object: not made again
    other = [1, 2]
    assert memo.get(other, make) == ("shown", 1, 2) and len(made) == 2  # equal, not the same
    for i in range(3):
        memo.get([i], make)
    assert len(memo._made) <= 3  # cleared at its size, not grown
    memo.get(first, make)
    assert len(made) == 6  # cleared: made again
