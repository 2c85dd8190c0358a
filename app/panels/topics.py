"""The topics panel: a table of topics by impact, readable from across the room."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dash import html
from dash.development.base_component import Component

from app.metrics import ScoreSummary, TopicRow
from app.panels import (
    NOT_AVAILABLE,
    PartContext,
    classify_band,
    describe_change,
    describe_previous,
    describe_window,
    format_count,
)
from app.privacy import clean_for_display
from app.views import View
from app.wire import TAGS, ValueMemo, WireMemo

TOPICS_TABLE = "topics-table"
TOPIC_OPEN = "topic-open"  # manager: the pattern id type of a topic's name, which drills in
TOPIC_CHARS = 60  # the cell cuts a wide name with an ellipsis; this bounds what is sent
HEADINGS = ("Topic", "Mentions", "Tone", "NPS", "Change", "Detractors", "Impact")
# Below this many mentions of known tone the tone cell stays empty: "100% positive" from two
# mentions would be read as a verdict.
MIN_TONED = 5
# Rows in wire form by what they show, for the registry's builder; found while the cached
# topic parts hold them (counted in NPS_TV_CACHE_MB), the last 256 made held here.
ROWS = WireMemo(8192, strong=256)


def build_topics_panel(view: View, limit: int, surface: str = "wall",
                       memo: WireMemo | None = None, tags: Any = html) -> list[Component]:
    """The topic table's children: the ``limit`` topics with the most impact on the score,
    made with ``tags`` (``dash.html``, or ``app.wire.TAGS`` for the wire form). With
    ``memo``, a row comes from it in wire form when a row showing the same was built (a new
    response moves few topics; the others' shown values stay)."""
    rows = view.topics[:limit]
    if not rows:
        return [tags.Div(_empty_message(view), className="panel-message")]
    header = tags.Div([tags.Div(h, className=f"topic-cell topic-head-{i}")
                       for i, h in enumerate(HEADINGS)], className="topic-row topic-header")
    body = [_build_row(row, surface, tags=tags) if memo is None
            else memo.get(_row_key(row, surface),
                          lambda row=row: _build_row(row, surface, memo, tags))
            for row in rows]
    note = _note(view, limit)
    return [tags.Div([header, *body], id=TOPICS_TABLE, className="topics-table",
                     **{"data-rows": str(len(rows))}),
            tags.Div(note, className="topics-more") if note else None]


def build_wall_table(view: View, limit: int) -> dict:
    """The wall's topic table as data, which ``draw_topics`` (assets/nps_tv.js) draws as the
    elements ``build_topics_panel`` makes: {"headings", "rows": each row's cells
    (``_row_data``), "note": the line under it ("" for none)}, or {"message": why there is
    none}. A change moves a
    few of its values; as components, finding them in the tree took 150-900 us per distinct
    screen per change (issue 13, item 3), as data a few."""
    rows = view.topics[:limit]
    if not rows:
        return {"message": _empty_message(view)}
    return {"headings": list(HEADINGS),
            "rows": [ROW_DATA.get(_row_key(row, "wall"), lambda row=row: _row_data(row))
                     for row in rows], "note": _note(view, limit)}


def _empty_message(view: View) -> str:
    return f"No topics mentioned {describe_window(view.request.window, view.label)}"


def _note(view: View, limit: int) -> str:
    """The line under the table: the topics left out, and what the change compares."""
    notes = []
    if len(view.topics) > limit:
        notes.append(f"+{len(view.topics) - limit} more topics with a smaller effect")
    if view.previous is not None:
        notes.append(f"change {describe_previous(view.request.window)}; "
                     "\u201csteady\u201d = within noise (95%)")
    return " · ".join(notes)


def _row_data(row: TopicRow) -> list:
    """A wall row's cells as data: [name, mentions, tone (``_tone_data``), NPS
    (``_nps_data``), change [arrow, magnitude, word, class, title], detractors, impact
    [text, class]]."""
    change = describe_change(row.current, row.previous, row.change)
    return [clean_for_display(row.topic, TOPIC_CHARS), format_count(row.mentions),
            _tone_data(row, "wall"), _nps_data(row.current),
            [change.arrow, change.magnitude, change.word, change.css, change.noise],
            f"{round(row.detractor_share * 100)}%", list(_impact_data(row))]


# Wall rows' data by what they show (``_row_key``): a new response moves few topics, and the
# other rows stay the same objects.
ROW_DATA = ValueMemo()


def _row_key(row: TopicRow, surface: str) -> tuple:
    """What a row shows: its counts, tones and impact to the tenth it is shown with."""
    return (surface, row.topic, row.current, row.previous, round(row.impact, 1),
            row.positive, row.negative, row.neutral)


def _build_row(row: TopicRow, surface: str, memo: WireMemo | None = None,
               tags: Any = html) -> Any:
    """A topic's row; with ``memo``, its cells come from it by what they show (a new
    response mostly moves a row's impact, the rest of the row stays)."""
    def cell(key: tuple, make: Callable[[], Any]) -> Any:
        return memo.get(key, make) if memo is not None else make()

    current = row.current
    impact_text, impact_class = _impact_data(row)
    detractors = round(row.detractor_share * 100)
    # Keyed by its topic (React's key; the wall's drawer ignores it): a change that reorders
    # the rows is diffed as rows moved, not as every cell of every shifted row rewritten.
    return tags.Div(className="topic-row", key=row.topic, children=[
        cell(("name", surface, row.topic), lambda: _build_name(row.topic, surface, tags)),
        cell(("mentions", row.mentions), lambda: tags.Div(
            format_count(row.mentions), className="topic-cell topic-mentions")),
        cell(("tone", surface, row.mentions, row.positive, row.negative, row.neutral),
             lambda: build_tone(row, surface, tags)),
        cell(("nps", current), lambda: _build_nps(current, tags)),
        cell(("delta", current, row.previous), lambda: _build_delta(row, tags)),
        cell(("detractors", detractors), lambda: tags.Div(
            f"{detractors}%", className="topic-cell topic-detractors")),
        tags.Div(impact_text, className=f"topic-cell topic-impact {impact_class}"),
    ])


def _impact_data(row: TopicRow) -> tuple[str, str]:
    """The impact cell's text and class: the effect on the score, to the tenth."""
    impact = round(row.impact, 1)
    return (f"{impact:+.1f}" if impact else "0.0",
            "is-up" if impact > 0 else "is-down" if impact < 0 else "is-flat")


def _nps_data(current: ScoreSummary) -> list[str]:
    """The NPS cell as data: [score, band, the bar's left, its width], or [what stands for
    the score, why] when too few mention the topic."""
    if not current.enough:
        return [NOT_AVAILABLE, "few mentions"]
    shown = current.nps_display or 0
    half = min(abs(shown), 100) / 2
    left = 50 if shown >= 0 else 50 - half
    return [str(shown), classify_band(shown), f"{left:g}%", f"{half:g}%"]


def _build_nps(current: ScoreSummary, tags: Any = html) -> Any:
    data = _nps_data(current)
    if len(data) == 4:
        nps_cell = [tags.Span(data[0], className=f"topic-nps-value band-{data[1]}"),
                    _build_bar(data, tags)]
    else:
        nps_cell = [tags.Span(data[0], className="topic-nps-value is-muted"),
                    tags.Span(data[1], className="topic-nps-note")]
    return tags.Div(nps_cell, className="topic-cell topic-nps")


def _build_delta(row: TopicRow, tags: Any = html) -> Any:
    change = describe_change(row.current, row.previous, row.change)
    return tags.Div([tags.Span(change.arrow, className="delta-arrow") if change.arrow else None,
                     tags.Span(change.magnitude, className="delta-value"),
                     tags.Span(change.word, className="delta-word") if change.word else None],
                    className=f"topic-cell topic-delta {change.css}", title=change.noise)


def _build_name(topic: str, surface: str, tags: Any = html) -> Any:
    """The topic's name; in the manager a button that opens the comments behind it."""
    shown = clean_for_display(topic, TOPIC_CHARS)
    if surface == "wall":
        return tags.Div(shown, className="topic-cell topic-name")
    return tags.Button(shown, id={"type": TOPIC_OPEN, "topic": topic}, n_clicks=0,
                       className="topic-cell topic-name topic-open",
                       title=f"Show the comments that mention {shown}")


def build_tone(row: TopicRow, surface: str, tags: Any = html) -> Any:
    """The tone cell: on the wall the dominant tone's share ("85% positive"), in the manager
    the mentions by tone ("31 positive · 6 negative"), both over a praise/neither/complaint
    bar; empty under MIN_TONED mentions of known tone. Words carry it, never colour alone."""
    data = _tone_data(row, surface)
    if data is None:
        return tags.Div(className="topic-cell topic-tone is-empty")
    text, css, title, parts = data
    bar = tags.Span(className="tone-bar", children=[
        tags.Span(className=f"tone-bar-part tone-{name}", style={"width": width})
        for name, width in parts])
    return tags.Div([tags.Span(text, className=f"tone-text {css}"), bar],
                    className="topic-cell topic-tone", title=title)


def _tone_data(row: TopicRow, surface: str) -> list | None:
    """The tone cell as data: [text, its class, the title, the bar's [tone, width] parts];
    None under MIN_TONED mentions of known tone."""
    if row.toned < MIN_TONED:
        return None
    shares = [round(100 * n / row.toned) for n in (row.positive, row.neutral, row.negative)]
    parts = [[name, f"{share}%"] for name, share
             in zip(("positive", "neutral", "negative"), shares, strict=True) if share]
    if surface == "wall":
        negative = row.negative > row.positive
        text = f"{shares[2]}% negative" if negative else f"{shares[0]}% positive"
        css = "is-negative" if negative else "is-positive"
    else:
        text = f"{format_count(row.positive)} positive \u00b7 {format_count(row.negative)} negative"
        css = "is-counts"
    unknown = row.mentions - row.toned
    title = (f"{row.positive} positive, {row.neutral} neither, {row.negative} negative"
             + (f"; {unknown} stored before tones were read" if unknown else ""))
    return [text, css, title, parts]


def _build_bar(data: list[str], tags: Any = html) -> Any:
    """A -100..100 track with a fill from the centre to the score (``_nps_data``)."""
    _shown, band, left, width = data
    return tags.Span(className="nps-bar", children=[
        tags.Span(className="nps-bar-zero"),
        tags.Span(className=f"nps-bar-fill band-{band}", style={"left": left, "width": width}),
    ])


def needs(view: View, ctx: PartContext) -> tuple:
    """The rows shown, how many there are (for "+N more"), and the window's wording."""
    return (view.topics[:ctx.limit], len(view.topics), view.label, view.request.window,
            view.previous is None, ctx.surface)


def build(view: View, ctx: PartContext) -> list[dict] | dict:
    """The registry's builder: the topic table, ``ctx.limit`` rows, in wire form; on the
    wall, which draws it (``Panel.drawn``), as data (``build_wall_table``)."""
    limit = ctx.limit or len(view.topics)
    if ctx.surface == "wall":
        return build_wall_table(view, limit)
    return build_topics_panel(view, limit, ctx.surface, ROWS, TAGS)
