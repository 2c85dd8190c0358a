"""The wall at /tv: full-screen panels rotating client-side, live data, staleness, watchdog.

Kiosk settings come from the URL (see ``app.screen.parse_screen``). Every registered panel
is mounted once; the browser only toggles ``is-active`` (assets/nps_tv.js), so nothing is
re-created. The shared scaffold (``app.live_page``) polls: one server callback per poll
returns ``no_update`` for every part unless the data changed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from dash import ClientsideFunction, Dash, Input, Output, html

from app import ask, live, live_page, live_status
from app.dash_guard import client_query
from app.live_page import LivePage, PageIds
from app.panels.registry import GONG, Panel, panels
from app.screen import ScreenConfig, describe_request, public_query

if TYPE_CHECKING:
    from app.services import Services

IDS = PageIds("tv")
PAGE = LivePage(IDS, surface="wall", scale="viewport", every_panel=False, asks=True,
                ticks=False)
STAGE = "tv-stage"
GONG_ID = "tv-gong"
LATEST = IDS.store(GONG.name)  # the gong's data: the newest response
ACTIVE_CLASS = "is-active"


def panel_id(name: str) -> str:
    """The section of a panel on the wall."""
    return f"tv-panel-{name}"


def nav_id(name: str) -> str:
    """A panel's item in the wall's bottom bar."""
    return f"tv-nav-{name}"


def build_layout(query: dict[str, str], services: Services) -> html.Div:
    """The wall for a URL query, with the current data already in place."""
    settings = services.settings
    screen = live_page.screen_for(services, query)
    # Not noted for building ahead where the page will open its stream: the stream's worker
    # builds for it, and this one would too, for two minutes (``live.STREAMED_HEADER``).
    first = live.compute_update(services, screen, None, PAGE.part_names(screen), patch=True,
                                note=not settings.ask_stream)
    low_power = live_status.low_power(settings, screen.power)
    classes = ["tv-root", f"theme-{screen.theme}"]
    classes += [] if screen.shift and not low_power else ["no-shift"]
    classes += ["is-low-power"] if low_power else []
    classes += ["is-single"] if len(screen.panels) == 1 else []
    ask_factor = live_status.ask_factor(settings, low_power)
    ask_seconds = live_status.ask_seconds(settings, low_power)
    config = live_page.build_config(
        PAGE, services, public_query(query, settings.segment_fields),
        panels=list(screen.panels), dwell=dict(screen.dwell), ask_factor=ask_factor,
        ask_seconds=ask_seconds,
        lost_after=max(3 * settings.poll_seconds, 3 * ask_seconds, 10.0))
    reload_at = live_status.next_reload_at(settings.nightly_reload, settings.timezone)
    data = {"data-build-id": services.build_id, "data-reload-at": str(reload_at or ""),
            "data-reload-spread": f"{settings.reload_spread_seconds:g}",
            "data-build-spread": f"{settings.build_reload_spread_seconds:g}",
            "data-poll-seconds": f"{settings.poll_seconds:g}",
            "data-loaded-at": str(int(time.time() * 1000)),
            # assets/nps_ask.js asks here; the wall's poll runs when the answer changes.
            "data-ask-path": ask.ask_path(config["query"]),
            # ...or is sent its ticks here (app/ask_stream.py), when the server keeps streams.
            "data-stream-path": ask.stream_path(config["query"]) if settings.ask_stream else "",
            "data-ask-ms": str(int(ask_seconds * 1000)),
            # ...and polls all the same after this long without a poll (and up to half more).
            "data-safety-ms": str(int(live_status.SAFETY_NET_SECONDS * 1000))}
    return html.Div(id=IDS.root, className=" ".join(classes), **data, children=[
        *live_page.build_frame(PAGE, services, config, first),
        html.Div(id=STAGE, className="tv-stage", children=[
            html.Div(className="tv-panels", children=[
                _build_panel(panel, screen, first) for panel in panels()]),
            _build_bar(screen),
        ]),
        html.Div(id=IDS.connection, className="tv-connection"),
        html.Div(id=GONG_ID, className="tv-gong"),
    ])


def _panel_class(name: str, screen: ScreenConfig) -> str:
    base = f"tv-panel tv-panel--{name}"
    if name not in screen.panels:
        return base + " is-off"
    return base + (f" {ACTIVE_CLASS}" if name == screen.panels[0] else "")


def _build_panel(panel: Panel, screen: ScreenConfig, first: live.Update) -> html.Section:
    body = live_page.build_body(PAGE, panel, live_page.first_payload(PAGE, first, panel))
    return html.Section(
        id=panel_id(panel.name), className=_panel_class(panel.name, screen),
        style={"--dwell": f"{screen.dwell_for(panel.name):g}s"},
        children=[
            html.Header(className="tv-panel-header", children=[
                html.H1(panel.title, className="tv-panel-title"),
                html.Div(describe_request(screen.request), className="tv-panel-subtitle"),
            ]),
            html.Div(body, className="tv-panel-body"),
            html.Div(html.Span(className="tv-progress-fill"), className="tv-progress"),
        ])


def _build_bar(screen: ScreenConfig) -> html.Footer:
    nav = []
    for panel in panels():
        shown = panel.name in screen.panels
        css = "tv-nav-item"
        if not shown:
            css += " is-off"
        elif panel.name == screen.panels[0]:
            css += f" {ACTIVE_CLASS}"
        # Items follow the rotation order given in the URL.
        order = screen.panels.index(panel.name) if shown else len(panels())
        nav.append(html.Span(panel.nav, id=nav_id(panel.name), className=css,
                             style={"order": order}))
    notice = None
    if screen.notices:
        notice = html.Span("URL: " + " · ".join(screen.notices), id=IDS.notice,
                           className="tv-notice", title="; ".join(screen.notices))
    return html.Footer(className="tv-bar", children=[
        html.Div(className="tv-brand", children=[
            html.Span(className="tv-brand-mark"), html.Span("NPS TV", className="tv-brand-name"),
            notice,
        ]),
        html.Nav(nav, className="tv-nav"),
        html.Div(className="tv-bar-right", children=[
            html.Span(id=IDS.updated, className="status-updated is-unknown"),
            html.Span(id=IDS.clock, className="tv-clock"),
        ]),
    ])


def run_update(services: Services, config: Any, state: Any) -> list:
    """The poll step for one wall: its part outputs (``PAGE.output_names()``), then the client
    state and status."""
    screen = live_page.screen_for(services, client_query(config))
    return live_page.run_poll(PAGE, services, screen, state)


def register_callbacks(dash_app: Dash, services: Services) -> None:
    """Wire the wall's server poll, its status and figures, and the gong's card. The rotation
    has no callback: assets/nps_tv.js moves ``is-active`` between the mounted panels (from the
    page config's ``names``, ``panels``, ``dwell`` and ``skip_empty``), so a rotation costs
    no request, no Dash cycle and no React render."""
    live_page.register_poll(dash_app, PAGE, services, run_update)
    live_page.register_client(dash_app, PAGE)
    # Only the card: the gong's class (shown, hidden) belongs to nps_tv.js.
    dash_app.clientside_callback(
        ClientsideFunction("nps_tv", "gong"), [Output(GONG_ID, "children")],
        Input(LATEST, "data"))
