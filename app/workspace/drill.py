"""Drill-downs from the manager's panels: a topic's comments, one trend period (its n,
margin, split and comments), and an event's before and after.

Everything is read within the screen's view (window and segments, already clamped to a
share link's scope by ``live_page.screen_for``): the numbers from the snapshot, the comments
from the store's search with the same segments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from dash import dcc, html
from dash.development.base_component import Component

from app import metrics
from app.metrics import ScoreSummary, TrendPoint
from app.panels import NOT_AVAILABLE, describe_change, format_count
from app.privacy import clean_for_display
from app.rollup import Snapshot
from app.store.search import CommentQuery
from app.views import View, combo_mask, epoch_day, today_in
from app.workspace.comment_list import FIELD, build_comment_list, local_bounds, step_button
from app.workspace.state import Workspace

LABEL_CHARS = 60
MAX_SIDE_DAYS = 90  # an event's before/after windows are never longer than this


@dataclass(frozen=True)
class Reader:
    """Who reads the workspace and within what: the store, whether they are an admin and
    may see comments, the segment fields and the display zone."""

    store: object
    admin: bool
    comments_shown: bool
    fields: tuple[str, ...]
    tz: str


def segments_of(view: View) -> dict[str, tuple[str, ...]]:
    """The view's segment filters as the store's search takes them."""
    return {name: values for name, values in view.request.segments}


def build_summary(summary: ScoreSummary) -> html.Dl:
    """n, NPS ± margin and the split of one set of responses."""
    if summary.enough:
        score = f"{summary.nps_display:+d}".replace("-", "\u2212")
        margin = f"± {summary.margin:.1f}"
    else:
        score, margin = NOT_AVAILABLE, f"under {summary.min_sample} responses"
    p, s, d = summary.percentages if summary.n else (0, 0, 0)
    items = (("Responses", format_count(summary.n)), ("NPS", score), ("Margin (95%)", margin),
             ("Promoters", f"{p}% ({summary.promoters})"),
             ("Passives", f"{s}% ({summary.passives})"),
             ("Detractors", f"{d}% ({summary.detractors})"))
    return html.Dl([part for label, value in items
                    for part in (html.Dt(label), html.Dd(value))], className="ws-summary")


def _frame(title: str, body: list, kind: str) -> html.Section:
    return html.Section(className=f"ws-drill ws-drill--{kind}", children=[
        html.Div(className="ws-drill-head", children=[
            html.H3(title, className="ws-title"),
            step_button("Close", "topic=&period=&event=", css="ws-button ws-close"),
        ]),
        *body,
    ])


def build_topic_drill(view: View, ws: Workspace, reader: Reader) -> html.Section:
    """The comments that mention ``ws.topic`` in the window and segments, newest first."""
    start, end = local_bounds(view.start, view.end, reader.tz)
    query = CommentQuery(created_from=start, created_to=end, segments=segments_of(view),
                         topic=ws.topic)
    title = f"\u201c{clean_for_display(ws.topic, LABEL_CHARS)}\u201d \u00b7 {view.label}"
    return _frame(title, _comments(query, ws.page, reader), "topic")


def _comments(query: CommentQuery, page: int, reader: Reader) -> list[Component]:
    return build_comment_list(reader.store, query, page, admin=reader.admin,
                              comments_shown=reader.comments_shown, fields=reader.fields,
                              tz=reader.tz)


def period_label(point: TrendPoint, granularity: str) -> str:
    """A trend period in words for the keyboard's period picker: "Tue 2 Dec 2026: +32,
    120 responses" (the score only when the period has the minimum sample)."""
    day = date.fromisoformat(point.start)
    name = {"day": f"{day:%a} {day.day} {day:%b %Y}", "week": f"Week of {day.day} {day:%b %Y}",
            "month": f"{day:%B %Y}"}[granularity]
    summary = point.summary
    score = f"{summary.nps_display:+d}".replace("-", "\u2212") + ", " if summary.enough else ""
    return f"{name}: {score}{format_count(summary.n)} responses"


def build_period_picker(view: View, ws: Workspace) -> dcc.Dropdown:
    """Every period of the trend, newest first: choosing one opens it (the keyboard's way to
    a trend point, which takes no focus)."""
    options = [{"label": period_label(p, view.granularity), "value": p.start}
               for p in reversed(view.trend)]
    return dcc.Dropdown(id={"type": FIELD, "name": "period"}, options=options,
                        value=ws.period.isoformat() if ws.period else None,
                        placeholder=f"Open a {view.granularity} of the trend\u2026",
                        clearable=False, searchable=False, className="ws-field ws-period")


def _period_steps(view: View, index: int, ws: Workspace) -> html.Nav:
    """Earlier and later period buttons around the picker."""
    starts = [p.start for p in view.trend]
    # A disabled end keeps an id of its own (the step names the edge; apply_step ignores it).
    earlier = step_button("\u2039 Earlier", f"period={starts[index - 1]}" if index
                          else f"period={starts[index]}&edge=first", disabled=index == 0)
    later = step_button("Later \u203a", f"period={starts[index + 1]}"
                        if index + 1 < len(starts) else f"period={starts[index]}&edge=last",
                        disabled=index + 1 >= len(starts))
    return html.Nav([earlier, build_period_picker(view, ws), later], className="ws-period-nav",
                    **{"aria-label": "Periods of the trend"})


def period_end(trend: tuple[TrendPoint, ...], index: int, view_end: date) -> date:
    """The last day of the trend's ``index``-th period (the day before the next one starts)."""
    if index + 1 < len(trend):
        return date.fromisoformat(trend[index + 1].start) - timedelta(days=1)
    return view_end


def build_period_drill(view: View, ws: Workspace, reader: Reader) -> html.Section:
    """One trend period: its numbers and its comments."""
    starts = [p.start for p in view.trend]
    wanted = ws.period.isoformat() if ws.period else ""
    if wanted not in starts:
        return _frame(f"Period {wanted}", [html.P("This period is not on the trend of the "
                                                  "current window", className="ws-empty")],
                      "period")
    index = starts.index(wanted)
    point, last = view.trend[index], period_end(view.trend, index, view.end)
    # The first period may start before the window; its point counts the window's days only.
    start, end = local_bounds(max(ws.period, view.start), last, reader.tz)
    query = CommentQuery(created_from=start, created_to=end, segments=segments_of(view))
    title = (f"Day {wanted}" if last == ws.period else
             f"{view.granularity.capitalize()} from {wanted} to {last.isoformat()}")
    return _frame(title, [_period_steps(view, index, ws), build_summary(point.summary),
                          *_comments(query, ws.page, reader)], "period")


def side_windows(day: date, today: date, length: int) -> tuple[tuple[date, date],
                                                                tuple[date, date]]:
    """Equal-length windows before an event's day and from it on: ``length`` days each, or
    fewer when the event is recent (after it cannot pass today)."""
    length = max(1, min(length, MAX_SIDE_DAYS, (today - day).days + 1))
    before = (day - timedelta(days=length), day - timedelta(days=1))
    after = (day, day + timedelta(days=length - 1))
    return before, after


def sum_days(snapshot: Snapshot, mask: np.ndarray, first: date, last: date) -> tuple[int, ...]:
    """(promoters, passives, detractors) of the masked combinations between two days."""
    lo = max(epoch_day(first) - snapshot.day0, 0)
    hi = min(epoch_day(last) - snapshot.day0 + 1, snapshot.days)
    if hi <= lo:
        return (0, 0, 0)
    total = snapshot.counts[mask][:, lo:hi].sum(axis=(0, 1), dtype=np.int64)
    return tuple(int(c) for c in total)


def build_event_drill(snapshot: Snapshot, view: View, ws: Workspace, reader: Reader,
                      min_sample: int) -> html.Section:
    """The score in equal windows before and after an event, and whether it moved."""
    event = next((e for e in snapshot.events if e.id == ws.event), None)
    if event is None:
        return _frame("Event", [html.P("No such event", className="ws-empty")], "event")
    when = event.occurred_at
    when = when if when.tzinfo else when.replace(tzinfo=UTC)  # stored times are UTC
    day = when.astimezone(ZoneInfo(reader.tz)).date()
    length = (view.end - view.start).days + 1
    before, after = side_windows(day, today_in(reader.tz), length)
    mask = combo_mask(snapshot, view.request)
    then = metrics.summarize(sum_days(snapshot, mask, *before), min_sample)
    now = metrics.summarize(sum_days(snapshot, mask, *after), min_sample)
    change = describe_change(now, then, metrics.compare_scores(now, then))
    verdict = (f"{change.arrow} {change.magnitude} {change.word}".strip() if change.word
               else "not enough responses on both sides to compare")
    days = (after[1] - after[0]).days + 1
    title = f"{clean_for_display(event.label, LABEL_CHARS)} ({event.kind}, {day.isoformat()})"
    columns = [html.Div([html.H4(f"{days} days before"), build_summary(then)],
                        className="ws-side"),
               html.Div([html.H4(f"{days} days from the event"), build_summary(now)],
                        className="ws-side")]
    return _frame(title, [
        html.Div(columns, className="ws-sides"),
        html.P([html.Strong("Change: "), html.Span(verdict, className=f"ws-verdict {change.css}"),
                html.Span(f" {change.noise}" if change.noise else "", className="ws-noise")],
               className="ws-change"),
    ], "event")
