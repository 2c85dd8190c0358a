"""The wall at /tv: full-screen panels rotating client-side, live data, staleness, watchdog.

Kiosk settings come from the URL (see ``app.live.parse_screen``). Every panel is mounted
once; the browser only toggles ``is-active`` (assets/nps_tv.js), so nothing is re-created.
One server callback per poll returns ``no_update`` for every part unless the data changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dash import ClientsideFunction, Dash, Input, Output, State, dcc, html, no_update

from app import live, live_status
from app.dash_guard import client_query, client_state
from app.live import PANEL_NAMES, ScreenConfig

if TYPE_CHECKING:
    from app.services import Services

# Component ids of the wall (browser tests use these).
ROOT = "tv-root"
STAGE = "tv-stage"
PANEL_IDS = {name: f"tv-panel-{name}" for name in PANEL_NAMES}
NAV_IDS = {name: f"tv-nav-{name}" for name in PANEL_NAMES}
SCORE_BODY = "tv-score-body"
TREND_GRAPH = "tv-trend-graph"
TREND_FIGURE = "tv-trend-figure"
TOPICS_BODY = "tv-topics-body"
COMMENTS_BODY = "tv-comments-body"
LATEST = "tv-latest"
GONG = "tv-gong"
POLL = "tv-poll"
TICK = "tv-tick"
CONFIG = "tv-config"
STATE = "tv-state"
STATUS = "tv-status"
UPDATED = "tv-updated"
CLOCK = "tv-clock"
CONNECTION = "tv-connection"
NOTICE = "tv-notice"
ACTIVE_CLASS = "is-active"

TITLES = {"score": "Net Promoter Score", "trend": "NPS trend", "topics": "Topics",
          "comments": "What customers say"}
NAV_LABELS = {"score": "Score", "trend": "Trend", "topics": "Topics", "comments": "Comments"}
BODY_IDS = {"score": SCORE_BODY, "trend": TREND_GRAPH, "topics": TOPICS_BODY,
            "comments": COMMENTS_BODY}
# Order of the parts the update callback returns (matches its outputs).
PART_ORDER = ("score", "trend", "topics", "comments", "latest")


def select_parts(screen: ScreenConfig) -> tuple[str, ...]:
    """The parts a wall showing ``screen`` needs: its panels and the newest response."""
    return (*screen.panels, "latest")


def build_layout(query: dict[str, str], services: Services) -> html.Div:
    """The wall for a URL query, with the current data already in place."""
    settings = services.settings
    screen = live.parse_screen(query, settings)
    first = live.compute_update(services, screen, None, select_parts(screen))
    parts = first.parts
    classes = ["tv-root", f"theme-{screen.theme}"]
    classes += [] if screen.shift else ["no-shift"]
    classes += ["is-single"] if len(screen.panels) == 1 else []
    config = {
        "query": live.public_query(query, settings.segment_fields),
        "panels": list(screen.panels), "dwell": dict(screen.dwell),
        "stale": settings.stale_seconds, "poll": settings.poll_seconds,
        "lost_after": max(3 * settings.poll_seconds, 10.0), "tz": settings.timezone,
        "scale": "viewport",
    }
    reload_at = live_status.next_reload_at(settings.nightly_reload, settings.timezone)
    data = {"data-build-id": services.build_id, "data-reload-at": str(reload_at or ""),
            "data-poll-seconds": f"{settings.poll_seconds:g}"}
    trend = parts.get("trend")
    return html.Div(id=ROOT, className=" ".join(classes), **data, children=[
        dcc.Interval(id=POLL, interval=live_status.screen_poll_ms(settings)),
        dcc.Interval(id=TICK, interval=1000),
        dcc.Store(id=CONFIG, data=config),
        dcc.Store(id=STATE, data=first.state),
        dcc.Store(id=STATUS, data=first.status),
        dcc.Store(id=TREND_FIGURE, data=trend),
        dcc.Store(id=LATEST, data=parts.get("latest")),
        html.Div(id=STAGE, className="tv-stage", children=[
            html.Div(className="tv-panels", children=[
                _build_panel(name, screen, parts) for name in PANEL_NAMES]),
            _build_bar(screen),
        ]),
        html.Div(id=CONNECTION, className="tv-connection"),
        html.Div(id=GONG, className="tv-gong"),
    ])


def _panel_class(name: str, screen: ScreenConfig) -> str:
    base = f"tv-panel tv-panel--{name}"
    if name not in screen.panels:
        return base + " is-off"
    return base + (f" {ACTIVE_CLASS}" if name == screen.panels[0] else "")


def _build_panel(name: str, screen: ScreenConfig, parts: dict[str, Any]) -> html.Section:
    shown = name in screen.panels
    if name == "trend":
        figure = parts.get("trend") if shown else None
        body: Any = dcc.Graph(
            id=TREND_GRAPH, className="tv-graph", figure=figure or {"data": [], "layout": {}},
            responsive=True, style={"height": "100%", "width": "100%"},
            config={"displayModeBar": False, "staticPlot": True, "responsive": True})
    else:
        body = html.Div(parts.get(name) if shown else None, id=BODY_IDS[name],
                        className=f"panel-body {name}-panel")
    return html.Section(
        id=PANEL_IDS[name], className=_panel_class(name, screen),
        style={"--dwell": f"{screen.dwell_for(name):g}s"},
        children=[
            html.Header(className="tv-panel-header", children=[
                html.H1(TITLES[name], className="tv-panel-title"),
                html.Div(live.describe_request(screen.request), className="tv-panel-subtitle"),
            ]),
            html.Div(body, className="tv-panel-body"),
            html.Div(html.Span(className="tv-progress-fill"), className="tv-progress"),
        ])


def _build_bar(screen: ScreenConfig) -> html.Footer:
    nav = []
    for name in PANEL_NAMES:
        shown = name in screen.panels
        css = "tv-nav-item"
        if not shown:
            css += " is-off"
        elif name == screen.panels[0]:
            css += f" {ACTIVE_CLASS}"
        # Items follow the rotation order given in the URL.
        order = screen.panels.index(name) if shown else len(PANEL_NAMES)
        nav.append(html.Span(NAV_LABELS[name], id=NAV_IDS[name], className=css,
                             style={"order": order}))
    notice = None
    if screen.notices:
        notice = html.Span("Ignored in URL: " + " · ".join(screen.notices), id=NOTICE,
                           className="tv-notice", title="; ".join(screen.notices))
    return html.Footer(className="tv-bar", children=[
        html.Div(className="tv-brand", children=[
            html.Span(className="tv-brand-mark"), html.Span("NPS TV", className="tv-brand-name"),
            notice,
        ]),
        html.Nav(nav, className="tv-nav"),
        html.Div(className="tv-bar-right", children=[
            html.Span(id=UPDATED, className="status-updated is-unknown"),
            html.Span(id=CLOCK, className="tv-clock"),
        ]),
    ])


def run_update(services: Services, config: dict | None, state: dict | None) -> list:
    """The poll step for one wall: outputs in PART_ORDER, then the client state and status."""
    screen = live.parse_screen(client_query(config), services.settings)
    update = live.compute_update(services, screen, client_state(state), select_parts(screen))
    outputs = [update.parts.get(name, no_update) for name in PART_ORDER]
    return [*outputs, update.state, update.status]


def register_callbacks(dash_app: Dash, services: Services) -> None:
    """Wire the wall's server poll and its client-side rotation, status, figure and gong."""

    @dash_app.callback(
        Output(SCORE_BODY, "children"), Output(TREND_FIGURE, "data"),
        Output(TOPICS_BODY, "children"), Output(COMMENTS_BODY, "children"),
        Output(LATEST, "data"), Output(STATE, "data"), Output(STATUS, "data"),
        Input(POLL, "n_intervals"), State(CONFIG, "data"), State(STATE, "data"),
        prevent_initial_call=True)
    def poll_wall(_n: int, config: dict | None, state: dict | None) -> list:
        return run_update(services, config, state)

    dash_app.clientside_callback(
        ClientsideFunction("nps_tv", "rotate"),
        *[Output(PANEL_IDS[name], "className") for name in PANEL_NAMES],
        *[Output(NAV_IDS[name], "className") for name in PANEL_NAMES],
        Input(TICK, "n_intervals"), State(CONFIG, "data"))
    live_status.register_client_callbacks(dash_app, updated=UPDATED, clock=CLOCK,
                                   connection=CONNECTION, tick=TICK, status=STATUS,
                                   config=CONFIG, graph=TREND_GRAPH, figure=TREND_FIGURE)
    dash_app.clientside_callback(
        ClientsideFunction("nps_tv", "gong"),
        Output(GONG, "children"), Output(GONG, "className"),
        Input(LATEST, "data"), Input(TICK, "n_intervals"))
