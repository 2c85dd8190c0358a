"""The pure panel builders: a View in, components or plain-dict figures out."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from dash.development.base_component import Component

from app.changes import Finding
from app.metrics import TopicRow, build_trend_points, compare_scores, compute_delta, summarize
from app.panels import CHIP_CHARS, classify_band, describe_delta, format_ago
from app.panels.changes import CHANGES_LIST, build_changes_panel
from app.panels.comments import (
    CARDS,
    COMMENT_CHARS,
    COMMENTS_LIST,
    MIN_TO_SCROLL,
    SECONDS_PER_COMMENT,
    build_comment_card,
    build_comments_panel,
    build_feed,
    feed_card,
)
from app.panels.gong import GONG_CHARS, build_latest_payload
from app.panels.score import SCORE_DELTA, SCORE_VALUE, SCORE_VERSUS_REST, build_score_panel
from app.panels.topics import build_topics_panel
from app.panels.trend import HOVER_CHARS, HOVER_LINE, build_trend_figure
from app.rollup import Comment
from app.store.database import EventRow
from app.views import View, ViewRequest

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
TODAY = date(2026, 3, 31)


def walk(node) -> Iterator[Component]:
    """Every component in a tree of components and lists."""
    if isinstance(node, (list, tuple)):
        for item in node:
            yield from walk(item)
    elif isinstance(node, Component):
        yield node
        yield from walk(getattr(node, "children", None))


def find_id(node, component_id: str) -> Component:
    """The component with this id."""
    return next(c for c in walk(node) if getattr(c, "id", None) == component_id)


def find_class(node, css_class: str) -> list[Component]:
    """Components whose className contains ``css_class``."""
    return [c for c in walk(node) if css_class in (getattr(c, "className", "") or "").split()]


def text_of(node) -> str:
    """All the text in a tree of components."""
    if isinstance(node, str):
        return node
    if isinstance(node, (int, float)):
        return str(node)
    if isinstance(node, (list, tuple)):
        return " ".join(text_of(n) for n in node)
    if isinstance(node, Component):
        return text_of(getattr(node, "children", None))
    if isinstance(node, dict) and "props" in node:  # a piece in wire form (app.wire)
        return text_of(node["props"].get("children"))
    return ""


def make_trend(counts: list[tuple[int, int, int]], min_sample: int = 5):
    starts = [(TODAY - timedelta(days=len(counts) - 1 - i)).isoformat()
              for i in range(len(counts))]
    return build_trend_points(starts, counts, "day", min_sample)


def make_view(counts=(60, 25, 15), previous=(50, 30, 20), *, trend=None, events=(),
              topics=(), comments=(), goal=None, window="30d", min_sample=5,
              changes=(), rest=None) -> View:
    current = summarize(counts, min_sample)
    prev = summarize(previous, min_sample) if previous is not None else None
    rest = summarize(rest, min_sample) if rest is not None else None
    trend = make_trend([(6, 2, 2)] * 30) if trend is None else trend
    return View(
        version=1, as_of=NOW, request=ViewRequest(window=window),
        start=TODAY - timedelta(days=29), end=TODAY, current=current, previous=prev,
        delta=compute_delta(current, prev), change=compare_scores(current, prev),
        granularity="day", trend=trend,
        events=tuple(events), topics=tuple(topics), comments=tuple(comments), goal=goal,
        latest=None, changes=tuple(changes), rest=rest,
        versus_rest=compare_scores(current, rest) if rest is not None else None)


def make_comment(i: int, score: int, minutes_ago: float = 4, **segments: str) -> Comment:
    return Comment(id=i, created_at=NOW - timedelta(minutes=minutes_ago), score=score,
                   text=f"Comment number {i}", segments=segments or {"product": "Ledger"},
                   topics=("Pricing", "Support"))


# -- score ------------------------------------------------------------------------------------


def test_score_shows_rounded_nps_coloured_by_band():
    panel = build_score_panel(make_view((60, 25, 15)))
    value = find_id(panel, SCORE_VALUE)
    assert value.children == "45"
    assert "band-good" in value.className


@pytest.mark.parametrize(("nps", "band"), [
    (-40, "negative"), (-1, "negative"), (0, "low"), (29, "low"), (30, "good"), (69, "good"),
    (70, "great"), (100, "great"),
])
def test_bands(nps, band):
    assert classify_band(nps) == band


def test_score_below_min_sample_shows_count_and_no_number():
    panel = build_score_panel(make_view((2, 1, 0), min_sample=5))
    value = find_id(panel, SCORE_VALUE)
    assert "not enough responses" in text_of(value).lower()
    assert not re.search(r"\d", text_of(value))
    assert "3 responses" in text_of(panel)
    assert not find_class(panel, "split-pct")  # no percentages from three answers


@pytest.mark.parametrize("counts", [(1, 1, 1), (2, 2, 3), (13, 17, 19), (1, 0, 0), (33, 33, 34)])
def test_split_percentages_shown_sum_to_100(counts):
    panel = build_score_panel(make_view(counts, min_sample=1))
    shown = [int(text_of(c).rstrip("%")) for c in find_class(panel, "split-pct")]
    assert len(shown) == 3
    assert sum(shown) == 100
    assert [text_of(c) for c in find_class(panel, "split-count")] == [str(n) for n in counts]


def test_score_delta_arrow_and_missing_delta():
    # 1,000 responses a window: SE = sqrt(5.475 + 6.1) = 3.40, noise 6.7, delta 15 is real.
    up = find_id(build_score_panel(make_view((600, 250, 150), (500, 300, 200))), SCORE_DELTA)
    assert "▲" in text_of(up) and "15" in text_of(up) and "is-up" in up.className
    assert "up" in text_of(up).split() and up.to_plotly_json()["props"]["data-significant"] \
        == "true"
    down = find_id(build_score_panel(make_view((500, 300, 200), (600, 250, 150))), SCORE_DELTA)
    assert "▼" in text_of(down) and "is-down" in down.className
    assert "down" in text_of(down).split()
    none = find_id(build_score_panel(make_view(previous=(1, 0, 0))), SCORE_DELTA)
    assert text_of(none).strip() == "—"
    assert describe_delta(None)[1] == "—"


def test_a_change_within_noise_is_grey_and_steady_without_an_arrow():
    # 100 responses a window: the same 15-point rise has SE 10.76 and noise 21.1.
    panel = build_score_panel(make_view((60, 25, 15), (50, 30, 20)))
    delta = find_id(panel, SCORE_DELTA)
    assert "is-steady" in delta.className
    assert "is-up" not in delta.className and "is-down" not in delta.className
    assert "▲" not in text_of(delta) and "▼" not in text_of(delta)
    assert text_of(delta).split() == ["+15", "steady"]
    assert "within noise (± 21.1)" in text_of(panel)
    down = find_id(build_score_panel(make_view((50, 30, 20), (60, 25, 15))), SCORE_DELTA)
    assert text_of(down).split() == ["\u221215", "steady"]


def test_a_shown_change_inside_the_noise_is_steady_even_when_the_exact_one_is_not():
    # NPS -0.4 (shown 0) -> 6.4 (shown 6) on 1,000 each: exact delta 6.8 > noise 6.79, but the
    # screen would say 6 against ± 6.8, so it says steady (see test_changes for the sums).
    delta = find_id(build_score_panel(make_view((332, 400, 268), (300, 396, 304))), SCORE_DELTA)
    assert "is-steady" in delta.className and text_of(delta).split() == ["+6", "steady"]
    real = find_id(build_score_panel(make_view((333, 400, 267), (300, 396, 304))), SCORE_DELTA)
    assert "is-up" in real.className and text_of(real).split() == ["▲", "7", "up"]


def test_a_segment_against_the_rest_says_above_or_below_with_its_noise():
    # 600/250/150 (NPS 45) on 1,000 against the rest 500/300/200 (NPS 30) on 1,000: delta 15,
    # SE = sqrt(5.475 + 6.1) = 3.40, noise 6.7: beyond it, so arrow, colour and words.
    panel = build_score_panel(make_view((600, 250, 150), rest=(500, 300, 200)))
    versus = find_id(panel, SCORE_VERSUS_REST)
    assert "is-up" in versus.className
    assert versus.to_plotly_json()["props"]["data-significant"] == "true"
    assert text_of(versus).split()[:5] == ["▲", "15", "above", "the", "rest"]
    assert "(1,000 responses, NPS 30) · beyond noise (± 6.7)" in text_of(versus)
    below = find_id(build_score_panel(make_view((500, 300, 200), rest=(600, 250, 150))),
                    SCORE_VERSUS_REST)
    assert "is-down" in below.className and text_of(below).split()[:5] == \
        ["▼", "15", "below", "the", "rest"]


def test_a_segment_within_noise_of_the_rest_is_level_and_grey():
    # 100 against 100: the same 15 points have noise 21.1: no arrow, no colour, "level".
    versus = find_id(build_score_panel(make_view((60, 25, 15), rest=(50, 30, 20))),
                     SCORE_VERSUS_REST)
    assert "is-steady" in versus.className and "▲" not in text_of(versus)
    assert text_of(versus).split()[:4] == ["level", "with", "the", "rest"]
    assert "within noise (± 21.1)" in text_of(versus)
    assert versus.to_plotly_json()["props"]["data-significant"] == "false"


def test_no_comparison_with_the_rest_without_a_filter_too_few_or_under_a_scoped_link():
    def has_versus(panel) -> bool:
        return any(getattr(c, "id", None) == SCORE_VERSUS_REST for c in walk(panel))

    assert has_versus(build_score_panel(make_view((600, 250, 150), rest=(500, 300, 200))))
    assert not has_versus(build_score_panel(make_view((600, 250, 150))))
    assert not has_versus(build_score_panel(make_view((600, 250, 150), rest=(2, 1, 0))))
    assert not has_versus(build_score_panel(make_view((600, 250, 150), rest=(500, 300, 200)),
                                            rest=False))


def test_a_real_change_names_its_noise():
    text = text_of(build_score_panel(make_view((600, 250, 150), (500, 300, 200))))
    assert "beyond noise (± 6.7)" in text


def test_score_delta_is_the_difference_of_the_shown_scores():
    # 41.4 shows as 41 and 40.6 as 41: the arrow must not say 1 next to two equal numbers.
    view = make_view((707, 0, 293), (703, 0, 297))
    assert view.current.nps_display == 41 and view.previous.nps_display == 41
    assert view.delta == pytest.approx(0.8)
    delta = find_id(build_score_panel(view), SCORE_DELTA)
    assert "is-steady" in delta.className and text_of(delta).split() == ["0", "steady"]


def test_score_shows_responses_margin_and_window():
    text = text_of(build_score_panel(make_view((60, 25, 15))))
    assert "100" in text and "last 30 days" in text
    assert re.search(r"± \d+\.\d", text)


# -- trend ------------------------------------------------------------------------------------


def _events() -> list[EventRow]:
    day = datetime(2026, 3, 20, 9, tzinfo=UTC)
    return [EventRow(1, day, "Price change", "price", None),
            EventRow(2, day + timedelta(hours=20), "Atlas 3.0 released", "launch", None),
            EventRow(3, day - timedelta(days=12), "Outage", "outage", None)]


def test_trend_has_band_rolling_line_points_goal_and_events():
    fig = build_trend_figure(make_view(goal=40, events=_events()), "dark")
    names = [t["name"] for t in fig["data"]]
    band = fig["data"][0]
    assert band["fill"] == "toself" and None not in band["y"][:-1]
    rolling = next(t for t in fig["data"] if "rolling" in t["name"])
    assert rolling["mode"] == "lines" and all(y is not None for y in rolling["y"])
    assert any("Daily NPS" == n for n in names)
    assert all(t["type"] == "scatter" for t in fig["data"])  # never scattergl
    layout = fig["layout"]
    goal_lines = [s for s in layout["shapes"] if s["xref"] == "paper" and s["y0"] == 40]
    assert goal_lines and any(a["text"] == "Goal 40" for a in layout["annotations"])
    event_lines = [s for s in layout["shapes"] if s["yref"] == "paper"]
    assert len(event_lines) == 3
    labels = {a["text"]: a for a in layout["annotations"] if a.get("showarrow")}
    assert set(labels) == {"Price change", "Atlas 3.0 released", "Outage"}
    # Two events a day apart are staggered onto different rows.
    assert labels["Price change"]["ay"] != labels["Atlas 3.0 released"]["ay"]


def test_trend_mutes_small_periods():
    counts = [(6, 2, 2)] * 10 + [(1, 0, 1)] + [(0, 0, 0)] + [(6, 2, 2)] * 5
    fig = build_trend_figure(make_view(trend=make_trend(counts)), "dark")
    sure = next(t for t in fig["data"] if t["name"] == "Daily NPS")
    thin = next(t for t in fig["data"] if t["name"].startswith("under"))
    small_day = make_trend(counts)[10].start
    empty_day = make_trend(counts)[11].start
    assert small_day not in sure["x"] and empty_day not in sure["x"]
    assert thin["x"] == [small_day]
    assert thin["marker"]["color"] == "rgba(0,0,0,0)"  # a hollow ring, not a dot


def test_trend_marks_only_special_cause_periods():
    # Steady days of 12/4/4 (NPS 40) with one day of 4/0/12 (NPS -50): beyond 40 - 3 * 20.
    counts = [(12, 4, 4)] * 20 + [(4, 0, 12)] + [(12, 4, 4)] * 9
    trend = make_trend(counts)
    fig = build_trend_figure(make_view(trend=trend), "dark")
    special = next(t for t in fig["data"] if t["name"] == "outside control limits")
    usual = next(t for t in fig["data"] if t["name"] == "Daily NPS")
    assert special["x"] == [trend[20].start]
    assert trend[20].start not in usual["x"] and len(usual["x"]) == 29
    assert special["marker"]["size"] > usual["marker"]["size"]
    # The rolling line and its band are still drawn through it.
    rolling = next(t for t in fig["data"] if "rolling" in t["name"])
    assert None not in rolling["y"] and fig["data"][0]["fill"] == "toself"


def test_a_trend_point_is_read_once_and_forgotten_with_it():
    """The figure reads each point through a memo by the point (a new response leaves the
    others the same objects): the figure of a trend sharing points with an earlier one is
    the figure of fresh points, a changed point draws its new values, and the memo holds no
    point alive."""
    import gc

    from app.panels import trend as trend_panel
    counts = [(12, 4, 4)] * 20 + [(4, 0, 12)] + [(12, 4, 4)] * 8 + [(1, 0, 1)]
    first = make_trend(counts)
    before = build_trend_figure(make_view(trend=first), "dark")
    moved = first[:-1] + make_trend(counts[:-1] + [(9, 0, 1)])[-1:]  # the last day moved
    after = build_trend_figure(make_view(trend=moved), "dark")
    assert after == build_trend_figure(make_view(trend=make_trend(
        counts[:-1] + [(9, 0, 1)])), "dark")  # as from points never seen
    assert after != before and before == build_trend_figure(make_view(
        trend=make_trend(counts)), "dark")
    thin = next(t for t in before["data"] if t["name"].startswith("under"))
    assert thin["x"] == [first[-1].start]
    usual = next(t for t in after["data"] if t["name"] == "Daily NPS")
    assert usual["x"][-1] == moved[-1].start and usual["y"][-1] == 80.0
    held = len(trend_panel._POINTS)
    del first, moved
    gc.collect()
    assert len(trend_panel._POINTS) < held


def test_trend_without_special_causes_has_no_such_legend_entry():
    fig = build_trend_figure(make_view(trend=make_trend([(12, 4, 4)] * 30)), "dark")
    assert "outside control limits" not in [t["name"] for t in fig["data"]]


def test_trend_text_is_readable_from_three_metres():
    # Sizes are base pixels of a 1080-high wall: 2.5% of it is 27 px (axis, legend, events).
    fig = build_trend_figure(make_view(goal=40, events=_events()), "dark")
    layout = fig["layout"]
    sizes = [layout["xaxis"]["tickfont"]["size"], layout["yaxis"]["tickfont"]["size"],
             layout["legend"]["font"]["size"], layout["font"]["size"]]
    sizes += [a["font"]["size"] for a in layout["annotations"]]
    assert len(sizes) == 4 + 4 and min(sizes) >= 27


def test_trend_without_data_says_so():
    view = make_view((0, 0, 0), trend=make_trend([(0, 0, 0)] * 30))
    fig = build_trend_figure(view, "dark")
    assert fig["data"] == []
    texts = [a["text"] for a in fig["layout"]["annotations"]]
    assert texts == ["No responses in the last 30 days"]


def test_trend_light_theme_uses_light_palette():
    dark = build_trend_figure(make_view(), "dark")
    light = build_trend_figure(make_view(), "light")
    assert dark["layout"]["font"]["color"] != light["layout"]["font"]["color"]


# -- topics -----------------------------------------------------------------------------------


def _topic(name: str, cur, prev, impact: float) -> TopicRow:
    current = summarize(cur, 5)
    return TopicRow(name, current, summarize(prev, 5), impact, current.detractors / current.n)


def test_topics_table_rows_columns_and_limit():
    rows = [_topic(f"Topic {i}", (5, 2, 3), (6, 2, 2), -1.0 + i / 100) for i in range(12)]
    rows[0] = _topic("Pricing", (20, 30, 100), (50, 50, 50), -4.2)
    panel = build_topics_panel(make_view(topics=rows), limit=8)
    body = [r for r in find_class(panel, "topic-row") if "topic-header" not in r.className]
    assert len(body) == 8
    first = text_of(body[0])
    assert "Pricing" in first and "150" in first and "-53" in first and "67%" in first
    # 0 -> -53 over 150 mentions a window: SE 8.9, beyond noise: arrow, colour and word.
    assert "▼" in first and "down" in first.split() and "-4.2" in first
    assert "is-down" in find_class(body[0], "topic-delta")[0].className
    # 0 -> -20 over 10 mentions a window is noise: grey, no arrow, "steady".
    small = find_class(body[1], "topic-delta")[0]
    assert "is-steady" in small.className and text_of(small).split() == ["\u221220", "steady"]
    assert find_class(body[0], "nps-bar-fill")
    assert "+4 more topics" in text_of(panel)
    assert "“steady” = within noise (95%)" in text_of(panel)


def test_topic_below_min_sample_shows_no_score():
    panel = build_topics_panel(make_view(topics=[_topic("Docs", (1, 1, 0), (0, 0, 0), 0.1)]), 8)
    row = find_class(panel, "topic-row")[1]
    assert "—" in text_of(find_class(row, "topic-nps")[0])
    assert not find_class(row, "nps-bar")


def test_topics_empty_message():
    assert "No topics mentioned" in text_of(build_topics_panel(make_view(topics=()), 8))


# -- comments ---------------------------------------------------------------------------------


def test_a_comment_card_is_built_once_for_every_screen_that_shows_it():
    from app.panels.comments import CARDS, build_comment_card, shared_card
    from app.wire import to_plain

    comment = make_comment(41, 9, region="EMEA")
    builds = CARDS.builds
    first = shared_card(comment, NOW, fields=("region",))
    assert first == to_plain(build_comment_card(comment, NOW, fields=("region",)))
    assert shared_card(comment, NOW, fields=("region",)) is first  # another screen: no build
    assert CARDS.builds == builds + 1
    # What the card shows differs (its relative time, the fields): a card of its own.
    assert shared_card(comment, NOW + timedelta(hours=3), fields=("region",)) != first
    assert shared_card(comment, NOW, fields=()) is not first
    panel = to_plain(build_comments_panel(make_view(comments=[comment]), NOW, limit=5,
                                          fields=("region",), card=shared_card))
    assert panel == to_plain(build_comments_panel(make_view(comments=[comment]), NOW, limit=5,
                                                  fields=("region",)))


def test_comments_badges_chips_and_relative_time():
    comments = [make_comment(1, 10, region="EMEA", product="Ledger"), make_comment(2, 7),
                make_comment(3, 2, minutes_ago=180)]
    panel = build_comments_panel(make_view(comments=comments), NOW, limit=20,
                                 fields=("product", "region"))
    track = find_id(panel, COMMENTS_LIST)
    cards = [c for c in track.children if "comment-card" in c.className]
    assert len(cards) == 3
    badges = [find_class(card, "comment-badge")[0].className for card in cards]
    assert badges == ["comment-badge badge-promoter", "comment-badge badge-passive",
                      "comment-badge badge-detractor"]
    assert [text_of(c) for c in find_class(cards[0], "chip-segment")] == ["Ledger", "EMEA"]
    assert [text_of(c) for c in find_class(cards[0], "chip-topic")] == ["Pricing", "Support"]
    assert text_of(find_class(cards[0], "rel-time")[0]) == "4 min ago"
    assert text_of(find_class(cards[2], "rel-time")[0]) == "3 h ago"


def test_the_walls_feed_is_data_that_scrolls_only_when_many():
    many = [make_comment(i, 9 - i, region="EMEA", product="Ledger") for i in range(6)]
    feed = build_feed(make_view(comments=many), limit=20, fields=("region", "product"))
    assert feed["scroll"] is True and feed["seconds"] == 6 * SECONDS_PER_COMMENT
    assert [c["id"] for c in feed["cards"]] == [str(i) for i in range(6)]
    first = feed["cards"][0]
    assert first == {"id": "0", "score": 9, "category": "promoter", "text": "Comment number 0",
                     "ts": "2026-03-31T11:56:00+00:00",
                     "chips": [["EMEA", "segment", "region"], ["Ledger", "segment", "product"],
                               ["Pricing", "topic"], ["Support", "topic"]]}
    assert [c["category"] for c in feed["cards"][1:4]] == ["passive", "passive", "detractor"]
    few = build_feed(make_view(comments=many[:MIN_TO_SCROLL - 1]), limit=20)
    assert few["scroll"] is False and len(few["cards"]) == MIN_TO_SCROLL - 1
    assert build_feed(make_view(comments=many), limit=2, fields=("region", "product"))[
        "cards"] == feed["cards"][:2]
    assert build_feed(make_view(), limit=20) == {"message": "No comments in the last 30 days"}


def test_a_feed_card_is_one_object_for_every_screen_and_change_that_show_it():
    comment = make_comment(4, 3, region="APAC")
    builds = CARDS.builds
    card = feed_card(comment, ("region",))
    assert feed_card(comment, ("region",)) is card and CARDS.builds == builds + 1
    assert feed_card(comment, ()) is not card  # the chips differ
    edited = dataclasses.replace(comment, text="Edited words")
    assert feed_card(edited, ("region",))["text"] == "Edited words"


def test_a_feed_card_is_cut_and_masked_as_the_wall_shows_it():
    from app.privacy import load_profanity

    long = dataclasses.replace(make_comment(5, 1, region="x" * 200), text="shit " + "y" * 900)
    card = feed_card(long, ("region",), load_profanity())
    assert card["text"].startswith("s*** ") and len(card["text"]) <= COMMENT_CHARS
    assert len(card["chips"][0][0]) <= CHIP_CHARS


def test_comments_empty_message():
    empty = build_comments_panel(make_view(), NOW, limit=20)
    assert text_of(empty) == "No comments in the last 30 days"


@pytest.mark.parametrize(("seconds", "text"), [
    (10, "just now"), (240, "4 min ago"), (3 * 3600, "3 h ago"), (30 * 3600, "yesterday"),
    (5 * 86400, "5 days ago"),
])
def test_format_ago(seconds, text):
    assert format_ago(NOW - timedelta(seconds=seconds), NOW) == text


# -- display safety: what respondents and event authors write is shown as plain, safe text ----

RLO, PDF, LRI, PDI = "\u202e", "\u202c", "\u2066", "\u2069"
LONG_WORD = "A" * 500


def test_comment_text_is_cleaned_masked_and_cut():
    text = f"Great{RLO}tfel{PDF} product, write to john (at) example (dot) com {LONG_WORD * 2}"
    comment = Comment(id=1, created_at=NOW, score=9, text=text, segments={}, topics=())
    card = build_comment_card(comment, NOW)
    shown = text_of(find_class(card, "comment-text"))
    assert RLO not in shown and PDF not in shown and "Greattfel" in shown
    assert "john" not in shown and "[email]" in shown
    assert len(shown) <= COMMENT_CHARS and shown.endswith("…")


def test_segment_and_topic_chips_are_masked_neutralised_and_cut():
    comment = Comment(id=1, created_at=NOW, score=9, text="ok",
                      segments={"product": f"{LRI}Ledger{PDI}", "region": "ann\uff20corp\uff0ecom",
                                "plan": LONG_WORD},
                      topics=(f"Pri{RLO}cing",))
    card = build_comment_card(comment, NOW, fields=("product", "region", "plan"))
    chips = [text_of(c) for c in find_class(card, "chip")]
    assert chips[:2] == ["Ledger", "[email]"]
    assert len(chips[2]) == CHIP_CHARS and chips[2].endswith("…")
    assert chips[3] == "Pricing"


def test_gong_payload_is_cleaned_like_the_feed():
    latest = Comment(id=7, created_at=NOW, score=2, text=f"{RLO}bad{PDF} mail me a\u200b@b.com "
                     + LONG_WORD, segments={"product": "x@y.org", "region": f"EM{RLO}EA"},
                     topics=())
    view = dataclasses.replace(make_view(), latest=latest)
    payload = build_latest_payload(view, ("product", "region"))
    assert payload["text"].startswith("bad mail me [email] ")
    assert len(payload["text"]) <= GONG_CHARS and payload["text"].endswith("…")
    assert payload["chips"] == ["[email]", "EMEA"]


def test_topic_names_are_neutralised():
    row = TopicRow("Bil\u202eling", summarize((6, 3, 3), 5), summarize((6, 3, 3), 5), 0.0, 0.25)
    table = build_topics_panel(make_view(topics=[row]), 8)
    assert [text_of(c) for c in find_class(table, "topic-name")] == ["Billing"]


HOSTILE_LABELS = [
    '<a href="https://evil.example">Click for refund</a>',
    '<span style="font-size:200px">HUGE</span>',
    "Launch<br>second line &amp; more",
]


@pytest.mark.parametrize("label", HOSTILE_LABELS)
def test_event_labels_and_notes_are_plain_text_for_plotly(label):
    day = datetime(2026, 3, 20, 9, tzinfo=UTC)
    events = [EventRow(1, day, label, "launch", f'note <a href="https://x.example">x</a> {label}')]
    fig = build_trend_figure(make_view(events=events), "dark")
    annotation = next(a for a in fig["layout"]["annotations"] if a.get("showarrow"))
    # Nothing plotly would read as a tag or an entity: "<" and "&" only as entities.
    assert "<" not in annotation["text"] and ">" not in annotation["text"]
    assert "&lt;" in annotation["text"]
    hover = annotation["hovertext"]
    assert "<" not in hover.replace("<br>", "") and "&lt;a href" in hover
    assert "&amp;amp;" in hover or "&amp;" not in label
    assert "(launch)" in hover and "note" in hover


def test_event_hover_text_wraps_and_is_bounded():
    day = datetime(2026, 3, 20, 9, tzinfo=UTC)
    events = [EventRow(1, day, "Outage", "outage", "x" * 2000)]
    fig = build_trend_figure(make_view(events=events), "dark")
    hover = next(a for a in fig["layout"]["annotations"] if a.get("showarrow"))["hovertext"]
    lines = hover.split("<br>")
    assert len(lines) > 1 and max(len(line) for line in lines) <= HOVER_LINE
    assert len(hover.replace("<br>", "")) <= HOVER_CHARS


def test_event_label_direction_override_is_removed():
    day = datetime(2026, 3, 20, 9, tzinfo=UTC)
    fig = build_trend_figure(make_view(events=[EventRow(1, day, f"Price{RLO}up", "price",
                                                        None)]), "dark")
    annotation = next(a for a in fig["layout"]["annotations"] if a.get("showarrow"))
    assert annotation["text"] == "Priceup"


# -- what changed -----------------------------------------------------------------------------


FINDINGS = (Finding("overall", "", "NPS up 20 over 30 days (± 7.1)", "up", "good", 20.0),
            Finding("complaints", "Pricing",
                    "Pricing complaints doubled (22 → 45 detractor mentions)", "up", "bad", -2.3))


def test_changes_panel_lists_each_sentence_with_arrow_and_tone():
    panel = build_changes_panel(make_view(changes=FINDINGS))
    items = find_class(panel, "change-item")
    assert [text_of(find_class(i, "change-text")[0]).replace("\u00a0", " ") for i in items] \
        == [f.text for f in FINDINGS]
    assert "is-good" in items[0].className and "is-bad" in items[1].className
    # More complaints point up (the number rose) but are bad news: the word says which.
    assert [text_of(find_class(i, "change-arrow")[0]) for i in items] == ["▲", "▲"]
    assert "vs previous 30 days" in text_of(panel)


def test_changes_panel_says_when_nothing_is_significant():
    panel = build_changes_panel(make_view(changes=()))
    assert text_of(find_id(panel, CHANGES_LIST)) == "No significant change in the last 30 days"
    assert not find_class(panel, "change-item")
    assert "No earlier period" in text_of(build_changes_panel(make_view(previous=None,
                                                                        window="all")))


# -- profanity: masked on the wall, not for managers --------------------------------------------


def test_profanity_is_masked_on_the_wall_only():
    from app.panels.registry import GONG, PANELS
    from app.privacy import load_profanity

    comment = Comment(id=7, created_at=NOW - timedelta(minutes=3), score=2,
                      text="The export is shit", segments={"product": "Ledger"}, topics=())
    view = dataclasses.replace(make_view(comments=[comment]), latest=comment)
    panel = next(p for p in PANELS if p.name == "comments")
    words = load_profanity()
    wall = panel.build(view, panel.context("wall", "dark", "UTC", ("product",), words))
    desk = panel.build(view, panel.context("manager", "dark", "UTC", ("product",), words))
    assert wall["cards"][0]["text"] == "The export is s***" and "shit" not in str(wall)
    assert "The export is shit" in text_of(desk)
    gong = GONG.build(view, GONG.context("wall", "dark", "UTC", ("product",), words))
    assert gong["text"] == "The export is s***"
