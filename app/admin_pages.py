"""What admins see in a browser: the Screens page at /screens (every share link's screen, when
it was last seen, on what browser and build, with what trouble, silent ones flagged; reload
one screen or all, revoke a link) and the share dialog in the manager view (create a link
for the screen on show). Every action checks ``is_admin_request()`` on the server: a page or
callback reached with a share link does nothing an admin may do.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update

from app.dash_guard import client_text
from app.live_page import URL_ID
from app.scopes import is_admin_request
from app.share_input import (
    COMMENTS,
    ROLES,
    LinkProblems,
    describe_browser,
    format_seconds,
    link_json,
    share_url,
    validate_link,
)

if TYPE_CHECKING:
    from app.services import Services

SCREENS_PATH = "/screens"
TABLE, MESSAGE, REFRESH, RELOAD_ALL = "adm-table", "adm-message", "adm-refresh", "adm-reload-all"
ROW_RELOAD, ROW_REVOKE = "adm-row-reload", "adm-row-revoke"
SHARE = "mgr-share"
SHARE_FIELDS = {"name": "mgr-share-name", "role": "mgr-share-role",
                "expires": "mgr-share-expires", "comments": "mgr-share-comments"}
SHARE_CREATE, SHARE_RESULT = "mgr-share-create", "mgr-share-result"
ADMINS_ONLY = "Admins only: sign in at /admin with the admin token."


def build_screens_layout(services: Services) -> html.Div:
    """The Screens page (admins only)."""
    if not is_admin_request():
        return html.Div(html.P(ADMINS_ONLY, className="panel-message"),
                        className="mgr-root theme-dark adm-root")
    return html.Div(className="mgr-root theme-dark adm-root", children=[
        dcc.Interval(id=REFRESH, interval=5000),
        html.Header(className="mgr-header", children=[
            html.Div(className="mgr-title", children=[
                html.Span(className="tv-brand-mark"), html.H1("Screens"),
                html.Span("every share link's screen, as it last reported",
                          className="mgr-subtitle")]),
            html.Div(className="mgr-status", children=[
                html.Span(id=MESSAGE, className="adm-message"),
                html.Button("Reload all screens", id=RELOAD_ALL, className="mgr-wall-link"),
                html.A("Manager view", href="/", className="mgr-wall-link")]),
        ]),
        html.Main(html.Div(_screens_table(services), id=TABLE), className="adm-main"),
    ])


def _screens_table(services: Services) -> html.Table:
    now = datetime.now(UTC)
    settings = services.settings
    rows = [link_json(row, settings, now) for row in services.links.links.list_links()]
    head = html.Tr([html.Th(h) for h in ("Link", "Role", "State", "Last seen", "Browser",
                                          "Build", "Trouble", "")])
    body = [_screen_row(r, settings.screen_silent_seconds) for r in rows]
    if not body:
        body = [html.Tr(html.Td("No share links yet: create one from the manager view's "
                                "Share button or with nps-tv share create NAME", colSpan=8))]
    return html.Table([html.Thead(head), html.Tbody(body)], className="adm-table")


def _screen_row(r: dict, silent_after: float) -> html.Tr:
    active = r["state"] == "active"
    seen = "never" if r["last_seen_at"] is None else f"{format_seconds(r['silent_seconds'])} ago"
    state = "silent" if r["silent"] else r["state"]
    if active and r["last_seen_at"] is None:
        state = "not opened yet"  # handed out, never opened: not a screen gone quiet
    actions = [html.Button("Reload", id={"type": ROW_RELOAD, "id": r["id"]},
                           className="adm-button"),
               html.Button("Revoke", id={"type": ROW_REVOKE, "id": r["id"]},
                           className="adm-button is-danger")] if active else []
    css = state.replace(" ", "-")
    return html.Tr(className=f"adm-row is-{css}", children=[
        html.Td(r["name"]), html.Td(r["role"]),
        html.Td(state, title=f"silent: not seen for more than {silent_after:g} s"
                if state == "silent" else None, className=f"adm-state is-{css}"),
        html.Td(seen), html.Td(describe_browser(r["last_user_agent"])),
        html.Td(r["last_build"] or "-"), html.Td(r["last_trouble"] or "-"),
        html.Td(actions, className="adm-actions")])


def build_share_dialog() -> html.Details | None:
    """The manager view's share dialog (admins only): a link for the screen on show."""
    if not is_admin_request():
        return None
    return html.Details(id=SHARE, className="mgr-share", children=[
        html.Summary("Share…", className="mgr-wall-link"),
        html.Div(className="mgr-share-form", children=[
            dcc.Input(id=SHARE_FIELDS["name"], placeholder="Name, e.g. Lobby TV",
                      maxLength=100, className="mgr-share-input"),
            dcc.RadioItems(id=SHARE_FIELDS["role"], options=list(ROLES), value="wall",
                           inline=True, className="mgr-share-choice"),
            dcc.Input(id=SHARE_FIELDS["expires"], placeholder="Expires, e.g. 90d (empty: never)",
                      className="mgr-share-input"),
            dcc.RadioItems(id=SHARE_FIELDS["comments"], value="show", inline=True,
                           options=[{"label": f"comments: {c}", "value": c} for c in COMMENTS],
                           className="mgr-share-choice"),
            html.Button("Create link", id=SHARE_CREATE, className="mgr-wall-link"),
            html.Div(id=SHARE_RESULT, className="mgr-share-result"),
            html.A("All links and screens →", href=SCREENS_PATH, className="mgr-share-more"),
        ]),
    ])


def create_link(services: Services, fields: dict[str, Any], query: dict[str, str]) -> Any:
    """Create a share link for the screen on show; what the dialog shows afterwards."""
    if not is_admin_request():
        return html.P(ADMINS_ONLY, className="mgr-share-error")
    screen = urlencode({k: v for k, v in query.items() if v}, safe=",:")
    try:
        values = validate_link({**fields, "screen": screen}, services.settings)
        row, token = services.links.links.create(**values)
    except (LinkProblems, ValueError) as exc:
        return html.P(str(exc), className="mgr-share-error")
    services.links.refresh(force=True)
    return [html.P(f"{row.name}: copy this link now, it is shown once"),
            html.Code(share_url(token, services.settings), className="mgr-share-url")]


def act_on_screens(services: Services, trigger: Any) -> str:
    """Reload every screen, or reload or revoke one link's; what happened, in words."""
    if not is_admin_request():
        return ADMINS_ONLY
    links = services.links.links
    if trigger == RELOAD_ALL:
        links.request_reload(None)
        message = "Every screen reloads within a poll"
    elif isinstance(trigger, dict) and isinstance(trigger.get("id"), int):
        row = links.get(trigger["id"])
        if row is None:
            return "No such link"
        if trigger.get("type") == ROW_REVOKE:
            links.revoke(row.id)
            message = f"{row.name} revoked: its screens show so within a poll"
        else:
            links.request_reload(row.id)
            message = f"{row.name}'s screens reload within a poll"
    else:
        return ""
    services.links.refresh(force=True)
    return message


def register_callbacks(dash_app: Dash, services: Services) -> None:
    """Wire the Screens page's actions and refresh, and the share dialog's Create button."""

    @dash_app.callback(
        Output(TABLE, "children"), Output(MESSAGE, "children"),
        Input(REFRESH, "n_intervals"), Input(RELOAD_ALL, "n_clicks"),
        Input({"type": ROW_RELOAD, "id": ALL}, "n_clicks"),
        Input({"type": ROW_REVOKE, "id": ALL}, "n_clicks"), prevent_initial_call=True)
    def screens(_n: Any, _all: Any, _reload: Any, _revoke: Any) -> tuple[Any, Any]:
        if not is_admin_request():
            return no_update, ADMINS_ONLY
        clicked = ctx.triggered and ctx.triggered[0].get("value")
        message = act_on_screens(services, ctx.triggered_id) if clicked else no_update
        return _screens_table(services), message

    @dash_app.callback(
        Output(SHARE_RESULT, "children"), Input(SHARE_CREATE, "n_clicks"),
        *[State(i, "value") for i in SHARE_FIELDS.values()], State(URL_ID, "search"),
        prevent_initial_call=True)
    def share(_n: Any, *values: Any) -> Any:
        *fields, search = values
        given = {k: client_text(v) for k, v in zip(SHARE_FIELDS, fields, strict=True)}
        query = dict(parse_qsl((client_text(search) or "").lstrip("?")))
        return create_link(services, {k: v for k, v in given.items() if v}, query)
