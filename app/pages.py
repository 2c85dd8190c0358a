"""The page shell and its router: one URL location, and /tv or / rendered into it."""

from __future__ import annotations

from urllib.parse import parse_qsl

from dash import Dash, Input, Output, State, dcc, html

from app import admin_pages, manager, tv
from app.dash_guard import client_text
from app.live_page import PAGE_ID, URL_ID
from app.scopes import request_scope
from app.services import Services


def build_shell() -> html.Div:
    """The layout every page lives in: the URL and the page it selects."""
    return html.Div([dcc.Location(id=URL_ID, refresh=False), html.Div(id=PAGE_ID)])


def register_pages(dash_app: Dash, services: Services) -> None:
    """Route /tv to the wall and everything else to the manager view, and wire both."""

    @dash_app.callback(Output(PAGE_ID, "children"), Input(URL_ID, "pathname"),
                       State(URL_ID, "search"))
    def route(pathname: str | None, search: str | None):
        query = dict(parse_qsl((client_text(search) or "").lstrip("?")))
        scope = request_scope()
        # A wall link sees its wall, whatever path the browser asks the router for.
        path = (client_text(pathname) or "/").rstrip("/")
        if path == "/tv" or (scope and scope.pinned):
            return tv.build_layout(query, services)
        if path == admin_pages.SCREENS_PATH:
            return admin_pages.build_screens_layout(services)
        return manager.build_layout(query, services)

    tv.register_callbacks(dash_app, services)
    admin_pages.register_callbacks(dash_app, services)
    manager.register_callbacks(dash_app, services)
