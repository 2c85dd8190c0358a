"""The manager view at /: every panel in a grid, a window selector and segment filters
carried in the URL, and a link that opens the wall with the same settings."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update

from app import live, live_page, topic_editor
from app.admin_pages import build_share_dialog
from app.dash_guard import client_choices, client_query, client_text
from app.live_page import LivePage, PageIds
from app.panels import CHIP_CHARS
from app.panels.registry import Panel, panels
from app.privacy import clean_for_display
from app.scopes import is_admin_request, request_scope
from app.screen import VIEW_PARAMS, ScreenConfig, describe_request, public_query
from app.segments import join_values
from app.windows import RANGE, window_days
from app.workspace import callbacks as workspace_callbacks
from app.workspace import page as workspace
from app.workspace.state import parse_workspace, split_query

if TYPE_CHECKING:
    from app.services import Services

IDS = PageIds("mgr")
PAGE = LivePage(IDS, surface="manager", scale="manager", every_panel=True)
WINDOW = "mgr-window"
FILTER_TYPE = "mgr-filter"
WALL_LINK = "mgr-wall-link"
SUBTITLE = "mgr-subtitle"

WINDOW_CHOICES = (("30d", "30 days"), ("90d", "90 days"), ("all", "All time"))


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
             if k not in fields and (keep_view or k not in VIEW_PARAMS)}
    if not keep_view:
        query["window"] = window
    for field, chosen in zip(fields, values, strict=False):
        if chosen:
            query[field] = join_values(chosen)
    return query


def list_segment_values(services: Services) -> dict[str, list[str]]:
    """Values of each segment field present in the current snapshot's combinations; under a
    share link only the values its scope allows (the dropdowns offer nothing wider)."""
    scope = request_scope()
    allowed = dict(scope.segments) if scope is not None else {}
    found: dict[str, set[str]] = {field: set() for field in services.settings.segment_fields}
    for combo in services.poller.snapshot.combos:
        if any(combo.get(field) not in values for field, values in allowed.items()):
            continue  # a combination outside the link's scope names nothing it may see
        for field, values in found.items():
            if combo.get(field):
                values.add(combo[field])
    return {field: sorted(values) for field, values in found.items()}


def build_layout(query: dict[str, str], services: Services) -> html.Div:
    """The manager page for a URL query, with the current data already in place."""
    settings = services.settings
    query, workspace_params = split_query(query)
    screen = editable_screen(live_page.screen_for(services, query))
    first = live.compute_update(services, screen, None, PAGE.part_names(screen))
    config = live_page.build_config(PAGE, services, public_query(query, settings.segment_fields),
                                    fields=list(settings.segment_fields))
    return html.Div(id=IDS.root, className=f"mgr-root theme-{screen.theme}", children=[
        *live_page.build_frame(PAGE, services, config, first),
        _build_header(screen, services),
        html.Main(className="mgr-grid", children=[
            _build_card(panel, first, screen) for panel in panels()]),
        workspace.build_section(services, screen,
                                parse_workspace(workspace_params, settings.segment_fields)),
        html.Div(id=IDS.connection, className="tv-connection"),
        topic_editor.build_topic_dialog(services),
    ])


def editable_screen(screen: ScreenConfig) -> ScreenConfig:
    """The screen, with comments an admin may correct ("Edit topics") when the request is
    an admin's."""
    return replace(screen, editable=True) if is_admin_request() else screen


def _build_header(screen: ScreenConfig, services: Services) -> html.Header:
    notice = html.Span("Some URL settings were ignored", id=IDS.notice, className="mgr-notice",
                       title="; ".join(screen.notices)) if screen.notices else None
    return html.Header(className="mgr-header", children=[
        html.Div(className="mgr-title", children=[
            html.Span(className="tv-brand-mark"),
            html.H1("Net Promoter Score"),
            html.Span(describe_request(screen.request), id=SUBTITLE, className="mgr-subtitle"),
        ]),
        html.Div(className="mgr-controls", children=[
            dcc.RadioItems(id=WINDOW, options=_window_options(screen),
                           value=screen.request.window, className="mgr-window", inline=True),
            *_build_filters(screen, services),
        ]),
        html.Div(className="mgr-status", children=[
            notice,
            topic_editor.build_message(),
            html.Span(id=IDS.updated, className="status-updated is-unknown"),
            html.Span(id=IDS.clock, className="mgr-clock"),
            html.A("Open wall ↗", id=WALL_LINK, href=_wall_href(screen), target="_blank",
                   className="mgr-wall-link"),
            build_share_dialog(),
        ]),
    ])


def _window_options(screen: ScreenConfig) -> list[dict[str, str]]:
    """The window choices, with the URL's own window or date range first when it is none."""
    window = screen.request.window
    options = [{"label": label, "value": value} for value, label in WINDOW_CHOICES]
    if window == RANGE:
        options.insert(0, {"label": describe_request(replace(screen.request, segments=())),
                           "value": RANGE})
    elif window not in {o["value"] for o in options}:
        options.insert(0, {"label": f"{window_days(window)} days", "value": window})
    return options


def _build_filters(screen: ScreenConfig, services: Services) -> list[dcc.Dropdown]:
    selected = dict(screen.request.segments)
    return [
        dcc.Dropdown(id=filter_id(field), value=list(selected.get(field, ())), options=[
            {"label": clean_for_display(v, CHIP_CHARS), "value": v} for v in values],
            multi=True, placeholder=f"All {field}s", className="mgr-filter",
            clearable=True, searchable=False)
        for field, values in list_segment_values(services).items()
    ]


def _build_card(panel: Panel, first: live.Update, screen: ScreenConfig) -> html.Section:
    payload = live_page.first_payload(PAGE, first, panel)
    if panel.name in screen.hidden:  # never built or sent; the body keeps its id for the poll
        payload = [html.Div("Customers' comments are not shared through this link",
                            className="panel-message")]
    body = live_page.build_body(PAGE, panel, payload)
    return html.Section(id=f"mgr-card-{panel.name}",
                        className=f"mgr-card mgr-card--{panel.name}", children=[
        html.H2(panel.card_title, className="mgr-card-title"),
        html.Div(body, className="mgr-card-body"),
    ])


def _wall_href(screen: ScreenConfig) -> str:
    return "/tv" + (f"?{screen.query}" if screen.query else "")


def run_update(services: Services, config: Any, state: Any, window: Any,
               values: Any) -> list:
    """The poll step of the manager page: its part outputs (``PAGE.output_names()``), the
    subtitle, the client state and the status."""
    fields = list(services.settings.segment_fields)
    query = build_query(client_query(config), client_text(window), fields,
                        client_choices(values, len(fields)))
    screen = editable_screen(live_page.screen_for(services, query))

    def subtitle(update: live.Update) -> list:
        return [no_update if update.state is no_update else describe_request(screen.request)]

    return live_page.run_poll(PAGE, services, screen, state, subtitle)


def register_callbacks(dash_app: Dash, services: Services) -> None:
    """Wire the manager page: live poll, URL sync, and the shared client-side helpers."""
    live_page.register_poll(dash_app, PAGE, services, run_update,
                            inputs=[Input(WINDOW, "value"), Input(filter_id(ALL), "value")],
                            extra_outputs=[(SUBTITLE, "children")])
    live_page.register_client(dash_app, PAGE)
    topic_editor.register_callbacks(dash_app, services)

    def screen_query(config: Any, window: Any, values: Any) -> dict[str, str]:
        live_page.require_surface(PAGE.surface)
        fields = list(services.settings.segment_fields)
        return build_query(client_query(config), client_text(window), fields,
                           client_choices(values, len(fields)))

    # The workspace renders on a window or filter change too, and writes the URL (the
    # screen's parameters and its own), so a copied URL opens the same view.
    workspace_callbacks.register_callbacks(
        dash_app, services, graph_id=IDS.graph(_figure_panel().name),
        page_inputs=[Input(WINDOW, "value"), Input(filter_id(ALL), "value")],
        config_id=IDS.config, screen_query=screen_query, filter_type=FILTER_TYPE,
        live=(IDS.state, IDS.tick))

    @dash_app.callback(
        Output(WALL_LINK, "href"),
        Input(WINDOW, "value"), Input(filter_id(ALL), "value"), State(IDS.config, "data"),
        prevent_initial_call=True)
    def sync_wall_link(window: str | None, values: list, config: dict | None) -> str:
        if not ctx.triggered_id:
            return no_update
        return _wall_href(live_page.screen_for(services, screen_query(config, window, values)))


def _figure_panel() -> Panel:
    """The panel whose graph's clicks open a period or an event (the trend)."""
    return next(panel for panel in panels() if panel.figure)
