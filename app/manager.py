"""The manager view at /: all four panels in a grid, a window selector and segment filters
carried in the URL, and a link that opens the wall with the same settings."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update

from app import live, live_status
from app.dash_guard import client_choices, client_query, client_state, client_text
from app.live import URL_ID, ScreenConfig
from app.panels import CHIP_CHARS
from app.privacy import clean_for_display

if TYPE_CHECKING:
    from app.services import Services

# Component ids of the manager page.
ROOT = "mgr-root"
WINDOW = "mgr-window"
FILTER_TYPE = "mgr-filter"
WALL_LINK = "mgr-wall-link"
SUBTITLE = "mgr-subtitle"
SCORE_BODY = "mgr-score-body"
TREND_GRAPH = "mgr-trend-graph"
TREND_FIGURE = "mgr-trend-figure"
TOPICS_BODY = "mgr-topics-body"
COMMENTS_BODY = "mgr-comments-body"
POLL = "mgr-poll"
TICK = "mgr-tick"
CONFIG = "mgr-config"
STATE = "mgr-state"
STATUS = "mgr-status"
UPDATED = "mgr-updated"
CLOCK = "mgr-clock"
CONNECTION = "mgr-connection"
NOTICE = "mgr-notice"

PARTS = ("score", "trend", "topics", "comment_list")
WINDOW_CHOICES = (("30d", "30 days"), ("90d", "90 days"), ("all", "All time"))
# The window control's value while the URL holds a from/to range: the range stays until a
# window is chosen (a default of 30d would replace it on the first poll).
RANGE = "range"


def filter_id(field: str) -> dict[str, str]:
    """The pattern-matching id of a segment filter dropdown."""
    return {"type": FILTER_TYPE, "field": field}


def build_query(base: dict[str, str], window: str | None, fields: list[str],
                values: list[list[str] | None]) -> dict[str, str]:
    """The URL query for the selected window and segment values, keeping other settings.

    A chosen window replaces the URL's window and from/to; ``RANGE`` (or no value) keeps them.
    """
    keep_view = not window or window == RANGE
    query = {k: v for k, v in base.items()
             if k not in fields and (keep_view or k not in live.VIEW_PARAMS)}
    if not keep_view:
        query["window"] = window
    for field, chosen in zip(fields, values, strict=False):
        if chosen:
            query[field] = ",".join(chosen)
    return query


def list_segment_values(services: Services) -> dict[str, list[str]]:
    """Values of each segment field present in the current snapshot's combinations."""
    found: dict[str, set[str]] = {field: set() for field in services.settings.segment_fields}
    for combo in services.poller.snapshot.combos:
        for field, values in found.items():
            if combo.get(field):
                values.add(combo[field])
    return {field: sorted(values) for field, values in found.items()}


def build_layout(query: dict[str, str], services: Services) -> html.Div:
    """The manager page for a URL query, with the current data already in place."""
    settings = services.settings
    screen = live.parse_screen(query, settings)
    first = live.compute_update(services, screen, None, PARTS)
    window = screen.request.window
    options = [{"label": label, "value": value} for value, label in WINDOW_CHOICES]
    if window == RANGE:
        options.insert(0, {"label": live.describe_request(replace(screen.request, segments=())),
                           "value": RANGE})
    elif window not in {o["value"] for o in options}:
        options.insert(0, {"label": window.replace("d", " days"), "value": window})
    selected = dict(screen.request.segments)
    config = {"query": live.public_query(query, settings.segment_fields),
              "fields": list(settings.segment_fields),
              "stale": settings.stale_seconds, "poll": settings.poll_seconds,
              "lost_after": max(3 * settings.poll_seconds, 10.0), "tz": settings.timezone,
              "scale": "manager"}
    filters = [
        dcc.Dropdown(id=filter_id(field), value=list(selected.get(field, ())), options=[
            {"label": clean_for_display(v, CHIP_CHARS), "value": v} for v in values],
                     multi=True, placeholder=f"All {field}s", className="mgr-filter",
                     clearable=True, searchable=False)
        for field, values in list_segment_values(services).items()
    ]
    notice = html.Span("Some URL settings were ignored", id=NOTICE, className="mgr-notice",
                       title="; ".join(screen.notices)) if screen.notices else None
    parts = first.parts
    return html.Div(id=ROOT, className=f"mgr-root theme-{screen.theme}", children=[
        dcc.Interval(id=POLL, interval=live_status.screen_poll_ms(settings)),
        dcc.Interval(id=TICK, interval=1000),
        dcc.Store(id=CONFIG, data=config),
        dcc.Store(id=STATE, data=first.state),
        dcc.Store(id=STATUS, data=first.status),
        dcc.Store(id=TREND_FIGURE, data=parts["trend"]),
        html.Header(className="mgr-header", children=[
            html.Div(className="mgr-title", children=[
                html.Span(className="tv-brand-mark"),
                html.H1("Net Promoter Score"),
                html.Span(live.describe_request(screen.request), id=SUBTITLE,
                          className="mgr-subtitle"),
            ]),
            html.Div(className="mgr-controls", children=[
                dcc.RadioItems(id=WINDOW, options=options, value=window,
                               className="mgr-window", inline=True),
                *filters,
            ]),
            html.Div(className="mgr-status", children=[
                notice,
                html.Span(id=UPDATED, className="status-updated is-unknown"),
                html.Span(id=CLOCK, className="mgr-clock"),
                html.A("Open wall ↗", id=WALL_LINK, href=_wall_href(screen), target="_blank",
                       className="mgr-wall-link"),
            ]),
        ]),
        html.Main(className="mgr-grid", children=[
            _build_card("score", "Score", html.Div(parts["score"], id=SCORE_BODY,
                                                   className="panel-body score-panel")),
            _build_card("trend", "Trend", dcc.Graph(
                id=TREND_GRAPH, figure=parts["trend"], responsive=True,
                style={"height": "100%", "width": "100%"},
                config={"displayModeBar": False, "responsive": True})),
            _build_card("topics", "Topics by effect on the score",
                        html.Div(parts["topics"], id=TOPICS_BODY,
                                 className="panel-body topics-panel")),
            _build_card("comments", "Newest comments",
                        html.Div(parts["comment_list"], id=COMMENTS_BODY,
                                 className="panel-body comments-panel")),
        ]),
        html.Div(id=CONNECTION, className="tv-connection"),
    ])


def _build_card(name: str, title: str, body: Any) -> html.Section:
    return html.Section(id=f"mgr-card-{name}", className=f"mgr-card mgr-card--{name}", children=[
        html.H2(title, className="mgr-card-title"),
        html.Div(body, className="mgr-card-body"),
    ])


def _wall_href(screen: ScreenConfig) -> str:
    return "/tv" + (f"?{screen.query}" if screen.query else "")


def run_update(services: Services, config: dict | None, state: dict | None,
               window: str | None, values: list) -> list:
    """The poll step of the manager page: parts, the subtitle, client state and status."""
    fields = list(services.settings.segment_fields)
    query = build_query(client_query(config), client_text(window), fields,
                        client_choices(values, len(fields)))
    screen = live.parse_screen(query, services.settings)
    update = live.compute_update(services, screen, client_state(state), PARTS)
    subtitle = no_update if update.state is no_update else live.describe_request(screen.request)
    return [*(update.parts[name] for name in PARTS), subtitle, update.state, update.status]


def register_callbacks(dash_app: Dash, services: Services) -> None:
    """Wire the manager page: live poll, URL sync, and the shared client-side helpers."""
    @dash_app.callback(
        Output(SCORE_BODY, "children"), Output(TREND_FIGURE, "data"),
        Output(TOPICS_BODY, "children"), Output(COMMENTS_BODY, "children"),
        Output(SUBTITLE, "children"), Output(STATE, "data"), Output(STATUS, "data"),
        Input(POLL, "n_intervals"), Input(WINDOW, "value"),
        Input(filter_id(ALL), "value"), State(CONFIG, "data"), State(STATE, "data"),
        prevent_initial_call=True)
    def poll_manager(_n: int, window: str | None, values: list, config: dict | None,
                     state: dict | None) -> list:
        return run_update(services, config, state, window, values)

    @dash_app.callback(
        Output(URL_ID, "search"), Output(WALL_LINK, "href"),
        Input(WINDOW, "value"), Input(filter_id(ALL), "value"), State(CONFIG, "data"),
        prevent_initial_call=True)
    def sync_url(window: str | None, values: list, config: dict | None) -> tuple[str, str]:
        if not ctx.triggered_id:
            return no_update, no_update
        fields = list(services.settings.segment_fields)
        query = build_query(client_query(config), client_text(window), fields,
                            client_choices(values, len(fields)))
        screen = live.parse_screen(query, services.settings)
        search = f"?{urlencode(query, safe=',:')}" if query else ""
        return search, _wall_href(screen)

    live_status.register_client_callbacks(dash_app, updated=UPDATED, clock=CLOCK,
                                   connection=CONNECTION, tick=TICK, status=STATUS,
                                   config=CONFIG, graph=TREND_GRAPH, figure=TREND_FIGURE)
