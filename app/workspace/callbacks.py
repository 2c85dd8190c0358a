"""The workspace's callbacks. Clicks and inputs change the state store (the workspace's URL
parameters); one callback renders the body from it and writes the page's URL, so the
browser's address always opens the same view. Saves (follow-ups, events) check the admin on
the server again: a hand-made callback request from anyone else changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from dash import ALL, Dash, Input, Output, State, ctx, no_update
from dash.dependencies import DashDependency
from dash.exceptions import PreventUpdate

from app import live_page
from app.panels.topics import TOPIC_OPEN
from app.scopes import is_admin_request, request_scope
from app.segments import join_values
from app.workspace import events_editor, follow_up_view
from app.workspace.comment_list import FIELD, STEP
from app.workspace.multiples import SEGMENT
from app.workspace.page import (
    ADMINS_ONLY,
    BODY,
    FOCUSED,
    MESSAGE_KEY,
    REFRESH,
    ROOT,
    SCROLLED,
    STATE,
    render,
)
from app.workspace.state import (
    EVENTS,
    apply_step,
    field_values,
    parse_workspace,
    workspace_query,
)

if TYPE_CHECKING:
    from app.services import Services

ScreenQuery = Callable[..., dict[str, str]]


def _clicked() -> bool:
    """Whether the callback runs because something was pressed (not because new buttons
    arrived with a render, which fire with n_clicks 0 or None)."""
    return bool(ctx.triggered and ctx.triggered[0].get("value"))


def _params(state: Any) -> dict[str, str]:
    """The URL parameters in the state store (anything else a hand-made request sends is
    dropped)."""
    if not isinstance(state, dict):
        return {}
    return {k: v for k, v in state.items()
            if isinstance(k, str) and isinstance(v, str) and not k.startswith("_")}


def id_part(entry: Any, key: str) -> Any:
    """``entry["id"][key]`` of a pattern-matching input or state, None when it is not there
    (a hand-made request can send anything)."""
    ident = entry.get("id") if isinstance(entry, dict) else None
    return ident.get(key) if isinstance(ident, dict) else None


def step_from_click(click: Any) -> str | None:
    """The workspace step a click on the trend names: ``event=<id>`` on an event marker,
    ``period=<day>`` on a period's point (None for anything else)."""
    points = click.get("points") if isinstance(click, dict) else None
    if not isinstance(points, list) or not points or not isinstance(points[0], dict):
        return None
    point = points[0]
    custom = point.get("customdata")
    if isinstance(custom, str) and custom.startswith("event:") and custom[6:].isdigit():
        return f"event={custom[6:]}"
    x = point.get("x")
    if isinstance(x, str) and len(x) >= 10:
        return f"period={x[:10]}"
    return None


def field_step(inputs: Sequence[dict], current: dict[str, str]) -> str | None:
    """A step from the workspace's inputs whose value differs from what the URL's workspace
    shows (``state.field_values``); None when none does (they were only just rendered)."""
    changed = []
    for item in inputs:
        name = id_part(item, "name")
        value = item.get("value") if isinstance(item, dict) else None
        value = value if isinstance(value, str) else ""
        if isinstance(name, str) and value.strip() != current.get(name, ""):
            changed.append(urlencode({name: value.strip()}))
    return "&".join(changed) or None


def register_callbacks(dash_app: Dash, services: Services, *, graph_id: str,
                       page_inputs: Sequence[DashDependency], config_id: str,
                       screen_query: ScreenQuery, filter_type: str | None = None,
                       live: tuple[str, str] | None = None) -> None:
    """Wire the workspace into a page whose screen is ``screen_query(config, *inputs)``;
    ``filter_type`` is the pattern type of the page's segment filters (``{"type": ...,
    "field": <name>}``), which a comparison row or small multiple sets; ``live`` the page's
    poll state store and its one-second tick (``live_page``): new data refreshes the body."""
    fields = tuple(services.settings.segment_fields)
    _register_moves(dash_app, fields, graph_id)
    if filter_type:
        _register_segment_filter(dash_app, fields, filter_type)

    @dash_app.callback(Output(BODY, "children"), Output(live_page.URL_ID, "search",
                                                        allow_duplicate=True),
                       Input(STATE, "data"), *page_inputs, State(config_id, "data"),
                       prevent_initial_call=True)
    def on_state(state: Any, *values: Any) -> tuple:
        *inputs, config = values
        if len(ctx.triggered) > 1:  # the page was just inserted, its workspace already drawn
            return no_update, no_update
        query = screen_query(config, *inputs)
        screen = live_page.screen_for(services, query)
        ws = parse_workspace(_params(state), fields)
        message = state.get(MESSAGE_KEY) if isinstance(state, dict) else None
        body = render(services, screen, ws, message if isinstance(message, str) else None)
        full = {**query, **workspace_query(ws)}
        if request_scope() is not None:  # the address says what a link shows, not what it
            for name in fields:         # asked for beyond its scope (a copied link misled)
                full.pop(name, None)
            full.update((name, join_values(v)) for name, v in screen.request.segments)
        return body, (f"?{urlencode(full, safe=',:')}" if full else "")

    # A click (on a panel, a tab, a pager) changes what lies below the grid: bring it into view.
    dash_app.clientside_callback(
        f"""function(_state) {{
            var root = document.getElementById("{ROOT}");
            // Under the sticky header, whose height depends on how its controls wrap.
            var head = document.querySelector(".mgr-header");
            var pinned = head && /sticky|fixed/.test(getComputedStyle(head).position);
            var top = root && root.getBoundingClientRect().top + window.scrollY
                - (pinned ? head.getBoundingClientRect().height : 0) - 16;
            if (root) {{ window.scrollTo({{top: Math.max(top, 0), behavior: "smooth"}}); }}
            return Date.now();
        }}""", Output(SCROLLED, "data"), Input(STATE, "data"), prevent_initial_call=True)
    _register_saves(dash_app, services)
    if live is not None:
        _register_refresh(dash_app, services, live, page_inputs, config_id, screen_query)


# New data (the page's poll state carries a new token for the same screen) marks a refresh;
# it runs at once, or on a later tick while the reader types (a text field other than a URL
# field holding the URL's value has focus) or a menu is open, so nothing typed or chosen is
# lost. The focused element's id and caret are kept and given back after the new body is
# drawn.
REFRESH_JS = """function(state, _tick) {
    var mem = window.__wsLive || (window.__wsLive = {});
    if (state && state.token) {
        if (mem.token && mem.key === state.key && mem.token !== state.token) {
            mem.pending = true;
        }
        mem.key = state.key; mem.token = state.token;
    }
    if (!mem.pending) { return window.dash_clientside.no_update; }
    var body = document.getElementById("%(body)s"), a = document.activeElement;
    mem.focus = null;
    if (body && a && a !== document.body && body.contains(a)) {
        if (body.querySelector('[aria-expanded="true"]')) {
            return window.dash_clientside.no_update;
        }
        if (a.tagName === "INPUT" || a.tagName === "TEXTAREA") {
            // A URL field (the search box) holding what the URL says is done; any other
            // text (an owner, a half-typed search) waits until focus leaves it.
            var name = null;
            try { name = JSON.parse(a.id).name; } catch (e) { name = null; }
            var shown = name ? (new URLSearchParams(location.search).get(name) || "") : null;
            if (shown === null || a.value.trim() !== shown) {
                return window.dash_clientside.no_update;
            }
        }
        var caret = null;
        try { caret = [a.selectionStart, a.selectionEnd]; } catch (e) { caret = null; }
        mem.focus = {id: a.id, caret: caret};
    }
    mem.pending = false;
    return Date.now();
}"""
FOCUS_JS = """function(_children) {
    var mem = window.__wsLive || {}, keep = mem.focus;
    mem.focus = null;
    if (keep && keep.id) {
        var el = document.getElementById(keep.id);
        if (el) {
            el.focus({preventScroll: true});
            if (keep.caret && keep.caret[0] !== null) {
                try { el.setSelectionRange(keep.caret[0], keep.caret[1]); } catch (e) {}
            }
        }
    }
    return window.dash_clientside.no_update;
}"""


def _register_refresh(dash_app: Dash, services: Services, live: tuple[str, str],
                      page_inputs: Sequence[DashDependency], config_id: str,
                      screen_query: ScreenQuery) -> None:
    """Redraw the open view when new data arrives (drill-downs, explorer, follow-ups, the
    comparison) with the same URL state: same page, same filters. The events editor is left
    alone (its form may be open)."""
    poll_state, tick = live
    # Called at load too, so the page's first token is known: the tick no longer fires every
    # second (assets/nps_tv.js bumps it only when something is due), and a token first seen
    # at the first new data would not count as new.
    dash_app.clientside_callback(REFRESH_JS % {"body": BODY}, Output(REFRESH, "data"),
                                 Input(poll_state, "data"), Input(tick, "n_intervals"))
    dash_app.clientside_callback(FOCUS_JS, Output(FOCUSED, "data"), Input(BODY, "children"),
                                 prevent_initial_call=True)
    fields = tuple(services.settings.segment_fields)
    states = [State(dep.component_id, dep.component_property) for dep in page_inputs]

    @dash_app.callback(Output(BODY, "children", allow_duplicate=True), Input(REFRESH, "data"),
                       State(STATE, "data"), *states, State(config_id, "data"),
                       prevent_initial_call=True)
    def on_refresh(_stamp: Any, state: Any, *values: Any) -> Any:
        *inputs, config = values
        ws = parse_workspace(_params(state), fields)
        if ws.view == EVENTS:
            return no_update
        screen = live_page.screen_for(services, screen_query(config, *inputs))
        message = state.get(MESSAGE_KEY) if isinstance(state, dict) else None
        return render(services, screen, ws, message if isinstance(message, str) else None)


def _moved(state: Any, step: str | None, fields: tuple[str, ...]) -> Any:
    """The new state after ``step``, or no_update when nothing changes."""
    if step is None:
        return no_update
    new = apply_step(_params(state), step, fields)
    return new if new != _params(state) else no_update


def _register_moves(dash_app: Dash, fields: tuple[str, ...], graph_id: str) -> None:
    """The callbacks that change the state: step buttons, inputs, panel clicks."""

    @dash_app.callback(Output(STATE, "data", allow_duplicate=True),
                       Input({"type": STEP, "step": ALL}, "n_clicks"), State(STATE, "data"),
                       prevent_initial_call=True)
    def on_step(_clicks: Any, state: Any) -> Any:
        trigger = ctx.triggered_id
        if not _clicked() or not isinstance(trigger, dict):
            return no_update
        return _moved(state, str(trigger.get("step") or ""), fields)

    @dash_app.callback(Output(STATE, "data", allow_duplicate=True),
                       Input({"type": FIELD, "name": ALL}, "value"), State(STATE, "data"),
                       prevent_initial_call=True)
    def on_field(_values: Any, state: Any) -> Any:
        shown = field_values(parse_workspace(_params(state), fields))
        return _moved(state, field_step(ctx.inputs_list[0], shown), fields)

    @dash_app.callback(Output(STATE, "data", allow_duplicate=True),
                       Input({"type": TOPIC_OPEN, "topic": ALL}, "n_clicks"),
                       Input(graph_id, "clickData"), State(STATE, "data"),
                       prevent_initial_call=True)
    def on_panel_click(_topics: Any, click: Any, state: Any) -> Any:
        trigger = ctx.triggered_id
        if isinstance(trigger, dict) and _clicked():
            topic = trigger.get("topic")
            return _moved(state, urlencode({"topic": topic, "view": ""})
                          if isinstance(topic, str) else None, fields)
        if trigger == graph_id:
            step = step_from_click(click)
            return _moved(state, f"{step}&view=" if step else None, fields)
        return no_update


def filtered_values(field: Any, value: Any, names: Sequence[Any], current: Any,
                    fields: tuple[str, ...]) -> list | None:
    """The segment filters' new values when a row or multiple of ``field`` = ``value`` is
    pressed: that field's filter holds the value alone, the others stay as they are
    (``no_update``: a filter set to its own value would still count as changed, and the
    workspace's render skips a change of several inputs at once). None when the request
    names no such field or sends values of the wrong shape."""
    if field not in fields or field not in names or not isinstance(value, str) or not value \
            or not isinstance(current, list) or len(current) != len(names):
        return None
    return [[value] if name == field else no_update for name in names]


def _register_segment_filter(dash_app: Dash, fields: tuple[str, ...], filter_type: str) -> None:
    @dash_app.callback(Output({"type": filter_type, "field": ALL}, "value",
                              allow_duplicate=True),
                       Input({"type": SEGMENT, "field": ALL, "value": ALL, "place": ALL},
                             "n_clicks"),
                       State({"type": filter_type, "field": ALL}, "value"),
                       prevent_initial_call=True)
    def on_segment(_clicks: Any, current: Any) -> Any:
        trigger = ctx.triggered_id
        if not _clicked() or not isinstance(trigger, dict):
            raise PreventUpdate  # a bare no_update for a wildcard output is a 500 in Dash 4
        names = [id_part(item, "field") for item in ctx.states_list[0]]
        new = filtered_values(trigger.get("field"), trigger.get("value"), names, current,
                              fields)
        if new is None:
            raise PreventUpdate
        return new


def _register_saves(dash_app: Dash, services: Services) -> None:
    @dash_app.callback(Output(follow_up_view.MESSAGE, "children"),
                       Input({"type": follow_up_view.STATUS, "id": ALL}, "value"),
                       Input({"type": follow_up_view.OWNER, "id": ALL}, "value"),
                       prevent_initial_call=True)
    def on_follow_up(statuses: Any, owners: Any) -> Any:
        trigger = ctx.triggered_id
        # A person changes one field at a time; a render fires them all (nothing to save).
        if not isinstance(trigger, dict) or len(ctx.triggered) != 1:
            return no_update
        if not is_admin_request():
            return ADMINS_ONLY
        rid = trigger.get("id")
        ids = [id_part(item, "id") for item in ctx.inputs_list[0]]
        if rid not in ids or not isinstance(statuses, list) or not isinstance(owners, list) \
                or len(statuses) != len(ids) or len(owners) != len(ids):
            return "Not saved: no such follow-up"
        row = ids.index(rid)
        return follow_up_view.save_follow_up(services.store, rid, statuses[row], owners[row])

    @dash_app.callback(Output(STATE, "data", allow_duplicate=True),
                       Input({"type": events_editor.ACT, "act": ALL, "id": ALL}, "n_clicks"),
                       State({"type": events_editor.FORM, "name": ALL}, "value"),
                       State(STATE, "data"), prevent_initial_call=True)
    def on_event(_clicks: Any, form: Any, state: Any) -> Any:
        trigger = ctx.triggered_id
        if not _clicked() or not isinstance(trigger, dict):
            return no_update
        params = _params(state)
        if not is_admin_request():
            return {**params, MESSAGE_KEY: ADMINS_ONLY}
        if trigger.get("act") == "remove":
            return {**params, MESSAGE_KEY: events_editor.remove_event(services.store,
                                                                      trigger.get("id"))}
        names = [id_part(item, "name") for item in ctx.states_list[0]]
        values = dict(zip(names, form if isinstance(form, list) else [], strict=False))
        target = trigger.get("id")
        saved, message = events_editor.save_event(
            services.store, services.settings, values,
            target if isinstance(target, int) and 0 < target < 2**62 else None)
        if saved:
            params.pop("edit", None)
        return {**params, MESSAGE_KEY: message}
