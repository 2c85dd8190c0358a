"""The workspace section of the manager page: its frame (a store holding the workspace's
URL parameters and the body they render), the tabs, and ``render``, which builds the body
for a screen and a ``Workspace``.

Admin-only views (follow-ups, events) are built for an admin request only; anyone else who
names them in a URL (or a hand-made callback) gets "Admins only". Under a share link the
screen is already the link's (``live_page.screen_for``), so every section stays in scope.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dash import dcc, html
from dash.development.base_component import Component

from app.panels import CHIP_CHARS
from app.privacy import clean_for_display
from app.scopes import is_admin_request
from app.screen import ScreenConfig
from app.views import View
from app.workspace import compare, drill, events_editor, explorer, follow_up_view
from app.workspace.comment_list import step_button
from app.workspace.state import (
    ADMIN_VIEWS,
    COMMENTS,
    EVENTS,
    FOLLOW_UPS,
    OVERVIEW,
    Workspace,
    workspace_query,
)

if TYPE_CHECKING:
    from app.services import Services

ROOT, BODY, STATE, SCROLLED = "ws-root", "ws-body", "ws-state", "ws-scrolled"
REFRESH, FOCUSED = "ws-refresh", "ws-focused"  # live refresh: new data arrived; focus back
TABS = ((OVERVIEW, "Drill-down & compare"), (COMMENTS, "Comment explorer"),
        (FOLLOW_UPS, "Follow-ups"), (EVENTS, "Events"))
ADMINS_ONLY = "Admins only: sign in at /admin with the admin token."
MESSAGE_KEY = "_message"  # in the state store, beside the URL parameters: the last outcome


def build_section(services: Services, screen: ScreenConfig, ws: Workspace) -> html.Section:
    """The workspace below the panel grid, already rendered for the URL's workspace."""
    return html.Section(id=ROOT, className="ws-root", **{"aria-label": "Workspace"}, children=[
        dcc.Store(id=STATE, data=workspace_query(ws)),
        dcc.Store(id=SCROLLED),
        dcc.Store(id=REFRESH),
        dcc.Store(id=FOCUSED),
        html.Div(render(services, screen, ws), id=BODY, className="ws-body"),
    ])


def build_tabs(ws: Workspace, admin: bool) -> html.Nav:
    """The views as tabs (admins see all four)."""
    shown = [(v, label) for v, label in TABS if admin or v not in ADMIN_VIEWS]
    return html.Nav(className="ws-tabs", **{"aria-label": "Workspace views"}, children=[
        step_button(label, f"view={v}", css="ws-tab" + (" is-chosen" if v == ws.view else ""),
                    title=None) for v, label in shown])


def reader_for(services: Services, screen: ScreenConfig) -> drill.Reader:
    """Who reads, and within what, for this request."""
    settings = services.settings
    return drill.Reader(services.store, is_admin_request(), screen.comments,
                        tuple(settings.segment_fields), settings.timezone)


def render(services: Services, screen: ScreenConfig, ws: Workspace,
           message: str | None = None) -> list[Component]:
    """The workspace body: tabs, then the chosen view."""
    reader = reader_for(services, screen)
    body: list[Component]
    if ws.view in ADMIN_VIEWS and not reader.admin:
        body = [html.P(ADMINS_ONLY, className="ws-empty")]
    else:
        body = _view_body(services, screen, ws, reader, message)
    return [build_tabs(ws, reader.admin), *body]


def _build_hint(view: View, ws: Workspace) -> html.Div:
    """What can be opened; the trend's periods in a picker and the window's events as
    buttons too (the chart's points and markers take no keyboard)."""
    buttons = [step_button(clean_for_display(e.label, CHIP_CHARS), f"event={e.id}",
                           css="ws-chip", title="Score before and after this event")
               for e in sorted(view.events, key=lambda e: e.occurred_at)]
    return html.Div(className="ws-hint", children=[
        html.P("Click a topic, a point of the trend or an event marker to see what lies "
               "behind it; or, by keyboard, Tab to a topic, a period or an event below and "
               "press Enter."),
        html.Div([html.Span("Trend periods:", className="ws-label"),
                  drill.build_period_picker(view, ws)],
                 className="ws-counts ws-period-nav") if view.trend else None,
        html.Div([html.Span("Events in this window:", className="ws-label"), *buttons],
                 className="ws-counts") if buttons else None,
    ])


def _view_body(services: Services, screen: ScreenConfig, ws: Workspace,
               reader: drill.Reader, message: str | None) -> list[Component]:
    settings = services.settings
    snapshot = services.poller.snapshot
    view = services.poller.view(screen.request, snapshot=snapshot)
    if ws.view == COMMENTS:
        return [explorer.build_explorer(view, ws, reader, services.store.topic_names)]
    if ws.view == FOLLOW_UPS:
        extra = (f"&status={ws.status}" if ws.status else "") + (
            "&passives=1" if ws.passives else "")
        return [follow_up_view.build_follow_ups(view, ws, reader,
                                                (screen.view_query + extra).lstrip("&"))]
    if ws.view == EVENTS:
        return [events_editor.build_events_editor(services.store.list_events(), ws.edit,
                                                  settings.timezone, message)]
    sections: list[Component] = []
    if ws.topic:
        sections.append(drill.build_topic_drill(view, ws, reader))
    elif ws.period:
        sections.append(drill.build_period_drill(view, ws, reader))
    elif ws.event:
        sections.append(drill.build_event_drill(snapshot, view, ws, reader,
                                                settings.min_sample))
    else:
        sections.append(_build_hint(view, ws))
    sections.append(compare.build_compare_section(
        snapshot, view, ws.compare, tuple(settings.segment_fields), screen.view_query,
        settings.min_sample, settings.compare_min_responses, screen.theme))
    return sections
