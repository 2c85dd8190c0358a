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
from app.wire import TAGS, WireMemo

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


def _build_hero(current: ScoreSummary, tags: Any = html) -> Any:
    shown = current.nps_display or 0
    band = classify_band(shown)
    margin = current.margin or 0.0
    return tags.Div(className="score-hero", children=[
        tags.Div(str(shown), id=SCORE_VALUE, className=f"score-value band-{band}",
                 **{"data-band": band, "aria-label": f"NPS {shown}"}),
        tags.Div(className="score-hero-caption", children=[
            tags.Span("NPS", className="score-unit"),
            tags.Span(f"± {margin:.1f}", id=SCORE_MARGIN, className="score-margin",
                      title="95% margin of error"),
        ]),
    ])


def _build_delta(view: View, tags: Any = html) -> Any:
    change = describe_change(view.current, view.previous, view.change)
    return tags.Div(id=SCORE_DELTA, className=f"score-delta {change.css}", children=[
        tags.Span(change.arrow, className="delta-arrow") if change.arrow else None,
        tags.Span(change.magnitude, className="delta-value"),
        tags.Span(change.word, className="delta-word") if change.word else None,
    ], **{"data-significant": str(change.css in ("is-up", "is-down")).lower()})


def _build_caption(view: View, tags: Any = html) -> Any:
    change = describe_change(view.current, view.previous, view.change)
    return tags.Div(_caption(view, change.noise), className="score-side-caption")


def _build_facts(view: View, tags: Any = html) -> Any:
    return tags.Div(className="score-facts", children=[
        _build_fact(format_count(view.current.n), f"responses, {view.label}", SCORE_RESPONSES,
                    tags),
        _build_fact(_previous_text(view.previous), _previous_label(view), tags=tags),
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
    total, contacted = counts
    done = total > 0 and contacted >= total
    text = describe_follow_ups(total, contacted, view.request.window, view.label)
    return tags.Div(text, id=SCORE_FOLLOW_UPS,
                    className="score-follow-ups" + (" is-done" if done else ""),
                    **{"data-total": str(total), "data-contacted": str(contacted)})


def _build_versus_rest(view: View, tags: Any = html) -> Any:
    """With a segment filter, the filtered score against every other response of the window:
    "▼ 9 below the rest · beyond noise (± 6.1)", or "level with the rest · within noise"
    (the same test as the change over time; colour and arrow only when beyond noise)."""
    rest = view.rest
    if rest is None or not rest.enough or not view.current.enough:
        return None
    versus = describe_change(view.current, rest, view.versus_rest)
    magnitude = versus.magnitude.lstrip("+\u2212") if versus.css != "is-steady" else ""
    return tags.Div(id=SCORE_VERSUS_REST, className=f"score-versus {versus.css}", children=[
        tags.Span(versus.arrow, className="delta-arrow") if versus.arrow else None,
        tags.Span(magnitude, className="versus-value") if magnitude else None,
        tags.Span(VERSUS_WORDS.get(versus.css, ""), className="versus-word"),
        tags.Span(f" ({format_count(rest.n)} responses, NPS {rest.nps_display})"
                  f" · {versus.noise}", className="versus-caption"),
    ], **{"data-significant": str(versus.css in ("is-up", "is-down")).lower()})


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


def _build_split(summary: ScoreSummary, tags: Any = html) -> Any:
    percentages = summary.percentages
    segments, legend = [], []
    for label, css, count, pct in zip(SPLIT_LABELS, SPLIT_CLASSES, summary.counts, percentages,
                                      strict=True):
        segments.append(tags.Div(className=f"split-segment split-{css}",
                                 style={"width": f"{pct}%"}, title=f"{label}: {pct}%"))
        legend.append(tags.Div(className=f"split-item split-item-{css}", children=[
            tags.Span(className=f"split-dot split-{css}"),
            tags.Span(label, className="split-label"),
            tags.Span(f"{pct}%", className="split-pct"),
            tags.Span(format_count(count), className="split-count"),
        ]))
    return tags.Div(id=SCORE_SPLIT, className="score-split", children=[
        tags.Div(segments, className="split-bar"),
        tags.Div(legend, className="split-legend"),
    ])


def _build_insufficient(summary: ScoreSummary, where: str, tags: Any = html) -> Any:
    n = summary.n
    responses = "1 response" if n == 1 else f"{format_count(n)} responses"
    return tags.Div(className="score-main score-insufficient", children=[
        tags.Div("Not enough responses", id=SCORE_VALUE, className="score-value is-insufficient",
                 **{"data-band": "none"}),
        tags.Div(className="score-insufficient-detail", children=[
            tags.Span(responses, id=SCORE_RESPONSES, className="insufficient-count"),
            tags.Span(f" {where} — a score needs at least {summary.min_sample}."),
        ]),
    ])


def needs(view: View, ctx: PartContext) -> tuple:
    """What the score panel shows of a view (equal tuples: equal panels)."""
    versus = (view.rest, view.versus_rest) if ctx.rest else ()
    return (view.current, view.previous, view.change, view.label, view.request.window,
            ctx.follow_ups, *versus)


def build(view: View, ctx: PartContext) -> list[dict]:
    """The registry's builder: the score panel (with the follow-up line when asked), in wire
    form."""
    children = build_score_panel(view, ctx.rest, PIECES, TAGS)
    if ctx.follow_ups is not None:
        children.append(build_follow_up_line(view, ctx.follow_ups, TAGS))
    return children
