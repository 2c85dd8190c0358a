"""The small multiples beside the comparison table: one button per value, each holding a small
trend drawn as an SVG image (no plotly graph per value: twelve graphs would cost the browser
more than the table), the value's name, score and responses, and the overall line faintly
behind. A button takes the keyboard like any other (Tab, Enter), and pressing it filters the
workspace to that value (the page's segment filter, so the URL says it too).

The numbers come from ``app.multiples`` (the snapshot, never the database).
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from dash import html

from app.multiples import Multiple, Multiples
from app.panels import CHIP_CHARS, NOT_AVAILABLE, THEMES, format_count
from app.privacy import clean_for_display

SEGMENT = "ws-segment"  # the pattern id type of a control that filters to one segment value
WIDTH, HEIGHT, PAD = 220, 64, 4
ROLLING_WORDS = {"day": "7-day", "week": "4-week", "month": "3-month"}


def segment_id(field: str, value: str, place: str) -> dict[str, str]:
    """The id of a button that filters the page to ``field`` = ``value`` (``place``: the
    table's row or the multiple, so the two buttons of one value have distinct ids)."""
    return {"type": SEGMENT, "field": field, "value": value, "place": place}


def _xy(points: tuple[float | None, ...], y_range: tuple[float, float]
        ) -> list[list[tuple[float, float]]]:
    """The drawn runs of a line (a point under the minimum breaks it) in SVG coordinates."""
    low, high = y_range
    step = (WIDTH - 2 * PAD) / max(len(points) - 1, 1)
    runs: list[list[tuple[float, float]]] = [[]]
    for i, value in enumerate(points):
        if value is None:
            runs.append([])
            continue
        y = PAD + (high - value) / (high - low) * (HEIGHT - 2 * PAD)
        runs[-1].append((PAD + i * step, y))
    return [run for run in runs if run]


def _path(runs: list[list[tuple[float, float]]], **attrs: str) -> str:
    """A polyline per run (a lone point becomes a dot)."""
    extra = " ".join(f'{k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
    parts = []
    for run in runs:
        if len(run) == 1:
            x, y = run[0]
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="{attrs["stroke"]}"/>')
        else:
            pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
            parts.append(f'<polyline points="{pts}" fill="none" {extra}/>')
    return "".join(parts)


def build_svg(item: Multiple, shared: Multiples, theme: str) -> str:
    """One multiple as SVG text: a zero line when in range, the overall line faint, the
    value's line (grey and dashed when the value is thin)."""
    colours = THEMES.get(theme, THEMES["dark"])
    low, high = shared.y_range
    body = []
    if low < 0 < high:
        y = PAD + high / (high - low) * (HEIGHT - 2 * PAD)
        body.append(f'<line x1="0" x2="{WIDTH}" y1="{y:.1f}" y2="{y:.1f}" '
                    f'stroke="{colours["grid"]}" stroke-width="1"/>')
    body.append(_path(_xy(shared.overall, shared.y_range), stroke=colours["faint"],
                      stroke_width="1.5", stroke_opacity="0.7"))
    line = colours["muted"] if item.thin else colours["accent"]
    dash = {"stroke_dasharray": "3 3"} if item.thin else {}
    body.append(_path(_xy(item.points, shared.y_range), stroke=line, stroke_width="2.2",
                      stroke_linejoin="round", **dash))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'width="{WIDTH}" height="{HEIGHT}">{"".join(body)}</svg>')


def has_trend(item: Multiple) -> bool:
    """Whether the value's line has a segment (two neighbouring periods with a score); dots
    alone are no trend, and the multiple says so in words."""
    return any(len(run) > 1 for run in _xy(item.points, (-100.0, 100.0)))


def describe(item: Multiple, field: str) -> str:
    """What a multiple says in words (its button's accessible name and tooltip)."""
    score = f"NPS {item.nps:+d}" if item.nps is not None else "not enough responses"
    rank = f"rank {item.rank}" if item.rank else "not ranked"
    thin = ", too few responses to rank" if item.thin else ""
    return (f"{field} {item.value}: {score}, {format_count(item.n)} responses, {rank}{thin}. "
            "Press to filter the workspace to it.")


def build_multiple(item: Multiple, shared: Multiples, theme: str) -> html.Button:
    """One value's button: name, score, responses and the small trend."""
    name = clean_for_display(item.value, CHIP_CHARS)
    score = (f"{item.nps:+d}".replace("-", "\u2212") if item.nps is not None
             else NOT_AVAILABLE)
    src = "data:image/svg+xml;charset=utf-8," + quote(build_svg(item, shared, theme))
    return html.Button(
        id=segment_id(shared.field, item.value, "multiple"), n_clicks=0,
        className="ws-multiple" + (" is-thin" if item.thin else ""),
        title=describe(item, shared.field), **{"aria-label": describe(item, shared.field)},
        children=[
            html.Span([html.Span(name, className="ws-multiple-name"),
                       html.Span(score, className="ws-multiple-score")],
                      className="ws-multiple-head"),
            html.Img(src=src, alt="", className="ws-multiple-chart"),
            html.Span(f"{format_count(item.n)} response{'' if item.n == 1 else 's'}" + (
                " \u00b7 too few for a trend" if not has_trend(item)
                else " \u00b7 too few to rank" if item.thin else ""),
                className="ws-multiple-n"),
        ])


def _axis_words(shared: Multiples) -> str:
    low, high = (f"{v:+.0f}".replace("-", "\u2212") if v else "0" for v in shared.y_range)
    words = ROLLING_WORDS.get(shared.granularity, "rolling")
    return (f"{words.capitalize()} rolling score per {shared.granularity}, every chart on one "
            f"scale ({low} to {high}); the faint line is all responses. Press one to filter "
            "to it.")


def build_multiples_panel(shared: Multiples, theme: str) -> html.Div:
    """The grid of multiples with its note (and how many values were left out)."""
    notes = [html.P(_axis_words(shared), className="ws-note")]
    if shared.left_out:
        notes.append(html.P(f"Showing the {len(shared.items)} best-ranked of {shared.total} "
                            f"values; the table lists all of them.",
                            className="ws-note ws-multiples-more"))
    return html.Div(className="ws-multiples", children=[
        *notes,
        html.Div([build_multiple(item, shared, theme) for item in shared.items],
                 className="ws-multiples-grid"),
    ])
