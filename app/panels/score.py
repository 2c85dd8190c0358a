"""The score panel: the big NPS, its delta, the split bar, responses and margin."""

from __future__ import annotations

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

SCORE_VALUE = "score-value"
SCORE_DELTA = "score-delta"
SCORE_SPLIT = "score-split"
SCORE_RESPONSES = "score-responses"
SCORE_MARGIN = "score-margin"
SPLIT_LABELS = ("Promoters", "Passives", "Detractors")
SPLIT_CLASSES = ("promoter", "passive", "detractor")


def build_score_panel(view: View) -> list[Component]:
    """The score panel's children for a view."""
    current = view.current
    if not current.enough:
        return [_build_insufficient(current, describe_window(view.request.window, view.label))]
    shown = current.nps_display or 0
    band = classify_band(shown)
    change = describe_change(current, view.previous, view.change)
    margin = current.margin or 0.0
    return [
        html.Div(className="score-main", children=[
            html.Div(className="score-hero", children=[
                html.Div(str(shown), id=SCORE_VALUE, className=f"score-value band-{band}",
                         **{"data-band": band, "aria-label": f"NPS {shown}"}),
                html.Div(className="score-hero-caption", children=[
                    html.Span("NPS", className="score-unit"),
                    html.Span(f"± {margin:.1f}", id=SCORE_MARGIN, className="score-margin",
                              title="95% margin of error"),
                ]),
            ]),
            html.Div(className="score-side", children=[
                html.Div(id=SCORE_DELTA, className=f"score-delta {change.css}", children=[
                    html.Span(change.arrow, className="delta-arrow") if change.arrow else None,
                    html.Span(change.magnitude, className="delta-value"),
                    html.Span(change.word, className="delta-word") if change.word else None,
                ], **{"data-significant": str(change.css in ("is-up", "is-down")).lower()}),
                html.Div(_caption(view, change.noise), className="score-side-caption"),
                html.Div(className="score-facts", children=[
                    _build_fact(format_count(current.n), f"responses, {view.label}",
                                SCORE_RESPONSES),
                    _build_fact(_previous_text(view.previous), _previous_label(view)),
                ]),
            ]),
        ]),
        _build_split(current),
    ]


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


def _build_fact(value: str, label: str, fact_id: str | None = None) -> html.Div:
    props = {"id": fact_id} if fact_id else {}
    return html.Div(className="score-fact", children=[
        html.Span(value, className="fact-value"), html.Span(label, className="fact-label"),
    ], **props)


def _build_split(summary: ScoreSummary) -> html.Div:
    percentages = summary.percentages
    segments, legend = [], []
    for label, css, count, pct in zip(SPLIT_LABELS, SPLIT_CLASSES, summary.counts, percentages,
                                      strict=True):
        segments.append(html.Div(className=f"split-segment split-{css}",
                                 style={"width": f"{pct}%"}, title=f"{label}: {pct}%"))
        legend.append(html.Div(className=f"split-item split-item-{css}", children=[
            html.Span(className=f"split-dot split-{css}"),
            html.Span(label, className="split-label"),
            html.Span(f"{pct}%", className="split-pct"),
            html.Span(format_count(count), className="split-count"),
        ]))
    return html.Div(id=SCORE_SPLIT, className="score-split", children=[
        html.Div(segments, className="split-bar"),
        html.Div(legend, className="split-legend"),
    ])


def _build_insufficient(summary: ScoreSummary, where: str) -> html.Div:
    n = summary.n
    responses = "1 response" if n == 1 else f"{format_count(n)} responses"
    return html.Div(className="score-main score-insufficient", children=[
        html.Div("Not enough responses", id=SCORE_VALUE, className="score-value is-insufficient",
                 **{"data-band": "none"}),
        html.Div(className="score-insufficient-detail", children=[
            html.Span(responses, id=SCORE_RESPONSES, className="insufficient-count"),
            html.Span(f" {where} — a score needs at least {summary.min_sample}."),
        ]),
    ])


def needs(view: View, ctx: PartContext) -> tuple:
    """What the score panel shows of a view (equal tuples: equal panels)."""
    return (view.current, view.previous, view.change, view.label, view.request.window)


def build(view: View, ctx: PartContext) -> list[Component]:
    """The registry's builder: the score panel."""
    return build_score_panel(view)
