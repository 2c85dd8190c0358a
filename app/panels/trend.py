"""The trend panel: NPS per period, rolling line with its margin band, goal and events.

Only what is real draws the eye: periods under the minimum sample are faint hollow rings,
ordinary periods small quiet dots, and a period outside its control limits (a special cause,
``TrendPoint.special``) a large ringed dot with a legend entry of its own.

Figures are plain dicts (plotly's ``go.Figure`` validation costs more than our per-update
budget) of lists, strings and finite numbers: the wire form as it is (``tests/test_wire.py``).
Sizes are in "base pixels" for a 1080p wall; the page scales fonts, markers and margins to the
viewport in the browser (``scale_figure`` in assets/nps_tv.js).
"""

from __future__ import annotations

import functools
import html
import math
import textwrap
import weakref
from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from app.metrics import ROLLING_PERIODS, TrendPoint
from app.panels import EVENT_COLOURS, PartContext, describe_window, resolve_theme
from app.privacy import clean_for_display
from app.store.database import EventRow
from app.views import View

FONT_FAMILY = ('"Inter", "Segoe UI", "Roboto", "Helvetica Neue", "Liberation Sans", '
               '"DejaVu Sans", Arial, sans-serif')
# Readable from three metres: 28 base px is 2.6% of a 1080-pixel-high wall (the page scales
# it with the viewport, so 56 px at 2160).
BASE_FONT = 28
EVENT_FONT = 28
PLOT_WIDTH_GUESS = 1400  # base px of plot area used to stagger event labels
EVENT_ROW_PX = 50
EVENT_ROWS = 4
EVENT_STEM_PX = 38  # from the plot's top edge to the middle of the first row of labels
EVENT_LABEL_CHARS = 26
HOVER_CHARS = 160  # label and note in the hover box, wrapped every HOVER_LINE characters
HOVER_LINE = 48
PERIOD_NAMES = {"day": "Daily", "week": "Weekly", "month": "Monthly"}
PERIOD_PAD = {"day": timedelta(hours=14), "week": timedelta(days=4), "month": timedelta(days=16)}
TICK_FORMATS = {"day": "%b %-d", "week": "%b %-d", "month": "%b %Y"}


def build_trend_figure(view: View, theme: str = "dark", tz: str = "UTC") -> dict:
    """The trend figure for a view, or a figure that says why there is nothing to draw."""
    palette = resolve_theme(theme)
    points = view.trend
    if not any(p.summary.n for p in points):
        where = describe_window(view.request.window, view.label)
        return build_message_figure(f"No responses {where}", palette)
    x0, x1 = _x_range(view)
    drawn = [_point(p) for p in points]
    traces = [_band_trace(drawn, palette), _rolling_trace(drawn, view.granularity, palette)]
    traces += _point_traces(drawn, view.granularity, points[0].summary.min_sample, palette)
    y_range = _y_range(drawn, view.goal)
    _drop_outside(traces[-1], y_range)
    layout, handles = _layout(theme, tz, view.goal, view.events, (x0, x1), view.granularity,
                              y_range)
    if handles is not None:
        traces.append(handles)
    return {"data": traces, "layout": layout}


@functools.lru_cache(maxsize=256)  # a few windows by a few y ranges: ~1.2 MB when full
def _layout(theme: str, tz: str, goal: float | None, events: tuple[EventRow, ...],
            x_range: tuple[datetime, datetime], granularity: str, y_range: tuple[int, int]
            ) -> tuple[dict, dict | None]:
    """The figure's layout (with its goal and event markers) and the events' click handles
    (None without events on the chart), made once for what they show: a new response moves
    the trend's points, seldom its axes, so every build after the first takes the same
    objects, which the diff passes by identity instead of walking (issue 13, item 3). Shared
    by every figure that shows them: never change them."""
    palette = resolve_theme(theme)
    x0, x1 = x_range
    shapes: list = []
    annotations: list = []
    if goal is not None:
        _add_goal(goal, palette, shapes, annotations)
    rows = _add_events(events, tz, x0, x1, theme, palette, shapes, annotations)
    handles = _event_handles(events, tz, x0, x1, y_range[1], theme) if rows else None
    layout = _base_layout(palette)
    layout.update({
        "margin": {"l": 90, "r": 30 if goal is None else 150,
                   "t": 30 + rows * EVENT_ROW_PX if rows else 30, "b": 130, "pad": 0},
        "xaxis": {
            "type": "date", "range": [x0.isoformat(), x1.isoformat()], "showgrid": False,
            "tickformat": TICK_FORMATS[granularity], "tickfont": {"size": BASE_FONT,
                                                                   "color": palette["muted"]},
            "linecolor": palette["grid"], "ticks": "outside", "ticklen": 6,
            "tickcolor": palette["grid"], "fixedrange": True, "nticks": 8,
        },
        "yaxis": {
            "range": list(y_range), "gridcolor": palette["grid"], "zeroline": True,
            "zerolinecolor": palette["zero"], "zerolinewidth": 2, "fixedrange": True,
            "tickfont": {"size": BASE_FONT, "color": palette["muted"]}, "nticks": 7,
        },
        "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": -0.1, "yanchor": "top",
                   "font": {"size": BASE_FONT, "color": palette["muted"]},
                   "bgcolor": "rgba(0,0,0,0)", "itemclick": False, "itemdoubleclick": False,
                   "itemwidth": 50},
        "showlegend": True,
        "hovermode": "closest",
        "shapes": shapes,
        "annotations": annotations,
    })
    return layout, handles


def build_message_figure(message: str, palette: dict[str, str]) -> dict:
    """A figure with no axes and a centred message, so a chart is never an empty frame."""
    layout = _base_layout(palette)
    layout.update({
        "xaxis": {"visible": False}, "yaxis": {"visible": False}, "showlegend": False,
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
        "annotations": [{"text": message, "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper",
                         "showarrow": False, "font": {"size": BASE_FONT * 1.6,
                                                      "color": palette["muted"]}}],
    })
    return {"data": [], "layout": layout}


def _base_layout(palette: dict[str, str]) -> dict:
    return {
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)", "autosize": True,
        "font": {"family": FONT_FAMILY, "size": BASE_FONT, "color": palette["text"]},
        "hoverlabel": {"font": {"size": BASE_FONT - 2}},
    }


def _x_range(view: View) -> tuple[datetime, datetime]:
    pad = PERIOD_PAD[view.granularity]
    first = date.fromisoformat(view.trend[0].start) if view.trend else view.start
    start = datetime.combine(first, datetime.min.time()) - pad
    last = datetime.combine(date.fromisoformat(view.trend[-1].start), datetime.min.time()) + pad
    end = max(last, datetime.combine(view.end + timedelta(days=1), datetime.min.time()))
    return start, end


class _Point(NamedTuple):
    """What the figure draws of one trend point, read once per point (``_point``)."""

    start: str
    band: tuple[float, float] | None  # the rolling band's (top, bottom), None: too few
    rolling: float | None  # the rolling line's value, rounded as drawn
    kind: int  # which marker trace: USUAL, SPECIAL, THIN, or NONE (no responses)
    y: float  # the marker's value, rounded as drawn (0.0 without a score)
    n: int  # the period's responses
    extent: tuple[float, ...]  # the values the y axis must show


USUAL, SPECIAL, THIN, NONE = range(4)
# A point's drawing by the point (a touched view keeps its points before the change, the
# same objects): every figure after a new response reads only the new points' properties,
# not the 60-90 of a window again, several per trace (issue 13, item 3). Held weakly: an
# entry goes with its point (views hold their points; this holds nothing).
_POINTS: dict[int, tuple[weakref.ref, _Point]] = {}


def _forget(ref: weakref.ref, key: int) -> None:
    if _POINTS.get(key, (None,))[0] is ref:
        _POINTS.pop(key, None)


def _point(p: TrendPoint) -> _Point:
    found = _POINTS.get(id(p))
    if found is None or found[0]() is not p:
        summary, rolling = p.summary, p.rolling
        band, line, extent = None, None, ()
        if rolling.enough:
            nps, margin = rolling.nps or 0.0, rolling.margin or 0.0
            band = (min(nps + margin, 100.0), max(nps - margin, -100.0))
            if rolling.nps is not None:
                line = round(rolling.nps, 2)
                extent = (rolling.nps + margin, rolling.nps - margin)
        if p.special:
            kind = SPECIAL
        elif summary.enough:
            kind = USUAL
        else:
            kind = THIN if summary.n else NONE
        y = round(summary.nps, 2) if summary.nps is not None else 0.0
        if summary.enough and summary.nps is not None:
            extent = (summary.nps, *extent)
        found = _POINTS[id(p)] = (weakref.ref(p, functools.partial(_forget, key=id(p))),
                                  _Point(p.start, band, line, kind, y, summary.n, extent))
    return found[1]


def _band_trace(points: list[_Point], palette: dict[str, str]) -> dict:
    """One filled polygon per run of periods whose rolling window has enough responses."""
    xs: list = []
    ys: list = []
    run: list[_Point] = []
    for p in (*points, None):
        if p is not None and p.band is not None:
            run.append(p)
            continue
        if run:
            xs += [r.start for r in run] + [r.start for r in reversed(run)] + [None]
            ys += [r.band[0] for r in run] + [r.band[1] for r in reversed(run)] + [None]
            run = []
    return {"type": "scatter", "x": xs, "y": ys, "mode": "lines", "fill": "toself",
            "fillcolor": palette["band"], "line": {"width": 0, "color": palette["band"]},
            "hoverinfo": "skip", "name": "95% margin", "showlegend": True}


def _rolling_trace(points: list[_Point], granularity: str,
                   palette: dict[str, str]) -> dict:
    k = ROLLING_PERIODS[granularity]
    return {"type": "scatter", "x": [p.start for p in points], "y": [p.rolling for p in points],
            "mode": "lines",
            "line": {"color": palette["accent"], "width": 5, "shape": "spline",
                     "smoothing": 0.5},
            "connectgaps": False, "name": f"{k}-{granularity} rolling NPS",
            "hovertemplate": "%{x|%b %-d}: rolling NPS %{y:.0f}<extra></extra>"}


def _point_traces(points: list[_Point], granularity: str, minimum: int,
                  palette: dict[str, str]) -> list[dict]:
    """Quiet period dots, ringed special-cause dots, then faint hollow rings for periods under
    the minimum sample (last, so ``_drop_outside`` can thin them)."""
    usual = [p for p in points if p.kind == USUAL]
    special = [p for p in points if p.kind == SPECIAL]
    thin = [p for p in points if p.kind == THIN]
    name = PERIOD_NAMES[granularity]
    hover = "%{x|%b %-d}: NPS %{y:.0f} (%{customdata} responses)<extra></extra>"
    traces = [_markers(usual, f"{name} NPS", hover,
                       {"size": 10, "color": palette["point"], "line": {"width": 0}})]
    if special:  # no legend entry for what is not on the chart
        traces.append(_markers(
            special, "outside control limits",
            "%{x|%b %-d}: NPS %{y:.0f} (%{customdata} responses), outside control limits"
            "<extra></extra>",
            {"size": 22, "color": palette["special"],
             "line": {"width": 4, "color": palette["panel"]}}))
    traces.append(_markers(thin, f"under {minimum} responses", hover,
                           {"size": 10, "color": "rgba(0,0,0,0)",
                            "line": {"width": 2, "color": palette["faint"]}}))
    return traces


def _markers(points: list[_Point], name: str, hover: str, marker: dict) -> dict:
    return {"type": "scatter", "x": [p.start for p in points], "y": [p.y for p in points],
            "customdata": [p.n for p in points], "mode": "markers", "name": name,
            "hovertemplate": hover, "marker": marker}


def _y_range(points: list[_Point], goal: float | None) -> tuple[int, int]:
    values = [v for p in points for v in p.extent]
    if goal is not None:
        values.append(goal)
    if not values:
        return -100, 100
    lo = max(-100, math.floor((min(values) - 4) / 10) * 10)
    hi = min(100, math.ceil((max(values) + 4) / 10) * 10)
    while hi - lo < 40:
        lo, hi = max(-100, lo - 10), min(100, hi + 10)
    return lo, hi


def _drop_outside(trace: dict, y_range: tuple[int, int]) -> None:
    """Leave out muted points beyond the axis rather than widen it for a tiny sample."""
    keep = [i for i, y in enumerate(trace["y"]) if y_range[0] <= y <= y_range[1]]
    for key in ("x", "y", "customdata"):
        trace[key] = [trace[key][i] for i in keep]


def _add_goal(goal: float, palette: dict[str, str], shapes: list, annotations: list) -> None:
    shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": goal,
                   "y1": goal, "layer": "below",
                   "line": {"color": palette["goal"], "width": 2.5, "dash": "dash"}})
    annotations.append({"text": f"Goal {goal:g}", "xref": "paper", "x": 1, "xanchor": "left",
                        "yref": "y", "y": goal, "yanchor": "middle", "showarrow": False,
                        "font": {"size": BASE_FONT, "color": palette["goal"]}, "xshift": 10})


def _add_events(events: tuple[EventRow, ...], tz: str, x0: datetime, x1: datetime, theme: str,
                palette: dict[str, str], shapes: list, annotations: list) -> int:
    """Dotted vertical markers with labels staggered over rows; returns the rows used."""
    colours = EVENT_COLOURS.get(theme, EVENT_COLOURS["dark"])
    span = (x1 - x0).total_seconds() or 1.0
    row_ends = [-math.inf] * EVENT_ROWS
    rows_used = 0
    zone = ZoneInfo(tz)
    for event in sorted(events, key=lambda e: e.occurred_at):
        local = _to_local(event.occurred_at, zone)
        frac = (local - x0).total_seconds() / span
        if not 0 <= frac <= 1:
            continue
        shown = _shorten(event.label)
        width = len(shown) * EVENT_FONT * 0.58 + 22
        centre = frac * PLOT_WIDTH_GUESS
        left = min(max(centre - width / 2, 0), PLOT_WIDTH_GUESS - width)
        free = [r for r in range(EVENT_ROWS) if row_ends[r] + 12 <= left]
        row = free[0] if free else min(range(EVENT_ROWS), key=lambda r: row_ends[r])
        row_ends[row] = left + width
        rows_used = max(rows_used, row + 1)
        colour = colours.get(event.kind.lower(), colours["default"])
        x = local.isoformat(timespec="minutes")
        shapes.append({"type": "line", "xref": "x", "x0": x, "x1": x, "yref": "paper", "y0": 0,
                       "y1": 1, "layer": "below", "line": {"color": colour, "width": 2,
                                                           "dash": "dot"}})
        annotations.append({
            "text": _plain(shown), "x": x, "xref": "x", "y": 1, "yref": "paper", "showarrow": True,
            "arrowhead": 0, "arrowwidth": 2, "arrowcolor": colour, "standoff": 0,
            "ax": round(left + width / 2 - centre), "ay": -(EVENT_STEM_PX + row * EVENT_ROW_PX),
            "font": {"size": EVENT_FONT, "color": palette["text"]}, "bgcolor": palette["panel"],
            "bordercolor": colour, "borderwidth": 2, "borderpad": 4,
            "hovertext": _hover_text(event),
        })
    return rows_used


def _event_handles(events: tuple[EventRow, ...], tz: str, x0: datetime, x1: datetime,
                   top: float, theme: str) -> dict:
    """A marker where each event's line meets the top of the plot, carrying ``event:<id>``
    in its customdata: what a click on an event gives the manager (annotations are not
    clickable through Dash's clickData)."""
    colours = EVENT_COLOURS.get(theme, EVENT_COLOURS["dark"])
    zone = ZoneInfo(tz)
    shown = [(e, _to_local(e.occurred_at, zone)) for e in sorted(events, key=lambda e: e.id)]
    shown = [(e, local) for e, local in shown if x0 <= local <= x1]
    return {"type": "scatter", "mode": "markers", "name": "events", "showlegend": False,
            "x": [local.isoformat(timespec="minutes") for _, local in shown],
            "y": [top] * len(shown), "cliponaxis": False,
            "customdata": [f"event:{e.id}" for e, _ in shown],
            "hovertext": [_hover_text(e) for e, _ in shown],
            "hovertemplate": "%{hovertext}<extra></extra>",
            "marker": {"symbol": "triangle-down", "size": 16,
                       "color": [colours.get(e.kind.lower(), colours["default"])
                                 for e, _ in shown]}}


def _to_local(moment: datetime, zone: ZoneInfo) -> datetime:
    if moment.tzinfo is None:  # stored times are UTC
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(zone).replace(tzinfo=None)


@functools.lru_cache(maxsize=1024)  # every screen's trend shows the same few events
def _shorten(label: str) -> str:
    """The label as shown: one line, cleaned, cut to EVENT_LABEL_CHARS (not yet escaped)."""
    return clean_for_display(" ".join(label.split()), EVENT_LABEL_CHARS)


@functools.lru_cache(maxsize=1024)
def _hover_text(event: EventRow) -> str:
    """Label, kind and note as plain text, wrapped (plotly never wraps a hover box)."""
    text = f"{' '.join(event.label.split())} ({event.kind})"
    if event.note:
        text += ": " + " ".join(event.note.split())
    lines = textwrap.wrap(clean_for_display(text, HOVER_CHARS), HOVER_LINE,
                          break_long_words=True, break_on_hyphens=False)
    return "<br>".join(_plain(line) for line in lines)


def _plain(text: str) -> str:
    """``text`` escaped so plotly shows it as written: its pseudo-HTML (``<a href>``,
    ``<span style>``, ``<br>``) and entities are read from ``<``, ``>`` and ``&``."""
    return html.escape(text, quote=False)


def needs(view: View, ctx: PartContext) -> tuple:
    """What the trend shows of a view, and the theme and zone it is drawn in."""
    return (view.trend, view.events, view.goal, view.granularity, view.start, view.end,
            ctx.theme, ctx.timezone)


def build(view: View, ctx: PartContext) -> dict:
    """The registry's builder: the trend figure."""
    return build_trend_figure(view, ctx.theme, ctx.timezone)
