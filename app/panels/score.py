"""The score panel: the big NPS, its delta, the split bar, responses and margin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dash import html
from dash.development.base_component import Component

from app.metrics import ScoreSummary
from app.panels import (
    NOT_AVAILABLE,
    PartContext,
    classify_band,
    describe_change,
    describe_previous,
    describe_window,
    format_count,
)
from app.views import View
from app.windows import RANGE, window_days
from app.wire import TAGS, ValueMemo, WireMemo

SCORE_VALUE = "score-value"
SCORE_DELTA = "score-delta"
SCORE_SPLIT = "score-split"
SCORE_RESPONSES = "score-responses"
SCORE_MARGIN = "score-margin"
SCORE_VERSUS_REST = "score-versus-rest"
SCORE_FOLLOW_UPS = "score-follow-ups"
# The word for a segment's score against the rest, by the change's css class.
VERSUS_WORDS = {"is-up": "above the rest", "is-down": "below the rest",
                "is-steady": "level with the rest"}
SPLIT_LABELS = ("Promoters", "Passives", "Detractors")
SPLIT_CLASSES = ("promoter", "passive", "detractor")
# The panel's pieces that read only a view's own counts, in wire form, for the registry's
# builder (a screen whose segments a change left out rebuilds only its line against the rest).
# Found while the cached score parts hold them, the last 256 made held here.
PIECES = WireMemo(8192, strong=256)
# The same pieces as the wall's data (``build_wall_score``).
DATA = ValueMemo()


def build_score_panel(view: View, rest: bool = True, memo: WireMemo | None = None,
                      tags: Any = html) -> list[Component]:
    """The score panel's children for a view (``rest`` False: no comparison with the
    responses outside the view's segments), made with ``tags`` (``dash.html``, or
    ``app.wire.TAGS`` for the wire form). With ``memo``, the pieces that read only the
    view's own counts come from it in wire form: screens whose segments a new response left
    out rebuild only the line against the rest."""
    current = view.current
    if not current.enough:
        return [_build_insufficient(current, describe_window(view.request.window, view.label),
                                    tags)]

    def piece(key: tuple, make: Callable[[Any], Any]) -> Any:
        return memo.get(key, lambda: make(tags)) if memo is not None else make(tags)

    window = view.request.window
    head = (current, view.previous, view.change, window)
    return [
        tags.Div(className="score-main", children=[
            piece(("hero", current), lambda t: _build_hero(current, t)),
            tags.Div(className="score-side", children=[
                piece(("delta", *head), lambda t: _build_delta(view, t)),
                piece(("caption", *head), lambda t: _build_caption(view, t)),
                _build_versus_rest(view, tags) if rest else None,
                piece(("facts", *head, view.label), lambda t: _build_facts(view, t)),
            ]),
        ]),
        piece(("split", current), lambda t: _build_split(current, t)),
    ]


def _hero_data(current: ScoreSummary) -> list[str]:
    """[the score, its band, its spoken label, the unit, the margin, the margin's title]."""
    shown = current.nps_display or 0
    return [str(shown), classify_band(shown), f"NPS {shown}", "NPS",
            f"± {current.margin or 0.0:.1f}", "95% margin of error"]


def _build_hero(current: ScoreSummary, tags: Any = html) -> Any:
    shown, band, label, unit, margin, title = _hero_data(current)
    return tags.Div(className="score-hero", children=[
        tags.Div(shown, id=SCORE_VALUE, className=f"score-value band-{band}",
                 **{"data-band": band, "aria-label": label}),
        tags.Div(className="score-hero-caption", children=[
            tags.Span(unit, className="score-unit"),
            tags.Span(margin, id=SCORE_MARGIN, className="score-margin", title=title),
        ]),
    ])


def _delta_data(view: View) -> list[str]:
    """[arrow, magnitude, word, class, whether significant ("true"/"false")]."""
    change = describe_change(view.current, view.previous, view.change)
    return [change.arrow, change.magnitude, change.word, change.css,
            str(change.css in ("is-up", "is-down")).lower()]


def _build_delta(view: View, tags: Any = html) -> Any:
    arrow, magnitude, word, css, significant = _delta_data(view)
    return tags.Div(id=SCORE_DELTA, className=f"score-delta {css}", children=[
        tags.Span(arrow, className="delta-arrow") if arrow else None,
        tags.Span(magnitude, className="delta-value"),
        tags.Span(word, className="delta-word") if word else None,
    ], **{"data-significant": significant})


def _build_caption(view: View, tags: Any = html) -> Any:
    change = describe_change(view.current, view.previous, view.change)
    return tags.Div(_caption(view, change.noise), className="score-side-caption")


def _facts_data(view: View) -> list[list[str]]:
    """The two facts' [value, label]: the window's responses, the previous window's score."""
    return [[format_count(view.current.n), f"responses, {view.label}"],
            [_previous_text(view.previous), _previous_label(view)]]


def _build_facts(view: View, tags: Any = html) -> Any:
    (value, label), (before, before_label) = _facts_data(view)
    return tags.Div(className="score-facts", children=[
        _build_fact(value, label, SCORE_RESPONSES, tags),
        _build_fact(before, before_label, tags=tags),
    ])


def describe_follow_ups(total: int, contacted: int, window: str, label: str) -> str:
    """ "5 detractors in the last 7 days, 4 contacted" (contacted or resolved); ``label`` is
    the view's ("last 7 days", "2026-01-01 to 2026-01-31")."""
    who = "1 detractor" if total == 1 else f"{format_count(total)} detractors"
    days = None if window == RANGE else window_days(window)
    if window == RANGE:
        when = f"from {label}"
    else:
        when = "of all time" if days is None else "today" if days == 1 else f"in the {label}"
    return f"{who} {when}, {format_count(contacted)} contacted"


def build_follow_up_line(view: View, counts: tuple[int, int], tags: Any = html) -> Any:
    """The wall's follow-up line under the split: the window's detractors to call back and how
    many were (the follow-up list's counts); ``tags`` as for ``build_score_panel``."""
    text, css, total, contacted = _follow_up_data(view, counts)
    return tags.Div(text, id=SCORE_FOLLOW_UPS, className=css,
                    **{"data-total": total, "data-contacted": contacted})


def _follow_up_data(view: View, counts: tuple[int, int]) -> list[str]:
    """[the line, its class, the total, how many contacted]."""
    total, contacted = counts
    done = total > 0 and contacted >= total
    return [describe_follow_ups(total, contacted, view.request.window, view.label),
            "score-follow-ups" + (" is-done" if done else ""), str(total), str(contacted)]


def _build_versus_rest(view: View, tags: Any = html) -> Any:
    """With a segment filter, the filtered score against every other response of the window:
    "▼ 9 below the rest · beyond noise (± 6.1)", or "level with the rest · within noise"
    (the same test as the change over time; colour and arrow only when beyond noise)."""
    data = _versus_data(view)
    if data is None:
        return None
    arrow, magnitude, word, caption, css, significant = data
    return tags.Div(id=SCORE_VERSUS_REST, className=f"score-versus {css}", children=[
        tags.Span(arrow, className="delta-arrow") if arrow else None,
        tags.Span(magnitude, className="versus-value") if magnitude else None,
        tags.Span(word, className="versus-word"),
        tags.Span(caption, className="versus-caption"),
    ], **{"data-significant": significant})


def _versus_data(view: View) -> list[str] | None:
    """[arrow, magnitude, word, caption, class, whether significant]; None without a rest
    to compare with."""
    rest = view.rest
    if rest is None or not rest.enough or not view.current.enough:
        return None
    versus = describe_change(view.current, rest, view.versus_rest)
    magnitude = versus.magnitude.lstrip("+\u2212") if versus.css != "is-steady" else ""
    return [versus.arrow, magnitude, VERSUS_WORDS.get(versus.css, ""),
            f" ({format_count(rest.n)} responses, NPS {rest.nps_display}) · {versus.noise}",
            versus.css, str(versus.css in ("is-up", "is-down")).lower()]


def _caption(view: View, noise: str) -> str:
    """ "vs previous 30 days · within noise (± 7.6)": what the change compares and its test."""
    previous = describe_previous(view.request.window)
    return f"{previous} · {noise}" if noise else previous


def _previous_text(previous: ScoreSummary | None) -> str:
    if previous is None or not previous.enough:
        return NOT_AVAILABLE
    return str(previous.nps_display)


def _previous_label(view: View) -> str:
    if view.request.window == "all":
        return "no earlier period"
    label = describe_previous(view.request.window).removeprefix("vs ")
    if view.previous is not None and not view.previous.enough:
        return f"{label}: too few responses"
    return label


def _build_fact(value: str, label: str, fact_id: str | None = None, tags: Any = html) -> Any:
    props = {"id": fact_id} if fact_id else {}
    return tags.Div(className="score-fact", children=[
        tags.Span(value, className="fact-value"), tags.Span(label, className="fact-label"),
    ], **props)


def _split_data(summary: ScoreSummary) -> list[list[str]]:
    """Promoters, passives and detractors: each [label, class, share, count, title]."""
    return [[label, css, f"{pct}%", format_count(count), f"{label}: {pct}%"]
            for label, css, count, pct in zip(SPLIT_LABELS, SPLIT_CLASSES, summary.counts,
                                              summary.percentages, strict=True)]


def _build_split(summary: ScoreSummary, tags: Any = html) -> Any:
    segments, legend = [], []
    for label, css, share, count, title in _split_data(summary):
        segments.append(tags.Div(className=f"split-segment split-{css}",
                                 style={"width": share}, title=title))
        legend.append(tags.Div(className=f"split-item split-item-{css}", children=[
            tags.Span(className=f"split-dot split-{css}"),
            tags.Span(label, className="split-label"),
            tags.Span(share, className="split-pct"),
            tags.Span(count, className="split-count"),
        ]))
    return tags.Div(id=SCORE_SPLIT, className="score-split", children=[
        tags.Div(segments, className="split-bar"),
        tags.Div(legend, className="split-legend"),
    ])


def _build_insufficient(summary: ScoreSummary, where: str, tags: Any = html) -> Any:
    heading, responses, detail = _insufficient_data(summary, where)
    return tags.Div(className="score-main score-insufficient", children=[
        tags.Div(heading, id=SCORE_VALUE, className="score-value is-insufficient",
                 **{"data-band": "none"}),
        tags.Div(className="score-insufficient-detail", children=[
            tags.Span(responses, id=SCORE_RESPONSES, className="insufficient-count"),
            tags.Span(detail),
        ]),
    ])


def _insufficient_data(summary: ScoreSummary, where: str) -> list[str]:
    """[what stands for the score, the responses, why there is none]."""
    n = summary.n
    responses = "1 response" if n == 1 else f"{format_count(n)} responses"
    return ["Not enough responses", responses,
            f" {where} — a score needs at least {summary.min_sample}."]


def build_wall_score(view: View, rest: bool = True,
                     follow_ups: tuple[int, int] | None = None) -> dict:
    """The wall's score panel as data, which ``draw_score`` (assets/nps_tv.js) draws as the
    elements ``build_score_panel`` (and ``build_follow_up_line``) make: {"hero", "delta",
    "caption", "versus", "facts", "split", "follow"} (each piece's ``_..._data``; "versus"
    and "follow" None when not shown), or {"insufficient", "follow"}. Every text comes in
    it. A new response outside a screen's segments moves only the line against the rest; as
    components, finding that took the diff 100-300 us per screen per change (issue 13)."""
    follow = _follow_up_data(view, follow_ups) if follow_ups is not None else None
    current = view.current
    if not current.enough:
        where = describe_window(view.request.window, view.label)
        return {"insufficient": _insufficient_data(current, where), "follow": follow}
    head = (current, view.previous, view.change, view.request.window)
    return {
        "hero": DATA.get(("hero", current), lambda: _hero_data(current)),
        "delta": DATA.get(("delta", *head), lambda: _delta_data(view)),
        "caption": _caption(view, describe_change(current, view.previous, view.change).noise),
        "versus": _versus_data(view) if rest else None,
        "facts": DATA.get(("facts", *head, view.label), lambda: _facts_data(view)),
        "split": DATA.get(("split", current), lambda: _split_data(current)),
        "follow": follow,
    }


def needs(view: View, ctx: PartContext) -> tuple:
    """What the score panel shows of a view (equal tuples: equal panels)."""
    versus = (view.rest, view.versus_rest) if ctx.rest else ()
    return (view.current, view.previous, view.change, view.label, view.request.window,
            ctx.follow_ups, *versus)


def build(view: View, ctx: PartContext) -> list[dict] | dict:
    """The registry's builder: the score panel (with the follow-up line when asked), in wire
    form; on the wall, which draws it (``Panel.drawn``), as data (``build_wall_score``)."""
    if ctx.surface == "wall":
        return build_wall_score(view, ctx.rest, ctx.follow_ups)
    children = build_score_panel(view, ctx.rest, PIECES, TAGS)
    if ctx.follow_ups is not None:
        children.append(build_follow_up_line(view, ctx.follow_ups, TAGS))
    return children
